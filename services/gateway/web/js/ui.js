// Small helpers to build accessible DOM from elements and text nodes, never from HTML strings
// (so no markup injection), and without inline handlers (the Content-Security-Policy forbids them).

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, value);
    }
  }
  append(element, children);
  return element;
}

// Adds children to an element as h() does: arrays flattened, null, undefined and false left out.
export function add(element, ...children) {
  append(element, children);
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

// A labelled control: label, optional hint (tied by aria-describedby), then the control.
export function field(labelText, control, hint) {
  control.id = control.id || uniqueId("field");
  const parts = [h("label", { for: control.id }, labelText)];
  if (hint) {
    const hintId = `${control.id}-hint`;
    parts.push(h("p", { class: "hint", id: hintId }, hint));
    control.setAttribute("aria-describedby", hintId);
  }
  parts.push(control);
  return h("div", { class: "field" }, parts);
}

// The inputs several forms ask for, with the limits identity checks (a new password: 10 to 128).
export function emailInput(autocomplete = "email") {
  return h("input", {
    type: "email",
    name: "email",
    autocomplete,
    required: true,
    maxlength: "254",
  });
}

// autocomplete "new-password" for a password being chosen, "current-password" otherwise.
export function passwordInput(autocomplete) {
  const chosen = autocomplete === "new-password";
  return h("input", {
    type: "password",
    name: "password",
    autocomplete,
    required: true,
    minlength: chosen ? "10" : undefined,
    maxlength: "128",
  });
}

// A six-digit code from an authenticator app or a text message.
export function sixDigitCodeInput(name, { required = true } = {}) {
  return h("input", {
    type: "text",
    name,
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
    required,
  });
}

// A document for a verifier: a photo or scan (JPEG, PNG) or a PDF.
export function documentFileInput() {
  return h("input", {
    type: "file",
    name: "file",
    required: true,
    accept: "image/jpeg,image/png,application/pdf",
  });
}

export function checkbox(labelText, attributes = {}) {
  const input = h("input", { type: "checkbox", ...attributes });
  return h("label", { class: "check" }, input, h("span", {}, labelText));
}

export function select(name, options, selected) {
  return h(
    "select",
    { name },
    options.map(([value, text]) =>
      h("option", { value, selected: value === selected ? true : undefined }, text),
    ),
  );
}

export function announce(message) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  // A fresh text node, a moment later, so screen readers read it even when it repeats.
  setTimeout(() => {
    announcer.textContent = message;
  }, 50);
}

// An error box that lists what went wrong; focused so that keyboard and screen-reader users
// land on it.
export function showError(container, error) {
  container.replaceChildren();
  const lines = error.fieldMessages && error.fieldMessages.length ? error.fieldMessages : [];
  const box = h(
    "div",
    { class: "error-summary", role: "alert", tabindex: "-1" },
    h("p", { class: "error" }, error.message || String(error)),
    lines.length
      ? h(
          "ul",
          {},
          lines.map((line) => h("li", {}, line)),
        )
      : null,
  );
  container.append(box);
  box.focus();
}

export function showNotice(container, message) {
  container.replaceChildren(h("div", { class: "notice", role: "status" }, message));
}

// Runs an async action for a form's submit, disabling its buttons meanwhile and showing any
// error in ``messages``.
export function onSubmit(form, messages, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => (button.disabled = true));
    messages.replaceChildren();
    try {
      await action(new FormData(form));
    } catch (error) {
      showError(messages, error);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  });
}

const dateFormat = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

export function when(iso) {
  return iso ? dateFormat.format(new Date(iso)) : "";
}

export function time(iso) {
  return h("time", { datetime: iso }, when(iso));
}

export function debounce(fn, waitMs) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), waitMs);
  };
}

export const CRIME_TYPES = [
  ["burglary", "Burglary"],
  ["robbery", "Robbery"],
  ["violence_with_injury", "Violence with injury"],
  ["theft_from_motor_vehicle", "Theft from a motor vehicle"],
  ["theft_of_motor_vehicle", "Theft of a motor vehicle"],
  ["theft_from_person", "Theft from the person"],
  ["criminal_damage", "Criminal damage"],
  ["antisocial_behaviour", "Antisocial behaviour"],
  ["fraud_or_scam", "Fraud or scam"],
  ["missing_person", "Missing person"],
  ["witness_appeal", "Witness appeal"],
  ["safety_advice", "Safety advice"],
  ["community_event", "Community event"],
  ["road_closure", "Road closure"],
];

// Read-only labels of types nobody chooses: "other" is derived from received CAP that says no more.
const DERIVED_CRIME_TYPES = [["other", "Other"]];

export function crimeTypeName(value) {
  const found = [...CRIME_TYPES, ...DERIVED_CRIME_TYPES].find(([code]) => code === value);
  return found ? found[1] : value;
}

export const SEVERITIES = [
  ["Minor", "Minor"],
  ["Moderate", "Moderate"],
  ["Severe", "Severe"],
  ["Extreme", "Extreme"],
];

// A badge for a follow-up message (an alert's update or cancellation); none for the alert itself.
export function messageBadge(alert) {
  if (alert.msg_type === "Cancel") return h("span", { class: "badge" }, "Cancelled");
  if (alert.msg_type === "Update") return h("span", { class: "badge" }, "Update");
  return null;
}

// A member's verification levels: code, name and what the level allows.
export const VERIFICATION_LEVELS = [
  [
    "email",
    "Email confirmed",
    "You receive alerts for the areas you watch and can mark them useful.",
  ],
  [
    "address",
    "Address verified",
    "You can also reply to alerts: the police know replies come from people living in London.",
  ],
  [
    "identity",
    "Identity checked",
    "A verifier has also checked an identity document, as coordinators need.",
  ],
];

export function levelName(level) {
  const found = VERIFICATION_LEVELS.find(([code]) => code === level);
  return found ? found[1] : level;
}
