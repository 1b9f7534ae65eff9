// One alert for police and partners: the approval workflow (submit, approve, publish), its
// targeting report, follow-ups (update, resolve, cancel), how it went, and its replies.
import { api, currentSession } from "../../api.js";
import { replyList } from "../../replylist.js";
import {
  CRIME_TYPES,
  add,
  announce,
  crimeTypeName,
  field,
  h,
  onSubmit,
  select,
  showError,
  showNotice,
  time,
} from "../../ui.js";

// What geo reported on resolving the alert's target: who it reached, and any part it could
// not use (the rest went out), with a retry once the cause is fixed.
function targetingSection(alert, { mayRetry, retry }) {
  const report = alert.targeting;
  if (!report || report.status === "not_sent") return null;
  if (report.status === "waiting")
    return h("p", { class: "hint", id: "targeting" }, "Finding who it reaches…");
  if (report.status === "resolved")
    return h(
      "p",
      { id: "targeting" },
      `Sent to everyone its target reaches: ${report.recipients} ${report.recipients === 1 ? "person" : "people"}.`,
    );
  return h(
    "div",
    { class: "error-summary", role: "alert", id: "targeting" },
    h(
      "p",
      { class: "error" },
      `Part of the target could not be used; it went to the rest (${report.recipients} ${report.recipients === 1 ? "person" : "people"}).`,
    ),
    h(
      "ul",
      {},
      report.failures.map((failure) => h("li", {}, failure.detail)),
    ),
    mayRetry
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: retry }, "Retry the target"),
        )
      : null,
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
      return h(
        "div",
        { class: "bar" },
        h("span", { class: "bar-label" }, name),
        h("div", { class: "bar-track", "aria-hidden": "true" }, fill),
        h("span", {}, String(count)),
      );
    }),
  );
}

// Received CAP without a Tawny crime type got a derived one ("other" when nothing fitted): an
// officer corrects it before approval, which is when it still can change.
function crimeTypeCorrection(alert, isOfficer, messages, saved) {
  if (!alert.crime_type_derived || !isOfficer || !["draft", "submitted"].includes(alert.status))
    return null;
  const known = CRIME_TYPES.some(([code]) => code === alert.crime_type);
  const options = known ? CRIME_TYPES : [["", "Choose a crime type"], ...CRIME_TYPES];
  const choice = select("crime_type", options, known ? alert.crime_type : "");
  choice.required = true;
  const form = h(
    "form",
    { novalidate: true, id: "crime-type-correction" },
    h("h2", {}, "Check the crime type"),
    field(
      "Crime type",
      choice,
      `Derived from the CAP message it came in as (${crimeTypeName(alert.crime_type)}): correct it before approval.`,
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save crime type")),
  );
  onSubmit(form, messages, async (data) => {
    await api(`/alerts/alerts/${alert.id}/crime-type`, {
      method: "PUT",
      body: { crime_type: data.get("crime_type") },
    });
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
      if (held)
        add(
          box,
          h(
            "p",
            {},
            h("a", { href: `#/police/alerts/${result.id}` }, "The held message, to approve"),
          ),
        );
    }
  };
  const button = (text, path, note, extra = {}) =>
    h(
      "button",
      {
        type: "button",
        ...extra,
        onclick: () => act(path, undefined, note).catch((e) => showError(messages, e)),
      },
      text,
    );

  const actions = [];
  if (alert.status === "draft" && isAuthor)
    actions.push(button("Submit for approval", "submit", "Submitted for approval."));
  if (alert.status === "submitted" && isOfficer && !isAuthor)
    actions.push(button("Approve", "approve", "Approved."));
  if (["draft", "approved"].includes(alert.status) && isOfficer)
    actions.push(button("Publish now", "publish", "Published: it is on its way."));

  const followUps = [];
  if (["published", "updated"].includes(alert.status) && isOfficer && alert.msg_type === "Alert") {
    const updateText = h("textarea", { name: "instruction", required: true, maxlength: "2000" });
    const updateForm = h(
      "form",
      { novalidate: true },
      h("h2", {}, "Send an update"),
      field("New advice", updateText),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Send update")),
    );
    onSubmit(updateForm, messages, (data) =>
      act(
        "updates",
        { instruction: data.get("instruction"), no_victim_details_confirmed: true },
        "Update sent.",
      ),
    );
    const outcome = h("textarea", { name: "body", required: true, maxlength: "5000" });
    const resolveForm = h(
      "form",
      { novalidate: true },
      h("h2", {}, "Resolve: tell everyone how it ended"),
      field("Outcome", outcome, "For example: a suspect has been arrested. Thank you."),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Resolve")),
    );
    onSubmit(resolveForm, messages, (data) =>
      act("resolve", { body: data.get("body"), no_victim_details_confirmed: true }, "Resolved."),
    );
    const reason = h("textarea", { name: "reason", required: true, maxlength: "2000" });
    const cancelForm = h(
      "form",
      { novalidate: true },
      h("h2", {}, "Cancel the alert"),
      field("Why (sent to everyone who received it)", reason),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "danger" }, "Cancel alert"),
      ),
    );
    onSubmit(cancelForm, messages, (data) =>
      act("cancel", { reason: data.get("reason") }, "Cancelled."),
    );
    followUps.push(updateForm, resolveForm, cancelForm);
  }

  const figures = h("div");
  const repliesBox = h("div");
  const targeting = targetingSection(alert, {
    mayRetry: isOfficer || isAuthor,
    retry: () =>
      act("retry-targeting", undefined, "Retry asked: geo resolves the whole target again.").catch(
        (e) => showError(messages, e),
      ),
  });
  const target = [
    alert.target_ward_codes.length ? `${alert.target_ward_codes.length} ward(s)` : null,
    alert.target_borough_codes.length ? `${alert.target_borough_codes.length} borough(s)` : null,
    alert.target_circles.length ? `${alert.target_circles.length} circle(s)` : null,
  ].filter(Boolean);
  add(
    main,
    h("p", {}, h("a", { href: "#/police" }, "Back to alerts")),
    h("h1", {}, alert.headline),
    h("div", { class: "messages" }),
    h(
      "p",
      { class: "meta" },
      h("span", { class: "badge", id: "alert-state" }, alert.status),
      ` ${alert.msg_type} · ${crimeTypeName(alert.crime_type)} · ${alert.severity} · ${alert.urgency} · by ${alert.author_pseudonym} · written `,
      time(alert.created_at),
    ),
    alert.msg_type !== "Alert" && alert.status === "submitted"
      ? h(
          "p",
          { class: "meta" },
          "This ",
          alert.msg_type.toLowerCase(),
          " goes out once another officer approves it. ",
          h("a", { href: `#/police/alerts/${alert.references}` }, "The original alert"),
        )
      : null,
    h("p", { class: "body-text" }, alert.body),
    alert.instruction
      ? h("p", { class: "body-text" }, h("strong", {}, "What to do: "), alert.instruction)
      : null,
    h(
      "p",
      {},
      `Area: ${alert.area_desc} (${target.join(", ")}); channels: ${alert.channels.join(", ")}`,
    ),
    messages,
    actions.length ? h("div", { class: "actions" }, actions) : null,
    targeting,
    alert.status === "submitted" && isAuthor
      ? h(
          "p",
          { class: "hint" },
          "Another officer must approve it: you cannot approve your own alert.",
        )
      : null,
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
      for (const [status, count] of Object.entries(perChannel))
        statuses[status] = (statuses[status] || 0) + count;
    }
    add(
      figures,
      h("h2", {}, "How it went"),
      h(
        "p",
        {},
        `${summary.total} deliveries; ${stats.useful} found it useful, ${stats.not_useful} did not; ${stats.replies} replies (${stats.replies_answered} answered).`,
      ),
      summary.total ? bars("Deliveries by status", statuses) : null,
    );
    await renderReplies(repliesBox, id);
  }
}

async function renderReplies(container, alertId) {
  const replies = await api(`/alerts/alerts/${alertId}/replies`);
  container.replaceChildren(
    h("h2", {}, `Replies (${replies.length})`),
    replies.length === 0
      ? h("p", {}, "No replies yet.")
      : replyList(replies, () => renderReplies(container, alertId)),
  );
}
