// A member's account: pseudonym, verification, where alerts reach them, two-step sign-in for
// staff roles, the download of their data and the deletion of the account.
import { api, canReply, currentSession } from "../../api.js";
import {
  add,
  announce,
  checkbox,
  field,
  h,
  levelName,
  onSubmit,
  passwordInput,
  showError,
  showNotice,
  sixDigitCodeInput,
} from "../../ui.js";

export async function account(main) {
  const [me, endpoints] = await Promise.all([
    api("/identity/members/me"),
    api("/dispatch/endpoints/me"),
  ]);
  const messages = h("div");
  const password = passwordInput("current-password");
  const eraseForm = h(
    "form",
    { novalidate: true },
    field("Your password, to confirm", password),
    checkbox(
      "Leave the text of my replies to alerts for the police, with no name or pseudonym (photos are deleted)",
      { name: "keep_reply_text" },
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "danger" }, "Delete my account"),
    ),
  );
  onSubmit(eraseForm, messages, async (data) => {
    await api("/identity/members/me/erasure", {
      method: "POST",
      body: {
        password: data.get("password"),
        keep_reply_text: data.get("keep_reply_text") === "on",
      },
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
      const link = h(
        "a",
        { href: URL.createObjectURL(blob), download: "tawny-my-data.json" },
        "Save tawny-my-data.json",
      );
      exportLink.replaceChildren(link);
      link.focus();
    } catch (error) {
      showError(messages, error);
    }
  });
  const twoStep = currentSession()?.twoFactorEnrolmentRequired ? twoStepEnrolment() : null;
  add(
    main,
    h("h1", {}, "My account"),
    h(
      "dl",
      {},
      h("dt", {}, "Pseudonym (what other members see)"),
      h("dd", {}, me.pseudonym),
      h("dt", {}, "Email address"),
      h(
        "dd",
        {},
        currentSession()?.email || "",
        me.email_verified ? " (confirmed)" : " (not confirmed yet)",
      ),
      h("dt", {}, "Verification"),
      h(
        "dd",
        {},
        levelName(me.verification_level),
        " · ",
        h(
          "a",
          { href: "#/address" },
          canReply(me.verification_level) ? "What it allows" : "Verify my address",
        ),
      ),
    ),
    twoStep,
    h("h2", {}, "Where alerts reach me"),
    h(
      "p",
      {},
      h("a", { href: "#/preferences" }, "Channels, quiet hours and browser notifications"),
    ),
    endpoints.length === 0
      ? h("p", {}, "Nowhere yet: confirm your email address first.")
      : h(
          "ul",
          {},
          endpoints.map((e) =>
            h(
              "li",
              {},
              `${e.channel}: ${e.address}`,
              e.enabled ? "" : " (turned off: messages could not be delivered)",
            ),
          ),
        ),
    h("h2", {}, "My data"),
    h(
      "p",
      {},
      "Download everything Tawny holds about you, as one JSON file: your account, the areas you watch, where alerts reach you and what was sent, your replies and marks.",
    ),
    exportButton,
    exportLink,
    h("h2", {}, "Delete my account"),
    h(
      "p",
      {},
      "This deletes your account, the areas you watch and where we reach you. It cannot be undone.",
    ),
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
      if (answer && answer.status === "collecting")
        await new Promise((resolve) => setTimeout(resolve, 500));
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
    h(
      "p",
      {},
      "Your police or partner roles need two-step sign-in: a six-digit code from an authenticator app each time you sign in. Until then you have a resident's pages only.",
    ),
    messages,
  );
  const start = h("button", { type: "button" }, "Set up two-step sign-in");
  start.addEventListener("click", async () => {
    try {
      const enrolment = await api("/identity/members/me/totp", { method: "POST" });
      start.remove();
      const code = sixDigitCodeInput("code");
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
        const answer = await api("/identity/members/me/totp/confirmation", {
          method: "POST",
          body: { code: data.get("code") },
        });
        form.remove();
        showNotice(
          messages,
          "Two-step sign-in is set up. Keep these recovery codes somewhere safe: each works once if you lose your phone. Then sign out and sign in again with a code.",
        );
        add(
          messages,
          h(
            "ul",
            { "aria-label": "Recovery codes" },
            answer.recovery_codes.map((c) => h("li", {}, h("code", {}, c))),
          ),
        );
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
