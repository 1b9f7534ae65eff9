// Asking for a password-reset link by email.
import { api } from "../../api.js";
import { add, emailInput, field, h, onSubmit, showNotice } from "../../ui.js";

export function forgotPassword(main) {
  const messages = h("div");
  const email = emailInput();
  const form = h(
    "form",
    { novalidate: true },
    field("Email address", email),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send me a link")),
  );
  onSubmit(form, messages, async (data) => {
    const answer = await api("/identity/password-resets", {
      method: "POST",
      body: { email: data.get("email") },
    });
    form.remove();
    showNotice(messages, answer.detail);
  });
  add(main, h("h1", {}, "Forgotten password"), messages, form);
}
