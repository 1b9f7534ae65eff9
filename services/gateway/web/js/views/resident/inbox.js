// The alerts sent to a member, newest first, a page at a time.
import { api } from "../../api.js";
import { add, crimeTypeName, h, messageBadge, time } from "../../ui.js";

const PAGE_SIZE = 20;

export async function inbox(main, { params }) {
  const offset = Number(params.get("offset") || 0);
  const alerts = await api("/dispatch/inbox", { query: { limit: PAGE_SIZE, offset } });
  add(main, h("h1", {}, "My alerts"));
  if (alerts.length === 0 && offset === 0) {
    add(
      main,
      h(
        "p",
        {},
        "No alerts yet. Alerts sent to the areas you watch appear here, as well as by email.",
      ),
      h("p", {}, h("a", { href: "#/areas" }, "Choose the areas you watch")),
    );
    return;
  }
  add(
    main,
    h(
      "ul",
      { class: "plain-list", "aria-label": "Alerts, newest first" },
      alerts.map((alert) =>
        h(
          "li",
          { class: "card" },
          h(
            "h2",
            {},
            messageBadge(alert),
            h("a", { href: `#/inbox/${alert.alert_id}` }, alert.headline),
          ),
          h(
            "p",
            { class: "meta" },
            time(alert.sent_at),
            ` · ${crimeTypeName(alert.category)} · ${alert.severity} · from ${alert.sender_name}`,
          ),
        ),
      ),
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      offset > 0
        ? h("a", { href: `#/inbox?offset=${Math.max(0, offset - PAGE_SIZE)}` }, "Newer alerts")
        : h("span"),
      alerts.length === PAGE_SIZE
        ? h("a", { href: `#/inbox?offset=${offset + PAGE_SIZE}` }, "Older alerts")
        : h("span"),
    ),
  );
}
