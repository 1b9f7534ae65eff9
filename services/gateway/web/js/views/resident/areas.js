// The areas a member watches: wards, a ward with its neighbours, or a circle round a place,
// chosen on the map, by ward name or by postcode; each with the kinds of alert it brings.
import { api } from "../../api.js";
import { createMap } from "../../map.js";
import { wardSearch } from "../../wardsearch.js";
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
} from "../../ui.js";

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
  add(
    main,
    h("h1", {}, "Areas I watch"),
    h(
      "p",
      {},
      "Choose wards or a circle round a place. You get the alerts sent to any area you watch, once each.",
    ),
  );
  const messages = h("div");
  const mapElement = h("div", { id: "areas-map" });
  const list = h("div", { "aria-live": "polite" });
  const chosen = h("p", { id: "chosen-area", "aria-live": "polite" }, "No area chosen yet.");
  const state = { ward: null, centre: null };

  const kindRadios = [
    ["ward", "One ward"],
    ["neighbours", "A ward and its neighbouring wards"],
    ["circle", "A circle round a place"],
  ].map(([value, text], index) =>
    checkbox(text, { type: "radio", name: "kind", value, checked: index === 0 ? true : undefined }),
  );

  const wardSection = wardSearch({
    label: "Find a ward by name",
    hint: "Or click a ward on the map.",
    onChoose: (ward) => chooseWard(ward),
  });
  const postcode = h("input", {
    type: "text",
    name: "postcode",
    maxlength: "10",
    autocomplete: "postal-code",
  });
  const radius = select("radius_m", RADII, "1000");
  const circleSection = h(
    "div",
    { hidden: true },
    field("Postcode of the place", postcode, "Or click the place on the map."),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: () => findPostcode() }, "Find"),
    ),
    field("How far round it", radius),
  );
  const categoryChecks = CRIME_TYPES.map(([value, text]) =>
    checkbox(text, { name: "categories", value, checked: true }),
  );
  const severity = select("min_severity", SEVERITIES, "Minor");
  const label = h("input", { type: "text", name: "label", maxlength: "80" });
  const form = h(
    "form",
    { novalidate: true },
    h("fieldset", {}, h("legend", {}, "What to watch"), kindRadios),
    wardSection,
    circleSection,
    chosen,
    h(
      "fieldset",
      {},
      h("legend", {}, "Kinds of alert"),
      h("div", { class: "checks" }, categoryChecks),
    ),
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
      chosen.textContent = state.ward
        ? `Chosen: ${state.ward.name} (${state.ward.code})`
        : "No ward chosen yet.";
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
      if (sub.circle)
        handle.addCircle(sub.circle.lat, sub.circle.lon, sub.circle.radius_m, "watched");
      if (sub.polygon) handle.addPolygon(sub.polygon.coordinates, "watched");
    }
    if (kind() !== "circle" && state.ward) states[state.ward.code] = "selected";
    if (kind() === "circle" && state.centre)
      handle.addCircle(state.centre.lat, state.centre.lon, Number(radius.value));
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
      body.circle = {
        lat: state.centre.lat,
        lon: state.centre.lon,
        radius_m: Number(data.get("radius_m")),
      };
    } else {
      if (!state.ward) throw new Error("Choose a ward: search for it or click it on the map.");
      body.ward_code = state.ward.code;
    }
    await api("/geo/subscriptions", { method: "POST", body });
    showNotice(
      messages,
      `You now watch ${body.kind === "circle" ? "a circle round the place" : state.ward.name}.`,
    );
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
      h(
        "h2",
        {},
        `Watching ${subscriptions.length} ${subscriptions.length === 1 ? "area" : "areas"}`,
      ),
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

  add(
    main,
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
