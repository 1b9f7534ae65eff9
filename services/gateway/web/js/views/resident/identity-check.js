// A resident asks for an identity check: a document a verifier looks at, deleted once the check
// is recorded (coordinators of a Neighbourhood Watch scheme need one).
import { api, currentSession, refreshSession } from "../../api.js";
import { add, documentFileInput, field, h, levelName, onSubmit, showNotice } from "../../ui.js";

export async function identityCheck(main) {
  const me = await api("/identity/members/me");
  if (currentSession()?.verificationLevel !== me.verification_level) await refreshSession();
  const messages = h("div", { id: "identity-document-status", "aria-live": "polite" });
  const file = documentFileInput();
  const form = h(
    "form",
    { novalidate: true },
    field(
      "Your identity document",
      file,
      "A photo or scan of your passport, driving licence or national identity card: JPEG, PNG or PDF. It is deleted once a verifier has recorded the check.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Send for checking")),
  );
  onSubmit(form, messages, async () => {
    if (!file.files.length) throw new Error("Choose the file of your identity document.");
    const upload = new FormData();
    upload.append("file", file.files[0]);
    await api("/identity/members/me/identity-documents", { method: "POST", form: upload });
    form.reset();
    showNotice(
      messages,
      "Thank you: a verifier will check your document. Your level goes up once they record the check.",
    );
  });
  add(
    main,
    h("h1", {}, "Have my identity checked"),
    h("p", {}, "Your level: ", h("strong", {}, levelName(me.verification_level)), "."),
    h(
      "p",
      {},
      "Coordinators of a Neighbourhood Watch scheme need an identity check. Only verifiers see the document, and every look at it is recorded.",
    ),
    messages,
    form,
    h(
      "p",
      {},
      h("a", { href: "#/coordinate" }, "Apply to coordinate a Neighbourhood Watch scheme"),
    ),
  );
}
