// The alerts, newest first, filtered by state, with delivery and usefulness figures for the
// newest published ones.
import { api } from "../../api.js";
import { add, crimeTypeName, field, h, select, time } from "../../ui.js";

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

export async function alertList(main, { params }) {
  const state = params.get("status") || "";
  const alerts = await api("/alerts/alerts", {
    query: { limit: 50, status: state, msg_type: "Alert" },
  });
  const filter = select("status", STATES, state);
  const filterForm = h(
    "form",
    { class: "actions" },
    field("Show", filter),
    h("div", {}, h("button", { type: "submit", class: "secondary" }, "Filter")),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = filter.value ? `#/police?status=${filter.value}` : "#/police";
  });
  add(
    main,
    h("h1", {}, "Alerts"),
    h("p", {}, h("a", { class: "button", href: "#/police/new" }, "Write an alert")),
    filterForm,
  );
  if (alerts.length === 0) {
    add(main, h("p", {}, "No alerts."));
    return;
  }
  // Figures for the newest published alerts only: two requests per row add up quickly.
  const withFigures = new Set(
    alerts
      .filter((a) => a.published_at)
      .slice(0, FIGURE_ROWS)
      .map((a) => a.id),
  );
  const figures = new Map(
    await Promise.all(
      [...withFigures].map(async (alertId) => {
        const [summary, stats] = await Promise.all([
          api("/dispatch/deliveries/summary", { query: { alert_id: alertId } }),
          api(`/alerts/alerts/${alertId}/stats`),
        ]);
        return [
          alertId,
          {
            reached: String(summary.total),
            useful: `${stats.useful} of ${stats.useful + stats.not_useful}; ${stats.replies} replies`,
          },
        ];
      }),
    ),
  );
  const rows = alerts.map((alert) => {
    const figure = figures.get(alert.id) || { reached: "-", useful: "-" };
    return h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/police/alerts/${alert.id}` }, alert.headline)),
      h(
        "td",
        {},
        alert.status,
        alert.targeting && alert.targeting.status === "failed"
          ? h("span", { class: "badge error" }, " targeting failed")
          : null,
      ),
      h("td", {}, crimeTypeName(alert.crime_type)),
      h("td", {}, alert.area_desc),
      h("td", {}, time(alert.created_at)),
      h("td", {}, figure.reached),
      h("td", {}, figure.useful),
    );
  });
  add(
    main,
    h(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Alerts table" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, "Alerts, newest first"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [
              "Headline",
              "State",
              "Crime type",
              "Area",
              "Written",
              "Deliveries",
              "Useful; replies",
            ].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        h("tbody", {}, rows),
      ),
    ),
  );
}
