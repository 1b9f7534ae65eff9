// Residents: sign up, verify, sign in, watched areas, inbox, an alert, and the account.
import { canReply, levelName } from "./address.js";
import { api, currentSession, isStaff, saveSession } from "./api.js";
import { createMap } from "./map.js";
import { targetFromCap } from "./target.js";
import { wardSearch } from "./wardsearch.js";
import {
  CRIME_TYPES,
  add,
  SEVERITIES,
  announce,
  checkbox,
  crimeTypeName,
  field,
  h,
  onSubmit,
  select,
  showError,
  showNotice,
  time,
} from "./ui.js";

// --- signing up and in ---------------------------------------------------------------------

export function signIn(main, { params }) {
  const messages = h("div");
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, maxlength: "254" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, maxlength: "128" });
  const code = h("input", { type: "text", name: "totp_code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6" });
  const form = h(
    "form",
    { novalidate: true },
    field("Email address", email),
    field("Password", password),
    field("Authenticator code (police and partners with two-step sign-in)", code, "Leave empty if you have not set it up."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
  );
  onSubmit(form, messages, async (data) => {
    const body = { email: data.get("email"), password: data.get("password") };
    if (data.get("totp_code")) body.totp_code = data.get("totp_code");
    const tokens = await api("/identity/tokens", { method: "POST", body });
    const session = saveSession(tokens, body.email);
    const next = params.get("next");
    if (session.twoFactorEnrolmentRequired) location.hash = "#/account";
    else location.hash = next ? `#/${next}` : isStaff(session) ? "#/police" : "#/inbox";
  });
  add(main,
    h("h1", {}, "Sign in"),
    messages,
    form,
    h("p", {}, "New to Tawny? ", h("a", { href: "#/sign-up" }, "Sign up"), ". ", h("a", { href: "#/forgot-password" }, "Forgotten your password?")),
  );
}

export function signUp(main) {
  const messages = h("div");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: "254" });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "10", maxlength: "128" });
  const form = h(
    "form",
    { novalidate: true },
    field("Email address", email, "We send alerts here. Other members never see it."),
    field("Choose a password", password, "At least 10 characters. A few unrelated words work well."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign up")),
  );
  onSubmit(form, messages, async (data) => {
    await api("/identity/members", { method: "POST", body: { email: data.get("email"), password: data.get("password") } });
    form.remove();
    showNotice(
      messages,
      `Nearly there: we have sent a link to ${data.get("email")}. Open it to confirm your address, then sign in.`,
    );
    add(messages, h("p", {}, h("a", { href: "#/sign-in" }, "Sign in"), " · ", h("a", { href: "#/verify" }, "Paste the link here instead")));
    announce("Check your email for a link.");
  });
  add(main, h("h1", {}, "Sign up"), h("p", {}, "Members are verified but stay anonymous: other members only see a pseudonym."), messages, form);
}

function tokenFrom(text) {
  const trimmed = text.trim();
  const match = /email-verifications\/([^/?#\s]+)/.exec(trimmed);
  return match ? match[1] : trimmed;
}

export async function verifyEmail(main, { params }) {
  const messages = h("div");
  const link = h("input", { type: "text", name: "link", required: true, maxlength: "2000", autocomplete: "off" });
  const form = h(
    "form",
    { novalidate: true },
    field("The link or code from the email", link),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Confirm my address")),
  );
  const confirm = async (token) => {
    await api("/identity/email-verifications", { method: "POST", body: { token } });
    form.remove();
    showNotice(messages, "Thank you: your email address is confirmed.");
    add(messages, h("p", {}, h("a", { class: "button", href: "#/sign-in" }, "Sign in")));
  };
  onSubmit(form, messages, (data) => confirm(tokenFrom(data.get("link"))));
  add(main, h("h1", {}, "Confirm your email address"), h("p", {}, "Open the link in the email we sent you, or paste it here."), messages, form);
  if (params.get("token")) {
    try {
      await confirm(params.get("token"));
    } catch (error) {
      showError(messages, error);
    }
  }
}

export function forgotPassword(main) {
  const messages = h("div");
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true, maxlength: "254" });
  const form = h("form", { novalidate: true }, field("Email address", email), h("div", { class: "actions" }, h("button", { type: "submit" }, "Send me a link")));
  onSubmit(form, messages, async (data) => {
    const answer = await api("/identity/password-resets", { method: "POST", body: { email: data.get("email") } });
    form.remove();
    showNotice(messages, answer.detail);
  });
  add(main, h("h1", {}, "Forgotten password"), messages, form);
}

export function resetPassword(main, hashParams) {
  const messages = h("div");
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "10", maxlength: "128" });
  const form = h("form", { novalidate: true }, field("New password", password, "At least 10 characters."), h("div", { class: "actions" }, h("button", { type: "submit" }, "Change my password")));
  onSubmit(form, messages, async (data) => {
    await api("/identity/password-resets/confirmation", { method: "POST", body: { token: hashParams.get("token") || "", password: data.get("password") } });
    form.remove();
    showNotice(messages, "Your password is changed.");
    add(messages, h("p", {}, h("a", { class: "button", href: "/app#/sign-in" }, "Sign in")));
  });
  add(main, h("h1", {}, "Choose a new password"), messages, form);
}

// --- watched areas -------------------------------------------------------------------------

const RADII = [
  ["250", "250 metres"],
  ["500", "500 metres"],
  ["1000", "1 kilometre"],
  ["2000", "2 kilometres"],
  ["5000", "5 kilometres"],
];

function describeSubscription(sub) {
  if (sub.kind === "circle" && sub.circle) {
    return `Within ${sub.circle.radius_m >= 1000 ? `${sub.circle.radius_m / 1000} km` : `${sub.circle.radius_m} m`} of ${sub.circle.lat.toFixed(4)}, ${sub.circle.lon.toFixed(4)}`;
  }
  if (sub.kind === "polygon") return "A drawn area";
  const ward = sub.ward_name || sub.ward_code;
  return sub.kind === "neighbours" ? `${ward} and its neighbouring wards` : ward;
}

export async function areas(main) {
  add(main, h("h1", {}, "Areas I watch"), h("p", {}, "Choose wards or a circle round a place. You get the alerts sent to any area you watch, once each."));
  const messages = h("div");
  const mapElement = h("div", { id: "areas-map" });
  const list = h("div", { "aria-live": "polite" });
  const chosen = h("p", { id: "chosen-area", "aria-live": "polite" }, "No area chosen yet.");
  const state = { ward: null, centre: null };

  const kindRadios = [
    ["ward", "One ward"],
    ["neighbours", "A ward and its neighbouring wards"],
    ["circle", "A circle round a place"],
  ].map(([value, text], index) => checkbox(text, { type: "radio", name: "kind", value, checked: index === 0 ? true : undefined }));

  const wardSection = wardSearch({ label: "Find a ward by name", hint: "Or click a ward on the map.", onChoose: (ward) => chooseWard(ward) });
  const postcode = h("input", { type: "text", name: "postcode", maxlength: "10", autocomplete: "postal-code" });
  const radius = select("radius_m", RADII, "1000");
  const circleSection = h(
    "div",
    { hidden: true },
    field("Postcode of the place", postcode, "Or click the place on the map."),
    h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", onclick: () => findPostcode() }, "Find")),
    field("How far round it", radius),
  );
  const categoryChecks = CRIME_TYPES.map(([value, text]) => checkbox(text, { name: "categories", value, checked: true }));
  const severity = select("min_severity", SEVERITIES, "Minor");
  const label = h("input", { type: "text", name: "label", maxlength: "80" });
  const form = h(
    "form",
    { novalidate: true },
    h("fieldset", {}, h("legend", {}, "What to watch"), kindRadios),
    wardSection,
    circleSection,
    chosen,
    h("fieldset", {}, h("legend", {}, "Kinds of alert"), h("div", { class: "checks" }, categoryChecks)),
    field("Only alerts at least this serious", severity),
    field("A name for it (optional)", label, "For example: Round Mum's"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Watch this area")),
  );

  const kind = () => form.querySelector("input[name=kind]:checked").value;
  const showChosen = () => {
    if (kind() === "circle") {
      chosen.textContent = state.centre
        ? `Chosen: within ${radius.selectedOptions[0].textContent} of ${state.centre.lat.toFixed(4)}, ${state.centre.lon.toFixed(4)}`
        : "Chosen: no place yet.";
    } else {
      chosen.textContent = state.ward ? `Chosen: ${state.ward.name} (${state.ward.code})` : "No ward chosen yet.";
    }
    drawChoice();
  };

  let handle = null;
  let subscriptions = [];
  const drawChoice = () => {
    if (!handle) return;
    const states = {};
    handle.clearShapes();
    for (const sub of subscriptions) {
      if (sub.ward_code) states[sub.ward_code] = "watched";
      if (sub.circle) handle.addCircle(sub.circle.lat, sub.circle.lon, sub.circle.radius_m, "watched");
      if (sub.polygon) handle.addPolygon(sub.polygon.coordinates, "watched");
    }
    if (kind() !== "circle" && state.ward) states[state.ward.code] = "selected";
    if (kind() === "circle" && state.centre) handle.addCircle(state.centre.lat, state.centre.lon, Number(radius.value));
    handle.paintWards(states);
  };

  const chooseWard = (ward) => {
    state.ward = { code: ward.code, name: ward.name };
    showChosen();
    announce(`${ward.name} chosen`);
  };

  async function findPostcode() {
    messages.replaceChildren();
    try {
      const place = await api(`/geo/lookup/postcodes/${encodeURIComponent(postcode.value.trim())}`);
      state.centre = { lat: place.lat, lon: place.lon };
      showChosen();
      handle?.focusOn([], [[place.lat, place.lon]]);
    } catch (error) {
      showError(messages, error);
    }
  }

  postcode.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      findPostcode();
    }
  });

  form.addEventListener("change", (event) => {
    if (event.target.name === "kind") {
      const circle = kind() === "circle";
      circleSection.hidden = !circle;
      wardSection.hidden = circle;
    }
    showChosen();
  });

  onSubmit(form, messages, async (data) => {
    const body = { kind: kind(), min_severity: data.get("min_severity") };
    const categories = data.getAll("categories");
    if (categories.length === 0) throw new Error("Choose at least one kind of alert.");
    if (categories.length < CRIME_TYPES.length) body.categories = categories;
    if (data.get("label")) body.label = data.get("label");
    if (body.kind === "circle") {
      if (!state.centre) throw new Error("Choose a place: enter a postcode or click the map.");
      body.circle = { lat: state.centre.lat, lon: state.centre.lon, radius_m: Number(data.get("radius_m")) };
    } else {
      if (!state.ward) throw new Error("Choose a ward: search for it or click it on the map.");
      body.ward_code = state.ward.code;
    }
    await api("/geo/subscriptions", { method: "POST", body });
    showNotice(messages, `You now watch ${body.kind === "circle" ? "a circle round the place" : state.ward.name}.`);
    state.ward = null;
    state.centre = null;
    await refresh();
    showChosen();
  });

  async function refresh() {
    subscriptions = await api("/geo/subscriptions");
    list.replaceChildren();
    add(
      list,
      h("h2", {}, `Watching ${subscriptions.length} ${subscriptions.length === 1 ? "area" : "areas"}`),
      subscriptions.length === 0 ? h("p", {}, "Nothing yet: choose an area below.") : null,
      h(
        "ul",
        { class: "plain-list" },
        subscriptions.map((sub) =>
          h(
            "li",
            { class: "card" },
            h("h3", {}, sub.label || describeSubscription(sub)),
            sub.label ? h("p", {}, describeSubscription(sub)) : null,
            h(
              "p",
              { class: "meta" },
              sub.categories ? sub.categories.map(crimeTypeName).join(", ") : "Every kind of alert",
              `; ${sub.min_severity} and above`,
            ),
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                onclick: async () => {
                  await api(`/geo/subscriptions/${sub.id}`, { method: "DELETE" });
                  announce("Stopped watching it");
                  await refresh();
                },
              },
              "Stop watching",
              h("span", { class: "visually-hidden" }, ` ${sub.label || describeSubscription(sub)}`),
            ),
          ),
        ),
      ),
    );
    drawChoice();
  }

  add(main,
    h("div", { class: "split" }, h("div", {}, mapElement), h("div", {}, list)),
    h("h2", {}, "Watch another area"),
    messages,
    form,
  );
  await refresh();
  handle = await createMap(mapElement, {
    label: "Map: click a ward to choose it, or click a place for a circle",
    onWardClick: (ward, latlng) => {
      if (kind() === "circle") {
        state.centre = { lat: latlng.lat, lon: latlng.lng };
        showChosen();
      } else {
        chooseWard(ward);
      }
    },
    onMapClick: (latlng) => {
      if (kind() === "circle") {
        state.centre = { lat: latlng.lat, lon: latlng.lng };
        showChosen();
      }
    },
  });
  drawChoice();
  handle.focusOn(subscriptions.filter((sub) => sub.ward_code).map((sub) => sub.ward_code));
}

// --- inbox ---------------------------------------------------------------------------------

const PAGE_SIZE = 20;

function messageBadge(alert) {
  if (alert.msg_type === "Cancel") return h("span", { class: "badge" }, "Cancelled");
  if (alert.msg_type === "Update") return h("span", { class: "badge" }, "Update");
  return null;
}

export async function inbox(main, { params }) {
  const offset = Number(params.get("offset") || 0);
  const alerts = await api("/dispatch/inbox", { query: { limit: PAGE_SIZE, offset } });
  add(main, h("h1", {}, "My alerts"));
  if (alerts.length === 0 && offset === 0) {
    add(main,
      h("p", {}, "No alerts yet. Alerts sent to the areas you watch appear here, as well as by email."),
      h("p", {}, h("a", { href: "#/areas" }, "Choose the areas you watch")),
    );
    return;
  }
  add(main,
    h(
      "ul",
      { class: "plain-list", "aria-label": "Alerts, newest first" },
      alerts.map((alert) =>
        h(
          "li",
          { class: "card" },
          h("h2", {}, messageBadge(alert), h("a", { href: `#/inbox/${alert.alert_id}` }, alert.headline)),
          h("p", { class: "meta" }, time(alert.sent_at), ` · ${crimeTypeName(alert.category)} · ${alert.severity} · from ${alert.sender_name}`),
        ),
      ),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      offset > 0 ? h("a", { href: `#/inbox?offset=${Math.max(0, offset - PAGE_SIZE)}` }, "Newer alerts") : h("span"),
      alerts.length === PAGE_SIZE ? h("a", { href: `#/inbox?offset=${offset + PAGE_SIZE}` }, "Older alerts") : h("span"),
    ),
  );
}

export async function inboxAlert(main, { id }) {
  const alert = await api(`/dispatch/inbox/${id}`);
  const details = [
    ["What to do", alert.instruction],
    ["How to respond", alert.contact],
  ].filter(([, value]) => value);
  const feedback = h("div");
  const mapElement = h("div", { class: "map small" });
  add(main,
    h("p", {}, h("a", { href: "#/inbox" }, "Back to my alerts")),
    h("h1", {}, messageBadge(alert), alert.headline),
    h("p", { class: "meta" }, "Sent ", time(alert.sent_at), ` by ${alert.sender_name} · ${crimeTypeName(alert.category)} · ${alert.severity}`),
    h("div", { class: "split" }, h("div", {}, h("p", { class: "body-text" }, alert.body), details.map(([title, value]) => [h("h2", {}, title), h("p", { class: "body-text" }, value)]), alert.web ? h("p", {}, h("a", { href: alert.web, rel: "noopener" }, "More information")) : null), h("div", {}, h("h2", {}, "Where it was sent"), mapElement)),
    h("p", { class: "meta" }, "It reached you by ", alert.deliveries.map((d) => `${d.channel} (${d.status})`).join(", "), "."),
    feedback,
  );
  renderFeedback(feedback, alert);
  try {
    const [cap, handle] = await Promise.all([api(`/alerts/alerts/${alert.references || alert.alert_id}/cap`), createMap(mapElement, { label: "Map of where the alert was sent" })]);
    const target = targetFromCap(cap);
    const codes = new Set(target.wardCodes);
    const states = {};
    for (const code of codes) states[code] = "selected";
    handle.paintWards(states);
    for (const circle of target.circles) handle.addCircle(circle.lat, circle.lon, circle.radiusM);
    for (const polygon of target.polygons) handle.addPolygon(polygon);
    handle.focusOn([...codes]);
  } catch (error) {
    mapElement.replaceWith(h("p", {}, `The map is not available: ${error.message}`));
  }
}

function renderFeedback(container, alert) {
  const alertId = alert.references || alert.alert_id;
  const messages = h("div");
  const mark = async (useful) => {
    await api(`/alerts/alerts/${alertId}/usefulness`, { method: "PUT", body: { useful } });
    showNotice(messages, useful ? "Thank you: marked as useful." : "Thank you: marked as not useful.");
  };
  const text = h("textarea", { name: "text", required: true, maxlength: "2000" });
  const form = h(
    "form",
    { novalidate: true },
    field("Reply to the police", text, "Only your pseudonym is shown with it. Do not use it to report a crime: call 999 or 101."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send reply")),
  );
  onSubmit(form, messages, async (data) => {
    await api(`/alerts/alerts/${alertId}/replies`, { method: "POST", body: { text: data.get("text") } });
    form.reset();
    showNotice(messages, "Your reply was sent.");
  });
  const replyPart = canReply(currentSession()?.verificationLevel)
    ? form
    : h(
        "p",
        { id: "reply-needs-address" },
        "Replies to the police are open to members whose address is verified. ",
        h("a", { href: "#/address" }, "Verify your address"),
        ".",
      );
  add(container,
    h("h2", {}, "Was this useful?"),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => mark(true).catch((e) => showError(messages, e)) }, "Yes, useful"),
      h("button", { type: "button", class: "secondary", onclick: () => mark(false).catch((e) => showError(messages, e)) }, "Not useful"),
    ),
    messages,
    replyPart,
  );
}

// --- account -------------------------------------------------------------------------------

export async function account(main) {
  const [me, endpoints] = await Promise.all([api("/identity/members/me"), api("/dispatch/endpoints/me")]);
  const messages = h("div");
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, maxlength: "128" });
  const eraseForm = h(
    "form",
    { novalidate: true },
    field("Your password, to confirm", password),
    checkbox("Leave the text of my replies to alerts for the police, with no name or pseudonym (photos are deleted)", { name: "keep_reply_text" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, "Delete my account")),
  );
  onSubmit(eraseForm, messages, async (data) => {
    await api("/identity/members/me/erasure", {
      method: "POST",
      body: { password: data.get("password"), keep_reply_text: data.get("keep_reply_text") === "on" },
    });
    sessionStorage.clear();
    location.hash = "#/";
    announce("Your account is deleted.");
  });
  const exportButton = h("button", { type: "button", class: "secondary" }, "Download my data");
  const exportLink = h("p");
  exportButton.addEventListener("click", async () => {
    try {
      exportLink.replaceChildren("Collecting your data from every part of Tawny…");
      const data = await collectExport();
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      const link = h("a", { href: URL.createObjectURL(blob), download: "tawny-my-data.json" }, "Save tawny-my-data.json");
      exportLink.replaceChildren(link);
      link.focus();
    } catch (error) {
      showError(messages, error);
    }
  });
  const twoStep = currentSession()?.twoFactorEnrolmentRequired ? twoStepEnrolment() : null;
  add(main,
    h("h1", {}, "My account"),
    h(
      "dl",
      {},
      h("dt", {}, "Pseudonym (what other members see)"),
      h("dd", {}, me.pseudonym),
      h("dt", {}, "Email address"),
      h("dd", {}, currentSession()?.email || "", me.email_verified ? " (confirmed)" : " (not confirmed yet)"),
      h("dt", {}, "Verification"),
      h("dd", {}, levelName(me.verification_level), " · ", h("a", { href: "#/address" }, canReply(me.verification_level) ? "What it allows" : "Verify my address")),
    ),
    twoStep,
    h("h2", {}, "Where alerts reach me"),
    h("p", {}, h("a", { href: "#/preferences" }, "Channels, quiet hours and browser notifications")),
    endpoints.length === 0
      ? h("p", {}, "Nowhere yet: confirm your email address first.")
      : h(
          "ul",
          {},
          endpoints.map((e) => h("li", {}, `${e.channel}: ${e.address}`, e.enabled ? "" : " (turned off: messages could not be delivered)")),
        ),
    h("h2", {}, "My data"),
    h("p", {}, "Download everything Tawny holds about you, as one JSON file: your account, the areas you watch, where alerts reach you and what was sent, your replies and marks."),
    exportButton,
    exportLink,
    h("h2", {}, "Delete my account"),
    h("p", {}, "This deletes your account, the areas you watch and where we reach you. It cannot be undone."),
    messages,
    eraseForm,
  );
}

// Identity answers with its part and an export id; alerts, geo and dispatch each collect
// theirs from identity's event a moment later: one archive holds the four.
const EXPORT_PARTS = ["alerts", "geo", "dispatch"];

async function collectExport() {
  const identity = await api("/identity/members/me/export");
  const archive = { export_id: identity.export_id, generated_at: identity.generated_at, identity };
  const missing = [];
  for (const service of EXPORT_PARTS) {
    let part = null;
    // 202 {"status": "collecting"} until the service has its part.
    for (let attempt = 0; attempt < 30 && part === null; attempt += 1) {
      const answer = await api(`/${service}/members/me/exports/${identity.export_id}`);
      if (answer && answer.status === "collecting") await new Promise((resolve) => setTimeout(resolve, 500));
      else part = answer;
    }
    if (part === null) missing.push(service);
    else archive[service] = part;
  }
  if (missing.length) archive.missing = missing;
  return archive;
}

// Staff roles (police, partners, coordinators) need two-step sign-in: until it is set up, the
// token carries the resident's roles only.
function twoStepEnrolment() {
  const messages = h("div");
  const section = h(
    "section",
    { "aria-labelledby": "two-step-heading" },
    h("h2", { id: "two-step-heading" }, "Set up two-step sign-in"),
    h("p", {}, "Your police or partner roles need two-step sign-in: a six-digit code from an authenticator app each time you sign in. Until then you have a resident's pages only."),
    messages,
  );
  const start = h("button", { type: "button" }, "Set up two-step sign-in");
  start.addEventListener("click", async () => {
    try {
      const enrolment = await api("/identity/members/me/totp", { method: "POST" });
      start.remove();
      const code = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true });
      const form = h(
        "form",
        { novalidate: true },
        h("p", {}, "Add this key to your authenticator app (or open the link on your phone):"),
        h("p", {}, h("code", { id: "totp-secret" }, enrolment.secret)),
        h("p", {}, h("a", { href: enrolment.otpauth_uri }, "Open in an authenticator app")),
        field("The six-digit code the app shows", code),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Confirm")),
      );
      onSubmit(form, messages, async (data) => {
        const answer = await api("/identity/members/me/totp/confirmation", { method: "POST", body: { code: data.get("code") } });
        form.remove();
        showNotice(messages, "Two-step sign-in is set up. Keep these recovery codes somewhere safe: each works once if you lose your phone. Then sign out and sign in again with a code.");
        add(messages, h("ul", { "aria-label": "Recovery codes" }, answer.recovery_codes.map((c) => h("li", {}, h("code", {}, c)))));
      });
      add(section, form);
      code.focus();
    } catch (error) {
      showError(messages, error);
    }
  });
  add(section, start);
  return section;
}
