// Writing an alert: the target chosen on the map (wards and circles) with a live audience
// count, and previews of how it looks on each channel; saved as a draft.
import { api } from "../../api.js";
import { createMap } from "../../map.js";
import { wardSearch } from "../../wardsearch.js";
import {
  CRIME_TYPES,
  add,
  SEVERITIES,
  announce,
  checkbox,
  debounce,
  field,
  h,
  onSubmit,
  select,
} from "../../ui.js";

const URGENCIES = [
  ["Immediate", "Immediate: act now"],
  ["Expected", "Expected: within the hour"],
  ["Future", "Future"],
  ["Past", "Past: for information"],
];

// The targeting contract's limits (shared/targeting.py), as the gateway passes them on.
async function targetingLimits() {
  const response = await fetch("/app/settings.json");
  return (await response.json()).targeting;
}

export async function compose(main) {
  const limits = await targetingLimits();
  const messages = h("div");
  const mapElement = h("div", { id: "compose-map" });
  const audience = h(
    "p",
    { class: "audience", "aria-live": "polite", id: "audience" },
    "Choose a target to see who it will reach.",
  );
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
  ].map(([value, text]) =>
    checkbox(text, { name: "channels", value, checked: value === "email" ? true : undefined }),
  );
  const circleRadius = h("input", {
    type: "number",
    name: "radius_km",
    min: String(limits.min_circle_radius_km),
    max: String(limits.max_circle_radius_km),
    step: "0.1",
    value: "1",
  });
  const drawMode = checkbox("Draw a circle: click the map for its centre", { name: "draw_circle" });
  const confirmed = checkbox(
    "This alert names no victim and gives no detail that could identify one",
    { name: "no_victim", required: true },
  );

  const form = h(
    "form",
    { novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, "What happened"),
      field("Crime type", crimeType),
      field("Severity", severity),
      field("Urgency", urgency),
      field("Headline", headline, "One line; it is the email subject and push title."),
      field("What residents should know", body),
      field("What to do (optional)", instruction),
      field("How to respond (optional)", contact, "For example: call 101 quoting CAD 1234"),
    ),
    h("fieldset", {}, h("legend", {}, "Channels"), h("div", { class: "checks" }, channelChecks)),
    h(
      "fieldset",
      {},
      h("legend", {}, "Who it goes to"),
      h("p", { class: "hint" }, "Click wards on the map to add or remove them, or draw a circle."),
      wardSearch({
        label: "Add a ward by name",
        onChoose: (ward) => {
          if (!target.wards.has(ward.code)) toggleWard(ward);
        },
      }),
      drawMode,
      field(
        "Circle radius in kilometres",
        circleRadius,
        `From ${limits.min_circle_radius_km} to ${limits.max_circle_radius_km}; the centre in Greater London.`,
      ),
      targetList,
    ),
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
      target_circles: target.circles.map((c) => ({
        lat: c.lat,
        lon: c.lon,
        radius_km: c.radiusKm,
      })),
      no_victim_details_confirmed: data.get("no_victim") ? true : undefined,
    };
    if (data.get("instruction").trim()) result.instruction = data.get("instruction").trim();
    if (data.get("contact").trim()) result.contact = data.get("contact").trim();
    return result;
  };

  const renderTarget = () => {
    targetList.replaceChildren(
      ...[...target.wards.entries()].map(([code, name]) =>
        h(
          "li",
          {},
          name,
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              "aria-label": `Remove ${name}`,
              onclick: () => toggleWard({ code, name }),
            },
            "×",
          ),
        ),
      ),
      ...target.circles.map((circle, index) =>
        h(
          "li",
          {},
          `${circle.radiusKm} km round ${circle.lat.toFixed(4)}, ${circle.lon.toFixed(4)}`,
          h(
            "button",
            {
              type: "button",
              class: "secondary",
              "aria-label": "Remove the circle",
              onclick: () => {
                target.circles.splice(index, 1);
                changed();
              },
            },
            "×",
          ),
        ),
      ),
    );
    if (handle) {
      handle.paintWards(
        Object.fromEntries([...target.wards.keys()].map((code) => [code, "selected"])),
      );
      handle.clearShapes();
      for (const circle of target.circles)
        handle.addCircle(circle.lat, circle.lon, circle.radiusKm * 1000);
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
          target: {
            ward_codes: data.target_ward_codes,
            circles: data.target_circles.map((c) => ({
              lat: c.lat,
              lon: c.lon,
              radius_m: c.radius_km * 1000,
            })),
          },
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
      previews.replaceChildren(
        h(
          "p",
          { class: "hint" },
          "Write a headline and text and choose who it goes to, to see how it looks on each channel.",
        ),
      );
      return;
    }
    try {
      const preview = await api("/alerts/alerts/preview", {
        method: "POST",
        body: { ...data, no_victim_details_confirmed: true },
      });
      const parts = [];
      if (preview.email)
        parts.push(
          h("h3", {}, "Email subject"),
          h("p", { class: "preview" }, preview.email.subject),
        );
      if (preview.sms)
        parts.push(
          h(
            "h3",
            {},
            `Text message: ${preview.sms.segments} ${preview.sms.segments === 1 ? "part" : "parts"} (${preview.sms.encoding})`,
          ),
          h("p", { class: "preview" }, preview.sms.text),
        );
      if (preview.push)
        parts.push(
          h("h3", {}, "Push notification"),
          h("p", { class: "preview" }, `${preview.push.title}\n${preview.push.body}`),
        );
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

  form.addEventListener(
    "input",
    debounce(() => {
      updateAudience();
      updatePreviews();
    }, 200),
  );
  onSubmit(form, messages, async () => {
    const data = payload();
    if (!data.no_victim_details_confirmed)
      throw new Error("Confirm that the alert names no victim.");
    if (data.target_ward_codes.length === 0 && data.target_circles.length === 0)
      throw new Error("Choose who it goes to: click wards on the map or draw a circle.");
    if (data.target_circles.length === 0) delete data.target_circles;
    const alert = await api("/alerts/alerts", { method: "POST", body: data });
    location.hash = `#/police/alerts/${alert.id}`;
  });

  add(
    main,
    h("h1", {}, "Write an alert"),
    messages,
    h(
      "div",
      { class: "split" },
      form,
      h(
        "div",
        {},
        h("h2", {}, "Who it reaches"),
        audience,
        mapElement,
        h("h2", {}, "How it looks"),
        previews,
      ),
    ),
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
    target.circles.push({
      lat: latlng.lat,
      lon: latlng.lng,
      radiusKm: Number(circleRadius.value) || 1,
    });
    announce("Circle added");
    changed();
  };
}
