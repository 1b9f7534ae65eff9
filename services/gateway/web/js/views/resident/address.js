// Residents verify their London address: a letter posted with a one-time code, or a proof of
// address a verifier looks at. What each verification level allows is said up front.
import { ApiError, api, canReply, currentSession, refreshSession } from "../../api.js";
import {
  add,
  announce,
  documentFileInput,
  field,
  h,
  levelName,
  onSubmit,
  showNotice,
  VERIFICATION_LEVELS,
  when,
} from "../../ui.js";

function levelList(current) {
  return h(
    "ul",
    { class: "plain-list", "aria-label": "Verification levels" },
    VERIFICATION_LEVELS.map(([code, name, allows]) =>
      h(
        "li",
        { class: code === current ? "card current" : "card" },
        h("h3", {}, name, code === current ? h("span", { class: "badge" }, "You are here") : null),
        h("p", {}, allows),
      ),
    ),
  );
}

function addressFields(prefix) {
  const name = h("input", {
    type: "text",
    name: "name",
    autocomplete: "name",
    required: true,
    maxlength: "100",
  });
  const line1 = h("input", {
    type: "text",
    name: "address_line_1",
    autocomplete: "address-line1",
    required: true,
    maxlength: "100",
    id: `${prefix}-line-1`,
  });
  const line2 = h("input", {
    type: "text",
    name: "address_line_2",
    autocomplete: "address-line2",
    maxlength: "100",
    id: `${prefix}-line-2`,
  });
  const postcode = h("input", {
    type: "text",
    name: "postcode",
    autocomplete: "postal-code",
    required: true,
    minlength: "5",
    maxlength: "10",
  });
  return [
    field("Full name", name, "As it appears on post to this address."),
    field("Address line 1", line1, "For example: Flat 2, 10 Mansell Street"),
    field("Address line 2 (optional)", line2),
    field("Postcode", postcode, "In London."),
  ];
}

function addressLines(data) {
  return [data.get("address_line_1"), data.get("address_line_2")]
    .map((line) => (line || "").trim())
    .filter(Boolean);
}

function describeAttempt(attempt) {
  if (attempt.status === "pending" && attempt.method === "letter") {
    return `A letter with a code is on its way. The code works until ${when(attempt.expires_at)}; ${attempt.attempts_left} tries left.`;
  }
  if (attempt.status === "pending")
    return `Your proof of address, sent ${when(attempt.created_at)}, waits for a verifier.`;
  if (attempt.status === "verified") return "Your address is verified.";
  return `Your last attempt (${attempt.method}, ${when(attempt.created_at)}) is ${attempt.status}: try again below.`;
}

export async function address(main) {
  let attempt = null;
  try {
    attempt = await api("/identity/members/me/address");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  const me = await api("/identity/members/me");
  // A verifier may have approved a proof since sign-in: take the new level into the token.
  if (currentSession()?.verificationLevel !== me.verification_level) await refreshSession();
  const state = { attempt, level: me.verification_level };
  const levels = h("div");
  const status = h("div", { id: "address-status", "aria-live": "polite" });
  const levelText = h("p");
  const showState = () => {
    levelText.replaceChildren(
      "Your level: ",
      h("strong", { id: "verification-level" }, levelName(state.level)),
      ".",
    );
    levels.replaceChildren(levelList(state.level));
    status.replaceChildren();
    if (state.attempt) add(status, h("p", { class: "notice" }, describeAttempt(state.attempt)));
    // The code's form is there while a letter is on its way.
    codeSection.hidden = !(
      state.attempt &&
      state.attempt.method === "letter" &&
      state.attempt.status === "pending"
    );
  };
  const update = (answer) => {
    state.attempt = answer;
    state.level = answer.verification_level;
    showState();
  };

  // --- the letter's code
  const code = h("input", {
    type: "text",
    name: "code",
    required: true,
    minlength: "8",
    maxlength: "10",
    autocomplete: "one-time-code",
    spellcheck: "false",
  });
  const codeMessages = h("div");
  const codeForm = h(
    "form",
    { novalidate: true },
    field(
      "The code from the letter",
      code,
      "Eight letters and digits; spaces and capitals do not matter.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Verify my address")),
  );
  const codeSection = h(
    "section",
    { "aria-labelledby": "code-heading" },
    h("h2", { id: "code-heading" }, "Enter the code from your letter"),
    codeForm,
  );
  const confirmed = h("div");
  onSubmit(codeForm, codeMessages, async (data) => {
    const answer = await api("/identity/members/me/address/confirmation", {
      method: "POST",
      body: { code: data.get("code").trim() },
    });
    // The access token still carries the old level: a fresh one lets replies through now.
    await refreshSession();
    codeForm.reset();
    update(answer);
    showNotice(confirmed, "Thank you: your address is verified. You can now reply to alerts.");
    announce("Your address is verified.");
  });
  codeForm.prepend(codeMessages);

  // --- a letter
  const letterMessages = h("div");
  const letterForm = h(
    "form",
    { novalidate: true },
    addressFields("letter"),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Post me a code")),
  );
  onSubmit(letterForm, letterMessages, async (data) => {
    const answer = await api("/identity/members/me/address/letter", {
      method: "POST",
      body: {
        name: data.get("name"),
        address_lines: addressLines(data),
        postcode: data.get("postcode"),
      },
    });
    letterForm.reset();
    update(answer);
    showNotice(
      letterMessages,
      "We are posting a letter with a code to that address. It usually takes two to three working days.",
    );
    code.focus();
  });

  // --- a proof of address
  const proofMessages = h("div");
  const file = documentFileInput();
  const proofForm = h(
    "form",
    { novalidate: true },
    addressFields("proof"),
    field(
      "A proof of address",
      file,
      "A bill or bank statement from the last three months: JPEG, PNG or PDF. It is deleted once a verifier has decided.",
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "secondary" }, "Send for checking"),
    ),
  );
  onSubmit(proofForm, proofMessages, async (data) => {
    if (!file.files.length) throw new Error("Choose the file of your proof of address.");
    const form = new FormData();
    form.append("name", data.get("name"));
    for (const line of addressLines(data)) form.append("address_lines", line);
    form.append("postcode", data.get("postcode"));
    form.append("file", file.files[0]);
    const answer = await api("/identity/members/me/address/proof", { method: "POST", form });
    proofForm.reset();
    update(answer);
    showNotice(
      proofMessages,
      "Thank you: a verifier will look at it. Your level goes up once they approve it.",
    );
  });

  const verified = canReply(state.level);
  add(
    main,
    h("h1", {}, "Verify my address"),
    h(
      "p",
      {},
      "Other members never see your address: Tawny keeps only your ward once it is verified.",
    ),
    levelText,
    confirmed,
    status,
    codeSection,
    h(
      "h2",
      {},
      verified ? "Moved house? Have a code posted to the new address" : "Have a code posted to you",
    ),
    letterMessages,
    letterForm,
    h("h2", {}, "Or send a proof of address"),
    proofMessages,
    proofForm,
    h("h2", {}, "What each level allows"),
    levels,
    h(
      "p",
      {},
      h("a", { href: "#/identity" }, "Have my identity checked"),
      " · ",
      h("a", { href: "#/coordinate" }, "Coordinate a Neighbourhood Watch scheme"),
    ),
  );
  showState();
}
