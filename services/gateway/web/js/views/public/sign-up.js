// Signing up: an email address and a password; the emailed link confirms the address.
import { api } from "../../api.js";
import {
  add,
  announce,
  emailInput,
  field,
  h,
  onSubmit,
  passwordInput,
  showNotice,
} from "../../ui.js";

export function signUp(main) {
  const messages = h("div");
  const email = emailInput();
  const password = passwordInput("new-password");
  const form = h(
    "form",
    { novalidate: true },
    field("Email address", email, "We send alerts here. Other members never see it."),
    field(
      "Choose a password",
      password,
      "At least 10 characters. A few unrelated words work well.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign up")),
  );
  onSubmit(form, messages, async (data) => {
    await api("/identity/members", {
      method: "POST",
      body: { email: data.get("email"), password: data.get("password") },
    });
    form.remove();
    showNotice(
      messages,
      `Nearly there: we have sent a link to ${data.get("email")}. Open it to confirm your address, then sign in.`,
    );
    add(
      messages,
      h(
        "p",
        {},
        h("a", { href: "#/sign-in" }, "Sign in"),
        " · ",
        h("a", { href: "#/verify" }, "Paste the link here instead"),
      ),
    );
    announce("Check your email for a link.");
  });
  add(
    main,
    h("h1", {}, "Sign up"),
    h("p", {}, "Members are verified but stay anonymous: other members only see a pseudonym."),
    messages,
    form,
  );
}
