// Police and partners: write an alert with a live audience count and channel previews, the
// approval workflow, the list of alerts with delivery figures, and members' replies.
import { api, currentSession } from "./api.js";
import { createMap } from "./map.js";
import { wardSearch } from "./wardsearch.js";
import {
  CRIME_TYPES,
  add,
  SEVERITIES,
  announce,
  checkbox,
  crimeTypeName,
  debounce,
  field,
  h,
  onSubmit,
  select,
  showError,
  showNotice,
  time,
} from "./ui.js";

const URGENCIES = [
  ["Immediate", "Immediate: act now"],
  ["Expected", "Expected: within the hour"],
  ["Future", "Future"],
  ["Past", "Past: for information"],
];
const STATES = [
  ["", "Every state"],
  ["draft", "Draft"],
  ["submitted", "Submitted"],
  ["approved", "Approved"],
  ["scheduled", "Scheduled"],
  ["published", "Published"],
  ["updated", "Updated"],
  ["cancelled", "Cancelled"],
  ["resolved", "Resolved"],
  ["expired", "Expired"],
];

const FIGURE_ROWS = 5;
// Replies are read per alert: the newest this many.
const REPLY_ALERTS = 10;

// --- list ----------------------------------------------------------------------------------

export async function alertList(main, { params }) {
  const state = params.get("status") || "";
  const alerts = await api("/alerts/alerts", { query: { limit: 50, status: state, msg_type: "Alert" } });
  const filter = select("status", STATES, state);
  const filterForm = h("form", { class: "actions" }, field("Show", filter), h("div", {}, h("button", { type: "submit", class: "secondary" }, "Filter")));
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = filter.value ? `#/police?status=${filter.value}` : "#/police";
  });
  add(main,
    h("h1", {}, "Alerts"),
    h("p", {}, h("a", { class: "button", href: "#/police/new" }, "Write an alert")),
    filterForm,
  );
  if (alerts.length === 0) {
    add(main, h("p", {}, "No alerts."));
    return;
  }
  // Figures for the newest published alerts only: two requests per row add up quickly.
  const withFigures = new Set(alerts.filter((a) => a.published_at).slice(0, FIGURE_ROWS).map((a) => a.id));
  const figures = new Map(
    await Promise.all(
      [...withFigures].map(async (alertId) => {
        const [summary, stats] = await Promise.all([
          api("/dispatch/deliveries/summary", { query: { alert_id: alertId } }),
          api(`/alerts/alerts/${alertId}/stats`),
        ]);
        return [alertId, { reached: String(summary.total), useful: `${stats.useful} of ${stats.useful + stats.not_useful}; ${stats.replies} replies` }];
      }),
    ),
  );
  const rows = alerts.map((alert) => {
    const figure = figures.get(alert.id) || { reached: "-", useful: "-" };
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/police/alerts/${alert.id}` }, alert.headline)),
      h("td", {}, alert.status, alert.targeting && alert.targeting.status === "failed" ? h("span", { class: "badge error" }, " targeting failed") : null),
      h("td", {}, crimeTypeName(alert.crime_type)),
      h("td", {}, alert.area_desc),
      h("td", {}, time(alert.created_at)),
      h("td", {}, figure.reached),
      h("td", {}, figure.useful),
    );
  });
  add(main,
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Alerts table" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Alerts, newest first"),
        h("thead", {}, h("tr", {}, ["Headline", "State", "Crime type", "Area", "Written", "Deliveries", "Useful; replies"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

// --- compose -------------------------------------------------------------------------------

// The targeting contract's limits (shared/targeting.py), as the gateway passes them on.
async function targetingLimits() {
  const response = await fetch("/app/settings.json");
  return (await response.json()).targeting;
}

export async function compose(main) {
  const limits = await targetingLimits();
  const messages = h("div");
  const mapElement = h("div", { id: "compose-map" });
  const audience = h("p", { class: "audience", "aria-live": "polite", id: "audience" }, "Choose a target to see who it will reach.");
  const previews = h("div", { "aria-live": "polite" });
  const targetList = h("ul", { class: "chips", "aria-label": "Chosen areas" });
  const target = { wards: new Map(), circles: [] };
  let handle = null;

  const crimeType = select("crime_type", CRIME_TYPES, "burglary");
  const severity = select("severity", SEVERITIES, "Moderate");
  const urgency = select("urgency", URGENCIES, "Expected");
  const headline = h("input", { type: "text", name: "headline", required: true, maxlength: "140" });
  const body = h("textarea", { name: "body", required: true, maxlength: "5000" });
  const instruction = h("textarea", { name: "instruction", maxlength: "2000" });
  const contact = h("input", { type: "text", name: "contact", maxlength: "200" });
  const channelChecks = [
    ["email", "Email"],
    ["sms", "Text message (SMS)"],
    ["push", "Push notification"],
  ].map(([value, text]) => checkbox(text, { name: "channels", value, checked: value === "email" ? true : undefined }));
  const circleRadius = h("input", { type: "number", name: "radius_km", min: String(limits.min_circle_radius_km), max: String(limits.max_circle_radius_km), step: "0.1", value: "1" });
  const drawMode = checkbox("Draw a circle: click the map for its centre", { name: "draw_circle" });
  const confirmed = checkbox("This alert names no victim and gives no detail that could identify one", { name: "no_victim", required: true });

  const form = h(
    "form",
    { novalidate: true },
    h("fieldset", {}, h("legend", {}, "What happened"), field("Crime type", crimeType), field("Severity", severity), field("Urgency", urgency), field("Headline", headline, "One line; it is the email subject and push title."), field("What residents should know", body), field("What to do (optional)", instruction), field("How to respond (optional)", contact, "For example: call 101 quoting CAD 1234")),
    h("fieldset", {}, h("legend", {}, "Channels"), h("div", { class: "checks" }, channelChecks)),
    h("fieldset", {}, h("legend", {}, "Who it goes to"), h("p", { class: "hint" }, "Click wards on the map to add or remove them, or draw a circle."), wardSearch({ label: "Add a ward by name", onChoose: (ward) => { if (!target.wards.has(ward.code)) toggleWard(ward); } }), drawMode, field("Circle radius in kilometres", circleRadius, `From ${limits.min_circle_radius_km} to ${limits.max_circle_radius_km}; the centre in Greater London.`), targetList),
    confirmed,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save as draft")),
  );

  const payload = () => {
    const data = new FormData(form);
    const result = {
      crime_type: data.get("crime_type"),
      severity: data.get("severity"),
      urgency: data.get("urgency"),
      headline: data.get("headline").trim(),
      body: data.get("body").trim(),
      channels: data.getAll("channels"),
      target_ward_codes: [...target.wards.keys()],
      target_circles: target.circles.map((c) => ({ lat: c.lat, lon: c.lon, radius_km: c.radiusKm })),
      no_victim_details_confirmed: data.get("no_victim") ? true : undefined,
    };
    if (data.get("instruction").trim()) result.instruction = data.get("instruction").trim();
    if (data.get("contact").trim()) result.contact = data.get("contact").trim();
    return result;
  };

  const renderTarget = () => {
    targetList.replaceChildren(
      ...[...target.wards.entries()].map(([code, name]) =>
        h("li", {}, name, h("button", { type: "button", class: "secondary", "aria-label": `Remove ${name}`, onclick: () => toggleWard({ code, name }) }, "×")),
      ),
      ...target.circles.map((circle, index) =>
        h(
          "li",
          {},
          `${circle.radiusKm} km round ${circle.lat.toFixed(4)}, ${circle.lon.toFixed(4)}`,
          h("button", { type: "button", class: "secondary", "aria-label": "Remove the circle", onclick: () => { target.circles.splice(index, 1); changed(); } }, "×"),
        ),
      ),
    );
    if (handle) {
      handle.paintWards(Object.fromEntries([...target.wards.keys()].map((code) => [code, "selected"])));
      handle.clearShapes();
      for (const circle of target.circles) handle.addCircle(circle.lat, circle.lon, circle.radiusKm * 1000);
    }
  };

  const updateAudience = debounce(async () => {
    const data = payload();
    if (data.target_ward_codes.length === 0 && data.target_circles.length === 0) {
      audience.textContent = "Choose a target to see who it will reach.";
      return;
    }
    try {
      const preview = await api("/geo/audience/preview", {
        method: "POST",
        body: {
          target: { ward_codes: data.target_ward_codes, circles: data.target_circles.map((c) => ({ lat: c.lat, lon: c.lon, radius_m: c.radius_km * 1000 })) },
          category: data.crime_type,
          severity: data.severity,
        },
      });
      audience.textContent = `This alert will reach ${preview.recipients.toLocaleString("en-GB")} ${preview.recipients === 1 ? "person" : "people"}.`;
    } catch (error) {
      // The preview checks the target as publishing will: its problems name the field.
      const why = error.problem && error.problem.field ? error.problem.detail : error.message;
      audience.textContent = `The audience could not be counted: ${why}`;
    }
  }, 300);

  const updatePreviews = debounce(async () => {
    const data = payload();
    // The preview API checks the whole draft, its target included.
    const targeted = data.target_ward_codes.length > 0 || data.target_circles.length > 0;
    if (!data.headline || !data.body || data.channels.length === 0 || !targeted) {
      previews.replaceChildren(h("p", { class: "hint" }, "Write a headline and text and choose who it goes to, to see how it looks on each channel."));
      return;
    }
    try {
      const preview = await api("/alerts/alerts/preview", { method: "POST", body: { ...data, no_victim_details_confirmed: true } });
      const parts = [];
      if (preview.email) parts.push(h("h3", {}, "Email subject"), h("p", { class: "preview" }, preview.email.subject));
      if (preview.sms) parts.push(h("h3", {}, `Text message: ${preview.sms.segments} ${preview.sms.segments === 1 ? "part" : "parts"} (${preview.sms.encoding})`), h("p", { class: "preview" }, preview.sms.text));
      if (preview.push) parts.push(h("h3", {}, "Push notification"), h("p", { class: "preview" }, `${preview.push.title}\n${preview.push.body}`));
      previews.replaceChildren(...parts);
    } catch (error) {
      previews.replaceChildren(h("p", { class: "hint" }, `No preview yet: ${error.message}`));
    }
  }, 400);

  const changed = () => {
    renderTarget();
    updateAudience();
    updatePreviews();
  };

  const toggleWard = (ward) => {
    if (target.wards.has(ward.code)) {
      target.wards.delete(ward.code);
      announce(`${ward.name} removed`);
    } else {
      target.wards.set(ward.code, ward.name);
      announce(`${ward.name} added`);
    }
    changed();
  };

  form.addEventListener("input", debounce(() => { updateAudience(); updatePreviews(); }, 200));
  onSubmit(form, messages, async () => {
    const data = payload();
    if (!data.no_victim_details_confirmed) throw new Error("Confirm that the alert names no victim.");
    if (data.target_ward_codes.length === 0 && data.target_circles.length === 0) throw new Error("Choose who it goes to: click wards on the map or draw a circle.");
    if (data.target_circles.length === 0) delete data.target_circles;
    const alert = await api("/alerts/alerts", { method: "POST", body: data });
    location.hash = `#/police/alerts/${alert.id}`;
  });

  add(main,
    h("h1", {}, "Write an alert"),
    messages,
    h("div", { class: "split" }, form, h("div", {}, h("h2", {}, "Who it reaches"), audience, mapElement, h("h2", {}, "How it looks"), previews)),
  );
  updatePreviews();
  handle = await createMap(mapElement, {
    label: "Map: click wards to target them",
    onWardClick: (ward, latlng) => {
      if (drawMode.querySelector("input").checked) addCircle(latlng);
      else toggleWard(ward);
    },
    onMapClick: (latlng) => {
      if (drawMode.querySelector("input").checked) addCircle(latlng);
    },
  });
  const addCircle = (latlng) => {
    target.circles.push({ lat: latlng.lat, lon: latlng.lng, radiusKm: Number(circleRadius.value) || 1 });
    announce("Circle added");
    changed();
  };
}

// --- one alert -----------------------------------------------------------------------------

// What geo reported on resolving the alert's target: who it reached, and any part it could
// not use (the rest went out), with a retry once the cause is fixed.
function targetingSection(alert, { mayRetry, retry }) {
  const report = alert.targeting;
  if (!report || report.status === "not_sent") return null;
  if (report.status === "waiting") return h("p", { class: "hint", id: "targeting" }, "Finding who it reaches…");
  if (report.status === "resolved") return h("p", { id: "targeting" }, `Sent to everyone its target reaches: ${report.recipients} ${report.recipients === 1 ? "person" : "people"}.`);
  return h(
    "div",
    { class: "error-summary", role: "alert", id: "targeting" },
    h("p", { class: "error" }, `Part of the target could not be used; it went to the rest (${report.recipients} ${report.recipients === 1 ? "person" : "people"}).`),
    h("ul", {}, report.failures.map((failure) => h("li", {}, failure.detail))),
    mayRetry ? h("div", { class: "actions" }, h("button", { type: "button", onclick: retry }, "Retry the target")) : null,
  );
}

function bars(title, counts) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
  return h(
    "figure",
    {},
    h("figcaption", {}, title),
    Object.entries(counts).map(([name, count]) => {
      const fill = h("div", { class: "bar-fill" });
      fill.style.width = `${(100 * count) / total}%`;
      return h("div", { class: "bar" }, h("span", { class: "bar-label" }, name), h("div", { class: "bar-track", "aria-hidden": "true" }, fill), h("span", {}, String(count)));
    }),
  );
}

// Received CAP without a Tawny crime type got a derived one ("other" when nothing fitted): an
// officer corrects it before approval, which is when it still can change.
function crimeTypeCorrection(alert, isOfficer, messages, saved) {
  if (!alert.crime_type_derived || !isOfficer || !["draft", "submitted"].includes(alert.status)) return null;
  const known = CRIME_TYPES.some(([code]) => code === alert.crime_type);
  const options = known ? CRIME_TYPES : [["", "Choose a crime type"], ...CRIME_TYPES];
  const choice = select("crime_type", options, known ? alert.crime_type : "");
  choice.required = true;
  const form = h("form", { novalidate: true, id: "crime-type-correction" },
    h("h2", {}, "Check the crime type"),
    field("Crime type", choice, `Derived from the CAP message it came in as (${crimeTypeName(alert.crime_type)}): correct it before approval.`),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save crime type")),
  );
  onSubmit(form, messages, async (data) => {
    await api(`/alerts/alerts/${alert.id}/crime-type`, { method: "PUT", body: { crime_type: data.get("crime_type") } });
    await saved();
  });
  return form;
}

export async function alertDetail(main, { id, isOfficer }) {
  const alert = await api(`/alerts/alerts/${id}`);
  const me = currentSession().memberId;
  const isAuthor = alert.author_id === me;
  const messages = h("div");
  const act = async (path, body, sentNote) => {
    const result = await api(`/alerts/alerts/${id}/${path}`, { method: "POST", body });
    // An Update of an Extreme or cross-borough alert is held (a message of its own, submitted)
    // until another officer approves it: it has not gone out yet.
    const held = result.id !== id && result.status === "submitted";
    const note = held ? "Held: it goes out once another officer approves it." : sentNote;
    announce(note);
    location.hash = `#/police/alerts/${result.references && result.id !== id ? result.references : id}`;
    if (result.id === id || result.references === id) {
      main.replaceChildren();
      await alertDetail(main, { id, isOfficer });
      const box = main.querySelector(".messages");
      showNotice(box, note);
      if (held) add(box, h("p", {}, h("a", { href: `#/police/alerts/${result.id}` }, "The held message, to approve")));
    }
  };
  const button = (text, path, note, extra = {}) =>
    h("button", { type: "button", ...extra, onclick: () => act(path, undefined, note).catch((e) => showError(messages, e)) }, text);

  const actions = [];
  if (alert.status === "draft" && isAuthor) actions.push(button("Submit for approval", "submit", "Submitted for approval."));
  if (alert.status === "submitted" && isOfficer && !isAuthor) actions.push(button("Approve", "approve", "Approved."));
  if (["draft", "approved"].includes(alert.status) && isOfficer) actions.push(button("Publish now", "publish", "Published: it is on its way."));

  const followUps = [];
  if (["published", "updated"].includes(alert.status) && isOfficer && alert.msg_type === "Alert") {
    const updateText = h("textarea", { name: "instruction", required: true, maxlength: "2000" });
    const updateForm = h("form", { novalidate: true }, h("h2", {}, "Send an update"), field("New advice", updateText), h("div", { class: "actions" }, h("button", { type: "submit" }, "Send update")));
    onSubmit(updateForm, messages, (data) => act("updates", { instruction: data.get("instruction"), no_victim_details_confirmed: true }, "Update sent."));
    const outcome = h("textarea", { name: "body", required: true, maxlength: "5000" });
    const resolveForm = h("form", { novalidate: true }, h("h2", {}, "Resolve: tell everyone how it ended"), field("Outcome", outcome, "For example: a suspect has been arrested. Thank you."), h("div", { class: "actions" }, h("button", { type: "submit" }, "Resolve")));
    onSubmit(resolveForm, messages, (data) => act("resolve", { body: data.get("body"), no_victim_details_confirmed: true }, "Resolved."));
    const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
    const cancelForm = h("form", { novalidate: true }, h("h2", {}, "Cancel the alert"), field("Why (sent to everyone who received it)", reason), h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Cancel alert")));
    onSubmit(cancelForm, messages, (data) => act("cancel", { reason: data.get("reason") }, "Cancelled."));
    followUps.push(updateForm, resolveForm, cancelForm);
  }

  const figures = h("div");
  const repliesBox = h("div");
  const targeting = targetingSection(alert, { mayRetry: isOfficer || isAuthor, retry: () => act("retry-targeting", undefined, "Retry asked: geo resolves the whole target again.").catch((e) => showError(messages, e)) });
  const target = [
    alert.target_ward_codes.length ? `${alert.target_ward_codes.length} ward(s)` : null,
    alert.target_borough_codes.length ? `${alert.target_borough_codes.length} borough(s)` : null,
    alert.target_circles.length ? `${alert.target_circles.length} circle(s)` : null,
  ].filter(Boolean);
  add(main,
    h("p", {}, h("a", { href: "#/police" }, "Back to alerts")),
    h("h1", {}, alert.headline),
    h("div", { class: "messages" }),
    h("p", { class: "meta" }, h("span", { class: "badge", id: "alert-state" }, alert.status), ` ${alert.msg_type} · ${crimeTypeName(alert.crime_type)} · ${alert.severity} · ${alert.urgency} · by ${alert.author_pseudonym} · written `, time(alert.created_at)),
    alert.msg_type !== "Alert" && alert.status === "submitted"
      ? h("p", { class: "meta" }, "This ", alert.msg_type.toLowerCase(), " goes out once another officer approves it. ", h("a", { href: `#/police/alerts/${alert.references}` }, "The original alert"))
      : null,
    h("p", { class: "body-text" }, alert.body),
    alert.instruction ? h("p", { class: "body-text" }, h("strong", {}, "What to do: "), alert.instruction) : null,
    h("p", {}, `Area: ${alert.area_desc} (${target.join(", ")}); channels: ${alert.channels.join(", ")}`),
    messages,
    actions.length ? h("div", { class: "actions" }, actions) : null,
    targeting,
    alert.status === "submitted" && isAuthor ? h("p", { class: "hint" }, "Another officer must approve it: you cannot approve your own alert.") : null,
    crimeTypeCorrection(alert, isOfficer, messages, async () => {
      main.replaceChildren();
      await alertDetail(main, { id, isOfficer });
      showNotice(main.querySelector(".messages"), "Crime type saved.");
      announce("Crime type saved.");
    }),
    figures,
    followUps,
    repliesBox,
  );
  if (alert.published_at) {
    const [summary, stats] = await Promise.all([
      api("/dispatch/deliveries/summary", { query: { alert_id: id } }),
      api(`/alerts/alerts/${id}/stats`),
    ]);
    const statuses = {};
    for (const perChannel of Object.values(summary.channels)) {
      for (const [status, count] of Object.entries(perChannel)) statuses[status] = (statuses[status] || 0) + count;
    }
    add(figures,
      h("h2", {}, "How it went"),
      h("p", {}, `${summary.total} deliveries; ${stats.useful} found it useful, ${stats.not_useful} did not; ${stats.replies} replies (${stats.replies_answered} answered).`),
      summary.total ? bars("Deliveries by status", statuses) : null,
    );
    await renderReplies(repliesBox, id);
  }
}

async function renderReplies(container, alertId) {
  const replies = await api(`/alerts/alerts/${alertId}/replies`);
  container.replaceChildren(h("h2", {}, `Replies (${replies.length})`), replies.length === 0 ? h("p", {}, "No replies yet.") : replyList(replies, () => renderReplies(container, alertId)));
}

function replyList(replies, reload, withAlert) {
  return h(
    "ul",
    { class: "plain-list" },
    replies.map((reply) => {
      const messages = h("div");
      const answer = h("textarea", { name: "text", required: true, maxlength: "2000" });
      const form = h("form", { novalidate: true }, field(`Answer ${reply.member_pseudonym}`, answer), h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Send answer")));
      onSubmit(form, messages, async (data) => {
        await api(`/alerts/alerts/${reply.alert_id}/replies/${reply.id}/answer`, { method: "POST", body: { text: data.get("text") } });
        await reload();
      });
      return h(
        "li",
        { class: "card" },
        h("h3", {}, reply.member_pseudonym),
        withAlert ? h("p", { class: "meta" }, "About ", h("a", { href: `#/police/alerts/${reply.alert_id}` }, withAlert.get(reply.alert_id))) : null,
        h("p", { class: "meta" }, time(reply.created_at)),
        h("p", { class: "body-text" }, reply.text),
        reply.answer ? h("p", {}, h("strong", {}, `Answered by ${reply.answered_by_pseudonym}: `), reply.answer) : [messages, form],
      );
    }),
  );
}

// --- replies inbox -------------------------------------------------------------------------

export async function replies(main) {
  add(main, h("h1", {}, "Replies"), h("p", {}, `Members' replies to the ${REPLY_ALERTS} latest published alerts, newest first. Members are shown by pseudonym only.`));
  const box = h("div");
  add(main, box);
  const load = async () => {
    const alerts = await api("/alerts/alerts", { query: { limit: 50, msg_type: "Alert" } });
    const published = alerts.filter((a) => a.published_at).slice(0, REPLY_ALERTS);
    const headlines = new Map(published.map((a) => [a.id, a.headline]));
    const all = (await Promise.all(published.map((a) => api(`/alerts/alerts/${a.id}/replies`)))).flat();
    all.sort((a, b) => b.created_at.localeCompare(a.created_at));
    box.replaceChildren(all.length === 0 ? h("p", {}, "No replies yet.") : replyList(all, load, headlines));
  };
  await load();
}
