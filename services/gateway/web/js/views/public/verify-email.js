// Confirming an email address: the emailed link opens this view with its token, or the member
// pastes the link (or its code) in.
import { api } from "../../api.js";
import { add, field, h, onSubmit, showError, showNotice } from "../../ui.js";

function tokenFrom(text) {
  const trimmed = text.trim();
  const match = /email-verifications\/([^/?#\s]+)/.exec(trimmed);
  return match ? match[1] : trimmed;
}

export async function verifyEmail(main, { params }) {
  const messages = h("div");
  const link = h("input", {
    type: "text",
    name: "link",
    required: true,
    maxlength: "2000",
    autocomplete: "off",
  });
  const form = h(
    "form",
    { novalidate: true },
    field("The link or code from the email", link),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Confirm my address")),
  );
  const confirm = async (token) => {
    await api("/identity/email-verifications", { method: "POST", body: { token } });
    form.remove();
    showNotice(messages, "Thank you: your email address is confirmed.");
    add(messages, h("p", {}, h("a", { class: "button", href: "#/sign-in" }, "Sign in")));
  };
  onSubmit(form, messages, (data) => confirm(tokenFrom(data.get("link"))));
  add(
    main,
    h("h1", {}, "Confirm your email address"),
    h("p", {}, "Open the link in the email we sent you, or paste it here."),
    messages,
    form,
  );
  if (params.get("token")) {
    try {
      await confirm(params.get("token"));
    } catch (error) {
      showError(messages, error);
    }
  }
}
