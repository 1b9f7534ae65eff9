// Choosing a new password: the page the reset email links to (/reset-password#token=...), the
// one view the router reaches by path rather than by hash.
import { api } from "../../api.js";
import { add, field, h, onSubmit, passwordInput, showNotice } from "../../ui.js";

export function resetPassword(main, hashParams) {
  const messages = h("div");
  const password = passwordInput("new-password");
  const form = h(
    "form",
    { novalidate: true },
    field("New password", password, "At least 10 characters."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Change my password")),
  );
  onSubmit(form, messages, async (data) => {
    await api("/identity/password-resets/confirmation", {
      method: "POST",
      body: { token: hashParams.get("token") || "", password: data.get("password") },
    });
    form.remove();
    showNotice(messages, "Your password is changed.");
    add(messages, h("p", {}, h("a", { class: "button", href: "/app#/sign-in" }, "Sign in")));
  });
  add(main, h("h1", {}, "Choose a new password"), messages, form);
}
