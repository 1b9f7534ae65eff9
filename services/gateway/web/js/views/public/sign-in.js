// Signing in: email, password and, for police and partners with two-step sign-in, a code;
// then on to where the member was going (or their first page).
import { api, isStaff, saveSession } from "../../api.js";
import { add, emailInput, field, h, onSubmit, passwordInput, sixDigitCodeInput } from "../../ui.js";

export function signIn(main, { params }) {
  const messages = h("div");
  const email = emailInput("username");
  const password = passwordInput("current-password");
  const code = sixDigitCodeInput("totp_code", { required: false });
  const form = h(
    "form",
    { novalidate: true },
    field("Email address", email),
    field("Password", password),
    field(
      "Authenticator code (police and partners with two-step sign-in)",
      code,
      "Leave empty if you have not set it up.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")),
  );
  onSubmit(form, messages, async (data) => {
    const body = { email: data.get("email"), password: data.get("password") };
    if (data.get("totp_code")) body.totp_code = data.get("totp_code");
    const tokens = await api("/identity/tokens", { method: "POST", body });
    const session = saveSession(tokens, body.email);
    const next = params.get("next");
    if (session.twoFactorEnrolmentRequired) location.hash = "#/account";
    else location.hash = next ? `#/${next}` : isStaff(session) ? "#/police" : "#/inbox";
  });
  add(
    main,
    h("h1", {}, "Sign in"),
    messages,
    form,
    h(
      "p",
      {},
      "New to Tawny? ",
      h("a", { href: "#/sign-up" }, "Sign up"),
      ". ",
      h("a", { href: "#/forgot-password" }, "Forgotten your password?"),
    ),
  );
}
