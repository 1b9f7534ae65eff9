// One item of the verification queue and its decision: a proof of address, an identity
// document or a coordinator application. A name is shown only beside the proof it must match.
import { api, canVet } from "../../api.js";
import { add, announce, checkbox, field, h, onSubmit, select, showNotice, time } from "../../ui.js";
import { notForYou } from "./verification-queue.js";

const DOCUMENT_TYPES = [
  ["passport", "Passport"],
  ["driving_licence", "Driving licence"],
  ["national_identity_card", "National identity card"],
  ["residence_permit", "Residence permit"],
];

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// The uploaded file, fetched with the verifier's token (the request is audited). Images are
// shown as data: URLs, which the Content-Security-Policy allows; a PDF is offered to open.
async function documentView(documentId, description) {
  const response = await api(`/identity/verification-documents/${documentId}`, { raw: true });
  const blob = await response.blob();
  if (blob.type.startsWith("image/")) {
    return h("img", { class: "proof", src: await readAsDataUrl(blob), alt: description });
  }
  return h(
    "p",
    {},
    h("a", { href: URL.createObjectURL(blob), download: "proof.pdf" }, `Open ${description} (PDF)`),
  );
}

function backLink() {
  return h("p", {}, h("a", { href: "#/police/verification" }, "Back to the queue"));
}

function decided(main, message) {
  const box = h("div");
  showNotice(box, message);
  main.querySelectorAll("form").forEach((form) => form.remove());
  main.append(box);
  announce(message);
}

function refusalFields() {
  const reason = h("textarea", { name: "reason", maxlength: "500", rows: "3" });
  return field("Reason, if you refuse it (the member is told)", reason, "At least 3 characters.");
}

function decisionButtons(approveText) {
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "submit", name: "decision", value: "approve" }, approveText),
    h("button", { type: "submit", name: "decision", value: "refuse", class: "danger" }, "Refuse"),
  );
}

// Which button submitted the form: FormData leaves the submitter out.
function submitter(form) {
  let chosen = "approve";
  form.addEventListener("click", (event) => {
    if (event.target instanceof HTMLButtonElement && event.target.name === "decision")
      chosen = event.target.value;
  });
  return () => chosen;
}

async function addressProof(main, id) {
  const proof = await api(`/identity/address-verifications/${id}`);
  const messages = h("div");
  const form = h(
    "form",
    { novalidate: true },
    refusalFields(),
    decisionButtons("Approve the address"),
  );
  const decision = submitter(form);
  onSubmit(form, messages, async (data) => {
    const approve = decision() === "approve";
    const body = approve ? { approve } : { approve, reason: data.get("reason") };
    await api(`/identity/address-verifications/${id}/decision`, { method: "POST", body });
    decided(
      main,
      approve
        ? `Approved: ${proof.pseudonym}'s address is verified.`
        : `Refused: ${proof.pseudonym} is told why.`,
    );
  });
  add(
    main,
    backLink(),
    h("h1", {}, `Proof of address from ${proof.pseudonym}`),
    h(
      "p",
      { class: "meta" },
      "Sent ",
      time(proof.submitted_at),
      ` · ward ${proof.ward_code} · ${proof.status}`,
    ),
    h(
      "div",
      { class: "split" },
      h(
        "div",
        {},
        h("h2", {}, "The proof"),
        proof.document_id
          ? await documentView(proof.document_id, `the proof of address sent by ${proof.pseudonym}`)
          : h("p", {}, "The file is deleted (already decided)."),
      ),
      h(
        "div",
        {},
        h("h2", {}, "The address claimed"),
        h(
          "address",
          { id: "claimed-address" },
          [proof.name, ...proof.address_lines, proof.postcode].map((line) =>
            h("span", { class: "address-line" }, line),
          ),
        ),
      ),
    ),
    h("h2", {}, "Your decision"),
    h(
      "p",
      {},
      "Approve only if the name and address match a bill or statement from the last three months.",
    ),
    messages,
    proof.status === "pending" ? form : h("p", {}, "Already decided."),
  );
}

async function identityDocument(main, id, memberId) {
  const messages = h("div");
  const today = new Date().toISOString().slice(0, 10);
  const form = h(
    "form",
    { novalidate: true },
    field("Kind of document", select("document_type", DOCUMENT_TYPES, "passport")),
    h(
      "fieldset",
      {},
      h("legend", {}, "Outcome"),
      checkbox("It is genuine and matches the member", {
        type: "radio",
        name: "outcome",
        value: "pass",
        checked: true,
      }),
      checkbox("It fails the check", { type: "radio", name: "outcome", value: "fail" }),
    ),
    field(
      "Checked on",
      h("input", { type: "date", name: "checked_on", value: today, max: today, required: true }),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Record the check")),
  );
  onSubmit(form, messages, async (data) => {
    const body = {
      document_type: data.get("document_type"),
      outcome: data.get("outcome"),
      checked_on: data.get("checked_on"),
      document_id: id,
    };
    await api(`/identity/members/${memberId}/identity-checks`, { method: "POST", body });
    decided(main, "The check is recorded and the document deleted.");
  });
  add(
    main,
    backLink(),
    h("h1", {}, "Identity document"),
    await documentView(id, "the identity document"),
    h("h2", {}, "Record the check"),
    messages,
    form,
  );
}

async function coordinatorApplication(main, id) {
  const application = await api(`/identity/coordinator-applications/${id}`);
  const messages = h("div");
  const reference = h("input", {
    type: "text",
    name: "vetting_reference",
    maxlength: "64",
    autocomplete: "off",
  });
  const expires = h("input", { type: "date", name: "vetting_expires_on" });
  const form = h(
    "form",
    { novalidate: true },
    field("Vetting reference (to approve)", reference, "For example MPS/NPPV2/48213."),
    field("Vetting valid until (to approve)", expires),
    refusalFields(),
    decisionButtons("Approve as coordinator"),
  );
  const decision = submitter(form);
  onSubmit(form, messages, async (data) => {
    if (decision() === "approve") {
      await api(`/identity/coordinator-applications/${id}/approval`, {
        method: "POST",
        body: {
          vetting_reference: data.get("vetting_reference"),
          vetting_expires_on: data.get("vetting_expires_on"),
        },
      });
      decided(
        main,
        `Approved: ${application.pseudonym} coordinates the scheme until the vetting expires.`,
      );
    } else {
      await api(`/identity/coordinator-applications/${id}/refusal`, {
        method: "POST",
        body: { reason: data.get("reason") },
      });
      decided(main, `Refused: ${application.pseudonym} is told why.`);
    }
  });
  add(
    main,
    backLink(),
    h("h1", {}, `Coordinator application from ${application.pseudonym}`),
    h("p", { class: "meta" }, "Sent ", time(application.created_at), ` · ${application.status}`),
    h("h2", {}, "Their statement"),
    h("p", { class: "body-text" }, application.statement),
    h("h2", {}, "Your decision"),
    messages,
    application.status === "pending" ? form : h("p", {}, "Already decided."),
  );
}

export async function verificationItem(main, { id, kind, params }) {
  if (!canVet()) return notForYou(main);
  if (kind === "address") return addressProof(main, id);
  if (kind === "identity") return identityDocument(main, id, params.get("member"));
  return coordinatorApplication(main, id);
}
