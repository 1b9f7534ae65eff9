// One alert in a member's inbox: its text, where it was sent (on the map, from its CAP
// message), how it reached them, and their mark or reply.
import { api, canReply, currentSession } from "../../api.js";
import { createMap } from "../../map.js";
import { targetFromCap } from "../../target.js";
import {
  add,
  crimeTypeName,
  field,
  h,
  messageBadge,
  onSubmit,
  showError,
  showNotice,
  time,
} from "../../ui.js";

export async function inboxAlert(main, { id }) {
  const alert = await api(`/dispatch/inbox/${id}`);
  const details = [
    ["What to do", alert.instruction],
    ["How to respond", alert.contact],
  ].filter(([, value]) => value);
  const feedback = h("div");
  const mapElement = h("div", { class: "map small" });
  add(
    main,
    h("p", {}, h("a", { href: "#/inbox" }, "Back to my alerts")),
    h("h1", {}, messageBadge(alert), alert.headline),
    h(
      "p",
      { class: "meta" },
      "Sent ",
      time(alert.sent_at),
      ` by ${alert.sender_name} · ${crimeTypeName(alert.category)} · ${alert.severity}`,
    ),
    h(
      "div",
      { class: "split" },
      h(
        "div",
        {},
        h("p", { class: "body-text" }, alert.body),
        details.map(([title, value]) => [
          h("h2", {}, title),
          h("p", { class: "body-text" }, value),
        ]),
        alert.web
          ? h("p", {}, h("a", { href: alert.web, rel: "noopener" }, "More information"))
          : null,
      ),
      h("div", {}, h("h2", {}, "Where it was sent"), mapElement),
    ),
    h(
      "p",
      { class: "meta" },
      "It reached you by ",
      alert.deliveries.map((d) => `${d.channel} (${d.status})`).join(", "),
      ".",
    ),
    feedback,
  );
  renderFeedback(feedback, alert);
  try {
    const [cap, handle] = await Promise.all([
      api(`/alerts/alerts/${alert.references || alert.alert_id}/cap`),
      createMap(mapElement, { label: "Map of where the alert was sent" }),
    ]);
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
    showNotice(
      messages,
      useful ? "Thank you: marked as useful." : "Thank you: marked as not useful.",
    );
  };
  const text = h("textarea", { name: "text", required: true, maxlength: "2000" });
  const form = h(
    "form",
    { novalidate: true },
    field(
      "Reply to the police",
      text,
      "Only your pseudonym is shown with it. Do not use it to report a crime: call 999 or 101.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send reply")),
  );
  onSubmit(form, messages, async (data) => {
    await api(`/alerts/alerts/${alertId}/replies`, {
      method: "POST",
      body: { text: data.get("text") },
    });
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
  add(
    container,
    h("h2", {}, "Was this useful?"),
    h(
      "div",
      { class: "actions" },
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => mark(true).catch((e) => showError(messages, e)),
        },
        "Yes, useful",
      ),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => mark(false).catch((e) => showError(messages, e)),
        },
        "Not useful",
      ),
    ),
    messages,
    replyPart,
  );
}
