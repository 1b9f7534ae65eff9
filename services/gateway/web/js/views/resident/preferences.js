// Residents choose how alerts reach them: channels per severity, quiet hours, a daily digest,
// language and the kinds of alert they do not want; and they turn on browser notifications
// or texts to a confirmed mobile.
import { api } from "../../api.js";
import {
  isThisBrowser,
  removeEndpoint,
  turnOffBrowserNotifications,
  turnOnBrowserNotifications,
} from "../../push.js";
import {
  add,
  announce,
  checkbox,
  CRIME_TYPES,
  field,
  h,
  onSubmit,
  select,
  showError,
  showNotice,
  sixDigitCodeInput,
  when,
} from "../../ui.js";

const SEVERITY_ORDER = ["Extreme", "Severe", "Moderate", "Minor", "Unknown"];
const CHANNELS = [
  ["email", "Email"],
  ["webpush", "Browser notification"],
  ["fcm", "Tawny app"],
  ["sms", "Text message"],
];
const LANGUAGES = [
  ["en", "English"],
  ["cy", "Cymraeg (Welsh)"],
  ["pl", "Polski (Polish)"],
  ["ro", "Română (Romanian)"],
  ["bn", "বাংলা (Bengali)"],
  ["pa", "ਪੰਜਾਬੀ (Punjabi)"],
  ["ur", "اردو (Urdu)"],
  ["pt", "Português (Portuguese)"],
  ["es", "Español (Spanish)"],
  ["ar", "العربية (Arabic)"],
  ["tr", "Türkçe (Turkish)"],
  ["so", "Soomaali (Somali)"],
];
const HOURS = Array.from({ length: 24 }, (_, hour) => [
  String(hour),
  `${String(hour).padStart(2, "0")}:00`,
]);

function describeEndpoint(endpoint) {
  const name = (CHANNELS.find(([code]) => code === endpoint.channel) || [
    endpoint.channel,
    endpoint.channel,
  ])[1];
  const here = isThisBrowser(endpoint) ? " (this browser)" : "";
  const state = endpoint.enabled ? "" : " (turned off: messages could not be delivered)";
  return `${name}: ${endpoint.address}${here}${state}`;
}

// The member's addresses and devices, each device with a button to remove it on its own.
function endpointList(endpoints, messages, reload) {
  return h(
    "ul",
    { id: "my-endpoints" },
    endpoints.map((endpoint) => {
      const description = describeEndpoint(endpoint);
      if (endpoint.channel !== "webpush" && endpoint.channel !== "fcm")
        return h("li", {}, description);
      const remove = h(
        "button",
        { type: "button", class: "secondary", "aria-label": `Remove ${description}` },
        "Remove",
      );
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        try {
          await removeEndpoint(endpoint);
          announce(`${description} removed.`);
          await reload();
        } catch (error) {
          showError(messages, error);
          remove.disabled = false;
        }
      });
      return h("li", {}, `${description} `, remove);
    }),
  );
}

function channelsSection(endpoints, reload) {
  const messages = h("div");
  const has = (channel) => endpoints.some((e) => e.channel === channel && e.enabled);
  const onHere = endpoints.some((e) => isThisBrowser(e) && e.enabled);
  const section = h(
    "section",
    { "aria-labelledby": "channels-heading" },
    h("h2", { id: "channels-heading" }, "Where alerts reach me"),
    endpoints.length === 0
      ? h("p", {}, "Nowhere yet: confirm your email address first.")
      : endpointList(endpoints, messages, reload),
    messages,
  );

  const pushButton = onHere
    ? h("button", { type: "button", class: "secondary" }, "Turn off browser notifications")
    : h("button", { type: "button" }, "Turn on browser notifications");
  pushButton.addEventListener("click", async () => {
    pushButton.disabled = true;
    try {
      if (onHere) {
        await turnOffBrowserNotifications();
        announce("Browser notifications are off.");
      } else {
        await turnOnBrowserNotifications();
        announce("Browser notifications are on.");
      }
      await reload();
    } catch (error) {
      showError(messages, error);
      pushButton.disabled = false;
    }
  });
  add(
    section,
    h("h3", {}, "Browser notifications"),
    h(
      "p",
      {},
      "Alerts appear on this device even when Tawny is not open. Each of your browsers and phones gets them; turning them off here leaves the others, which you can remove from the list above.",
    ),
    h("div", { class: "actions" }, pushButton),
  );

  const phone = h("input", {
    type: "tel",
    name: "phone_number",
    autocomplete: "tel",
    required: true,
    maxlength: "20",
  });
  const phoneForm = h(
    "form",
    { novalidate: true },
    field("UK mobile number", phone, "We text a six-digit code to it first."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Text me a code")),
  );
  const code = sixDigitCodeInput("code");
  const codeForm = h(
    "form",
    { novalidate: true, hidden: true },
    field("The code in the text", code),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Confirm my number")),
  );
  onSubmit(phoneForm, messages, async (data) => {
    const started = await api("/dispatch/endpoints/me/sms", {
      method: "PUT",
      body: { phone_number: data.get("phone_number") },
    });
    showNotice(
      messages,
      `We have texted a code to ${started.phone_number}. It works until ${when(started.expires_at)}.`,
    );
    codeForm.hidden = false;
    code.focus();
  });
  onSubmit(codeForm, messages, async (data) => {
    await api("/dispatch/endpoints/me/sms/confirmation", {
      method: "POST",
      body: { code: data.get("code").trim() },
    });
    announce("Your mobile number is confirmed.");
    await reload();
  });
  add(section, h("h3", {}, "Text messages"));
  if (has("sms")) {
    const stop = h("button", { type: "button", class: "secondary" }, "Stop text messages");
    stop.addEventListener("click", async () => {
      try {
        await api("/dispatch/endpoints/me/sms", { method: "DELETE" });
        announce("Text messages are off.");
        await reload();
      } catch (error) {
        showError(messages, error);
      }
    });
    add(section, h("div", { class: "actions" }, stop), h("p", {}, "Or give another number:"));
  }
  add(section, phoneForm, codeForm);
  return section;
}

function preferencesForm(current) {
  const messages = h("div");
  const severityGroups = SEVERITY_ORDER.map((severity) =>
    h(
      "fieldset",
      {},
      h("legend", {}, `${severity} alerts`),
      h(
        "div",
        { class: "checks" },
        CHANNELS.map(([channel, name]) =>
          checkbox(name, {
            name: `channels-${severity}`,
            value: channel,
            checked: (current.channels[severity] || []).includes(channel),
          }),
        ),
      ),
    ),
  );
  const quiet = current.quiet_hours;
  const quietOn = checkbox("Hold alerts that are not urgent during quiet hours", {
    name: "quiet",
    value: "on",
    checked: Boolean(quiet),
  });
  const quietStart = h("input", {
    type: "time",
    name: "quiet_start",
    value: quiet ? quiet.start.slice(0, 5) : "22:00",
  });
  const quietEnd = h("input", {
    type: "time",
    name: "quiet_end",
    value: quiet ? quiet.end.slice(0, 5) : "07:00",
  });
  const digest = select(
    "digest_hour",
    [["", "No digest: one email per alert"], ...HOURS],
    current.digest_hour === null ? "" : String(current.digest_hour),
  );
  const digestSeverities = SEVERITY_ORDER.map((severity) =>
    checkbox(severity, {
      name: "digest_severities",
      value: severity,
      checked: current.digest_severities.includes(severity),
    }),
  );
  const language = select("language", LANGUAGES, current.language);
  const everything = checkbox("No alerts at all for now", {
    name: "unsubscribed_all",
    value: "on",
    checked: current.unsubscribed_all,
  });
  const unwanted = CRIME_TYPES.map(([value, text]) =>
    checkbox(text, {
      name: "unsubscribed_categories",
      value,
      checked: current.unsubscribed_categories.includes(value),
    }),
  );

  const form = h(
    "form",
    { novalidate: true, id: "preferences-form" },
    h("h2", {}, "Channels for each severity"),
    h("p", { class: "hint" }, "Only channels you have set up above are used."),
    severityGroups,
    h("h2", {}, "Quiet hours"),
    h(
      "fieldset",
      {},
      h("legend", {}, "Quiet hours, London time"),
      quietOn,
      field("Quiet hours start", quietStart),
      field("Quiet hours end", quietEnd),
    ),
    h("h2", {}, "Daily digest"),
    field(
      "Send a daily digest email at",
      digest,
      "Less serious alerts then arrive together in one email.",
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Severities the digest gathers"),
      h("div", { class: "checks" }, digestSeverities),
    ),
    h("h2", {}, "Language"),
    field(
      "Show alerts in",
      language,
      "When an alert has a version in that language; English otherwise.",
    ),
    h("h2", {}, "Alerts I do not want"),
    everything,
    h("fieldset", {}, h("legend", {}, "No alerts about"), h("div", { class: "checks" }, unwanted)),
    messages,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save preferences")),
  );
  onSubmit(form, messages, async (data) => {
    const channels = {};
    for (const severity of SEVERITY_ORDER) channels[severity] = data.getAll(`channels-${severity}`);
    const body = {
      channels,
      quiet_hours: data.get("quiet")
        ? { start: data.get("quiet_start"), end: data.get("quiet_end") }
        : null,
      digest_hour: data.get("digest_hour") === "" ? null : Number(data.get("digest_hour")),
      digest_severities: data.getAll("digest_severities"),
      language: data.get("language"),
      unsubscribed_all: Boolean(data.get("unsubscribed_all")),
      unsubscribed_categories: data.getAll("unsubscribed_categories"),
    };
    await api("/dispatch/preferences/me", { method: "PUT", body });
    showNotice(messages, "Your preferences are saved.");
  });
  return form;
}

export async function preferences(main) {
  add(
    main,
    h("h1", {}, "Alert preferences"),
    h(
      "p",
      {},
      "Choose how and when alerts reach you. Urgent alerts ignore quiet hours and the digest.",
    ),
  );
  const channels = h("div");
  const reload = async () => {
    const endpoints = await api("/dispatch/endpoints/me");
    channels.replaceChildren(channelsSection(endpoints, reload));
  };
  const current = await api("/dispatch/preferences/me");
  await reload();
  add(main, channels, preferencesForm(current));
}
