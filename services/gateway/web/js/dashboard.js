// The public crime-alert dashboard (no sign-in): London's boroughs shaded by a chosen measure,
// a borough's page with its wards, month-by-month charts per crime type, two boroughs side by
// side, and the MOPAC 7 together. Every chart has its table. Counts from 1 to 9 arrive as null
// ("fewer than 10"); a signed-in officer's token brings their own boroughs' exact counts.
import * as L from "/vendor/leaflet/leaflet-src.esm.js";
import { api } from "./api.js";
import { add, crimeTypeName, field, h, select } from "./ui.js";

const MONTHS_SHOWN = 12;
const MOPAC_7 = [
  "burglary",
  "criminal_damage",
  "theft_from_motor_vehicle",
  "theft_of_motor_vehicle",
  "violence_with_injury",
  "robbery",
  "theft_from_person",
];
const MEASURES = [
  ["alerts", "Alerts published"],
  ["reached_email", "People reached by email"],
  ["reached_sms", "People reached by text message"],
  ["reached_push", "People reached by app notification"],
  ["marked_useful", "Marked useful"],
  ["marked_not_useful", "Marked not useful"],
  ["replies", "Replies"],
  ["cancelled", "Alerts cancelled"],
];
// Counted by geo, now rather than per month: only the London map offers it as a measure.
const WATCHING = "members_watching";
const WATCHING_NAME = "Members watching now";
// Five steps of the brand's brown, light to dark (each passes 3:1 against the next border).
const SHADES = ["#f6efe6", "#e3c9a5", "#c99a5b", "#9a6a2c", "#5c3a0e"];
const SUPPRESSED_SHADE = "#bdbdbd";
const NO_DATA_SHADE = "#ffffff";
const FEWER = "fewer than 10";

const geoCache = new Map();
function geojson(layer) {
  if (!geoCache.has(layer)) {
    geoCache.set(
      layer,
      fetch(`/api/geo/map/${layer}.geojson`, {
        headers: { accept: "application/geo+json, application/json" },
      }).then((r) => {
        if (!r.ok) throw new Error(`Could not load the map (${r.status}).`);
        return r.json();
      }),
    );
  }
  return geoCache.get(layer);
}

function monthText(date) {
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}`;
}

// The last MONTHS_SHOWN months, oldest first, as YYYY-MM (the browser's month, as London's).
function recentMonths() {
  const now = new Date();
  const months = [];
  for (let back = MONTHS_SHOWN - 1; back >= 0; back -= 1) {
    months.push(monthText(new Date(now.getFullYear(), now.getMonth() - back, 1)));
  }
  return months;
}

function monthName(month) {
  const [year, number] = month.split("-").map(Number);
  return new Date(year, number - 1, 1).toLocaleDateString("en-GB", {
    month: "short",
    year: "numeric",
  });
}

function measureName(measure) {
  if (measure === WATCHING) return WATCHING_NAME;
  return (MEASURES.find(([code]) => code === measure) || [measure, measure])[1];
}

function shown(value) {
  return value === null || value === undefined ? FEWER : value.toLocaleString("en-GB");
}

async function figures(query) {
  return api("/alerts/dashboard/figures", { query });
}

// Distinct members watching London's boroughs, or a borough's wards, now (geo's counts).
async function watchers(boroughCode) {
  return api(boroughCode ? `/geo/dashboard/watchers/${boroughCode}` : "/geo/dashboard/watchers");
}

function chosen(params, name, allowed, fallback) {
  const value = params.get(name);
  return allowed.includes(value) ? value : fallback;
}

// A bar chart with its table: labels down the side, one bar per series; a null value is drawn
// as a hatched stub and written "fewer than 10". The bars are hidden from screen readers,
// which read the table.
function chart({ title, labels, series }) {
  const max = Math.max(1, ...series.flatMap((s) => s.values.map((v) => v || 0)));
  const bars = h("div", { class: "dash-chart", "aria-hidden": "true" });
  labels.forEach((label, i) => {
    const row = h(
      "div",
      { class: "dash-chart-row" },
      h("span", { class: "dash-chart-label" }, label),
    );
    const group = h("div", { class: "dash-chart-bars" });
    series.forEach((s, k) => {
      const value = s.values[i];
      const fill = h("span", {
        class: `dash-bar dash-series-${k}${value === null ? " dash-suppressed" : ""}`,
      });
      fill.style.width = value === null ? "0.6rem" : `${(100 * (value || 0)) / max}%`;
      group.append(
        h(
          "div",
          { class: "dash-bar-line" },
          fill,
          h("span", { class: "dash-bar-value" }, shown(value)),
        ),
      );
    });
    row.append(group);
    bars.append(row);
  });
  const key =
    series.length > 1
      ? h(
          "ul",
          { class: "dash-key", "aria-hidden": "true" },
          series.map((s, k) =>
            h("li", {}, h("span", { class: `dash-swatch dash-series-${k}` }), s.name),
          ),
        )
      : null;
  const table = h(
    "table",
    {},
    h("caption", {}, title),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Month"),
        series.map((s) => h("th", { scope: "col" }, s.name)),
      ),
    ),
    h(
      "tbody",
      {},
      labels.map((label, i) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, label),
          series.map((s) => h("td", {}, shown(s.values[i]))),
        ),
      ),
    ),
  );
  return h(
    "figure",
    { class: "dash-figure" },
    h("figcaption", {}, title),
    key,
    bars,
    h(
      "details",
      {},
      h("summary", {}, "Table of these figures"),
      h("div", { class: "table-wrap" }, table),
    ),
  );
}

function valuesByMonth(rows, months, crimeType, measure, areaCode) {
  const found = new Map(
    rows
      .filter((r) => r.crime_type === crimeType && (!areaCode || r.area_code === areaCode))
      .map((r) => [r.month, r[measure]]),
  );
  return months.map((m) => (found.has(m) ? found.get(m) : 0));
}

function intro(main, title) {
  add(
    main,
    h(
      "p",
      { class: "dash-breadcrumbs" },
      h("a", { href: "#/dashboard" }, "London crime alerts dashboard"),
    ),
    h("h1", {}, title),
  );
}

function suppressionNote(answer) {
  const exact =
    answer.exact_for === "london"
      ? "You are signed in as MOPAC or platform staff: every count is exact."
      : answer.exact_for === "own_boroughs"
        ? "You are signed in as an officer: your boroughs' counts are exact."
        : `Counts from 1 to ${answer.suppress_below - 1} are shown as "fewer than ${answer.suppress_below}" so that nobody can be singled out.`;
  return h("p", { class: "hint" }, exact);
}

function controls(params, path, extra = [], measures = MEASURES) {
  const months = recentMonths();
  const month = chosen(params, "month", months, months[months.length - 1]);
  const measure = chosen(
    params,
    "measure",
    measures.map(([m]) => m),
    "alerts",
  );
  const monthSelect = select(
    "month",
    months
      .slice()
      .reverse()
      .map((m) => [m, monthName(m)]),
    month,
  );
  const measureSelect = select("measure", measures, measure);
  const form = h(
    "form",
    { class: "dash-controls", "aria-label": "Choose what to show" },
    field("Month", monthSelect),
    field("Measure", measureSelect),
    extra,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams(params);
    for (const control of form.querySelectorAll("select")) next.set(control.name, control.value);
    location.hash = `#/${path}?${next}`;
  });
  return { form, month, measure, months };
}

// The shading: the lowest count shown gets the lightest step and the largest the darkest, in
// five equal steps between. The public never see 1 to 9, so their scale starts at 10.
function scaleFor(values, lowest) {
  const max = Math.max(lowest, ...values.filter((v) => typeof v === "number"));
  return { lowest, max, span: max - lowest };
}

function stepOf(value, scale) {
  if (scale.span === 0) return SHADES.length - 1;
  return Math.min(
    SHADES.length - 1,
    Math.max(0, Math.round(((value - scale.lowest) * (SHADES.length - 1)) / scale.span)),
  );
}

function shadeOf(value, scale) {
  if (value === null) return SUPPRESSED_SHADE;
  if (value === undefined || value === 0) return NO_DATA_SHADE;
  return SHADES[stepOf(value, scale)];
}

// Each step's range of counts (the inverse of stepOf's rounding); empty steps left out.
function legend(scale, measure) {
  const items = [[NO_DATA_SHADE, "none"]];
  const last = SHADES.length - 1;
  SHADES.forEach((colour, i) => {
    let low = scale.lowest;
    let high = scale.max;
    if (scale.span > 0) {
      low = i === 0 ? scale.lowest : scale.lowest + Math.ceil(((i - 0.5) * scale.span) / last);
      high = i === last ? scale.max : scale.lowest + Math.ceil(((i + 0.5) * scale.span) / last) - 1;
    } else if (i !== last) {
      return;
    }
    if (low <= high) items.push([colour, low === high ? `${low}` : `${low} to ${high}`]);
  });
  items.push([SUPPRESSED_SHADE, FEWER]);
  return h(
    "div",
    { class: "dash-legend" },
    h("p", { class: "dash-legend-title" }, measureName(measure)),
    h(
      "ul",
      {},
      items.map(([colour, text]) => {
        const swatch = h("span", { class: "dash-swatch" });
        swatch.style.background = colour;
        return h("li", {}, swatch, text);
      }),
    ),
  );
}

async function boroughNames() {
  const boroughs = await geojson("boroughs");
  return new Map(boroughs.features.map((f) => [f.properties.code, f.properties.name]));
}

// #/dashboard: London's boroughs on the map, the MOPAC 7 together, and two boroughs compared.
export async function london(main, { params }) {
  intro(main, "London crime alerts dashboard");
  add(
    main,
    h(
      "p",
      {},
      "What Tawny alerted Londoners about, month by month: alerts by borough, ward and crime type, " +
        "how many people they reached and whether they found them useful.",
    ),
  );
  const crimeTypes = [["all", "All crime types"], ...MOPAC_7.map((c) => [c, crimeTypeName(c)])];
  const crimeSelect = select(
    "crime_type",
    crimeTypes,
    chosen(
      params,
      "crime_type",
      crimeTypes.map(([c]) => c),
      "all",
    ),
  );
  const {
    form,
    month,
    measure: picked,
    months,
  } = controls(params, "dashboard", field("Crime type", crimeSelect), [
    ...MEASURES,
    [WATCHING, WATCHING_NAME],
  ]);
  const crimeType = crimeSelect.value;
  add(main, form);
  const watching = picked === WATCHING;
  // Members watching has no months: the charts and the links keep to the alerts' measures.
  const measure = watching ? "alerts" : picked;

  const [boroughRows, londonRows, names, shapes, watched] = await Promise.all([
    figures({ from: month, area_kind: "borough", crime_type: crimeType }),
    figures({ from: months[0], to: months[months.length - 1], area_kind: "london" }),
    boroughNames(),
    geojson("boroughs"),
    watching ? watchers() : null,
  ]);
  add(main, suppressionNote(watching ? watched : boroughRows));
  const byBorough = watching
    ? new Map(watched.rows.map((r) => [r.area_code, r.members_watching]))
    : new Map(boroughRows.rows.map((r) => [r.area_code, r[measure]]));
  const answer = watching ? watched : boroughRows;
  const lowest = answer.exact_for === "nobody" ? answer.suppress_below : 1;
  const scale = scaleFor([...byBorough.values()], lowest);
  const title = watching
    ? WATCHING_NAME
    : `${measureName(measure)}, ${crimeType === "all" ? "all crime types" : crimeTypeName(crimeType)}, ${monthName(month)}`;

  add(main, h("h2", {}, "Boroughs"));
  const mapElement = h("div", {
    class: "map dash-map",
    role: "region",
    "aria-label": `Map of London's boroughs shaded by ${title}; the same figures are in the table below`,
  });
  add(main, mapElement, legend(scale, picked));
  const map = L.map(mapElement, {
    center: [51.5072, -0.1276],
    zoom: 9,
    zoomSnap: 0.25,
    attributionControl: false,
  });
  const layer = L.geoJSON(shapes, {
    style: (feature) => ({
      color: "#1b1b1b",
      weight: 1,
      fillOpacity: 0.85,
      fillColor: shadeOf(byBorough.get(feature.properties.code), scale),
      className: `dash-borough dash-borough-${feature.properties.code}`,
    }),
    onEachFeature: (feature, shape) => {
      shape.bindTooltip(
        `${feature.properties.name}: ${shown(byBorough.get(feature.properties.code) ?? 0)}`,
      );
      shape.on("click", () => {
        location.hash = `#/dashboard/borough/${feature.properties.code}?measure=${measure}&month=${month}`;
      });
    },
  }).addTo(map);
  map.fitBounds(layer.getBounds(), { animate: false });

  const ranked = [...names.entries()].sort((a, b) => a[1].localeCompare(b[1]));
  add(
    main,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "dash-boroughs" },
        h("caption", {}, title),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Borough"),
            h("th", { scope: "col" }, measureName(picked)),
          ),
        ),
        h(
          "tbody",
          {},
          ranked.map(([code, name]) =>
            h(
              "tr",
              {},
              h(
                "th",
                { scope: "row" },
                h(
                  "a",
                  { href: `#/dashboard/borough/${code}?measure=${measure}&month=${month}` },
                  name,
                ),
              ),
              h("td", {}, shown(byBorough.has(code) ? byBorough.get(code) : 0)),
            ),
          ),
        ),
      ),
    ),
  );

  add(main, h("h2", {}, "The MOPAC 7 across London"));
  add(
    main,
    h(
      "p",
      {},
      "The seven neighbourhood crimes MOPAC follows, together: " +
        MOPAC_7.map(crimeTypeName).join(", ") +
        ".",
    ),
    chart({
      title: `${measureName(measure)} in London by month, MOPAC 7`,
      labels: months.map(monthName),
      series: MOPAC_7.map((c) => ({
        name: crimeTypeName(c),
        values: valuesByMonth(londonRows.rows, months, c, measure),
      })),
    }),
  );

  add(main, h("h2", {}, "Compare two boroughs"));
  const options = ranked.map(([code, name]) => [code, name]);
  const first = select("a", options, ranked[0]?.[0]);
  const second = select("b", options, ranked[1]?.[0]);
  const compareForm = h(
    "form",
    { class: "dash-controls", "aria-label": "Compare two boroughs" },
    field("First borough", first),
    field("Second borough", second),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Compare")),
  );
  compareForm.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/dashboard/compare?a=${first.value}&b=${second.value}&measure=${measure}`;
  });
  add(main, compareForm);
  add(main, openData(month));
}

function openData(month) {
  return h(
    "section",
    { "aria-labelledby": "dash-open-data" },
    h("h2", { id: "dash-open-data" }, "Open data"),
    h(
      "p",
      {},
      "The same figures for every area and crime type, per month: ",
      h(
        "a",
        { href: `/api/alerts/dashboard/open-data/${month}.csv` },
        `CSV for ${monthName(month)}`,
      ),
      ", ",
      h("a", { href: `/api/alerts/dashboard/open-data/${month}.json` }, "JSON"),
      ", and ",
      h("a", { href: "/api/alerts/dashboard/open-data" }, "the columns and every month"),
      ".",
    ),
  );
}

// #/dashboard/borough/<code>: month-by-month charts per crime type, and the borough's wards.
export async function borough(main, { id, params }) {
  const code = id;
  const names = await boroughNames();
  const name = names.get(code) || code;
  intro(main, `${name}: crime alerts`);
  const { form, month, measure, months } = controls(params, `dashboard/borough/${code}`);
  add(main, form);
  const [series, wards, watched] = await Promise.all([
    figures({
      from: months[0],
      to: months[months.length - 1],
      area_kind: "borough",
      area_code: code,
    }),
    figures({ from: month, area_kind: "ward", borough: code, crime_type: "all" }),
    watchers(code),
  ]);
  add(main, suppressionNote(series));
  add(main, h("h2", {}, `${measureName(measure)} by month`));
  for (const crimeType of ["all", ...MOPAC_7]) {
    const label = crimeType === "all" ? "All crime types" : crimeTypeName(crimeType);
    add(
      main,
      chart({
        title: `${label}: ${measureName(measure).toLowerCase()} in ${name} by month`,
        labels: months.map(monthName),
        series: [{ name: label, values: valuesByMonth(series.rows, months, crimeType, measure) }],
      }),
    );
  }
  // Every ward of the borough (geo lists them, in name order): a ward no alert touched has 0.
  const byWard = new Map(wards.rows.map((r) => [r.area_code, r[measure]]));
  add(
    main,
    h("h2", {}, `Wards, ${monthName(month)}`),
    h(
      "div",
      // Three columns may scroll sideways on a phone: a region the keyboard can reach.
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Wards of ${name}` },
      h(
        "table",
        { class: "dash-wards" },
        // Not "all crime types": that names the charts' tables.
        h(
          "caption",
          {},
          `${measureName(measure)} per ward of ${name} in ${monthName(month)} (every crime type), and members watching each ward now`,
        ),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Ward"),
            h("th", { scope: "col" }, measureName(measure)),
            h("th", { scope: "col" }, WATCHING_NAME),
          ),
        ),
        h(
          "tbody",
          {},
          watched.rows.map((r) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, r.name),
              h("td", {}, shown(byWard.has(r.area_code) ? byWard.get(r.area_code) : 0)),
              h("td", {}, shown(r.members_watching)),
            ),
          ),
        ),
      ),
    ),
    h(
      "p",
      { class: "hint" },
      `${shown(watched.area.members_watching)} members watch at least one ward of ${name}.`,
    ),
  );
  add(main, openData(month));
}

// #/dashboard/compare?a=<code>&b=<code>: two boroughs month by month, per crime type.
export async function compare(main, { params }) {
  const names = await boroughNames();
  const a = params.get("a");
  const b = params.get("b");
  if (!names.has(a) || !names.has(b)) {
    intro(main, "Compare two boroughs");
    add(
      main,
      h("p", {}, "Choose two boroughs on ", h("a", { href: "#/dashboard" }, "the dashboard"), "."),
    );
    return;
  }
  intro(main, `${names.get(a)} and ${names.get(b)} compared`);
  const { form, measure, months } = controls(params, "dashboard/compare");
  add(main, form);
  const range = { from: months[0], to: months[months.length - 1], area_kind: "borough" };
  const [first, second] = await Promise.all([
    figures({ ...range, area_code: a }),
    figures({ ...range, area_code: b }),
  ]);
  add(main, suppressionNote(first));
  for (const crimeType of ["all", ...MOPAC_7]) {
    const label = crimeType === "all" ? "All crime types" : crimeTypeName(crimeType);
    add(
      main,
      chart({
        title: `${label}: ${measureName(measure).toLowerCase()} by month`,
        labels: months.map(monthName),
        series: [
          { name: names.get(a), values: valuesByMonth(first.rows, months, crimeType, measure, a) },
          { name: names.get(b), values: valuesByMonth(second.rows, months, crimeType, measure, b) },
        ],
      }),
    );
  }
}
