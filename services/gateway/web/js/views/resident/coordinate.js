// A resident applies to coordinate a Neighbourhood Watch scheme (police-vetted: an officer or a
// verifier decides) and sees their applications.
import { api } from "../../api.js";
import { add, field, h, onSubmit, showNotice, when } from "../../ui.js";

const STATUS_TEXT = {
  pending: "waits for the police to decide",
  approved: "approved",
  refused: "refused",
  lapsed: "lapsed",
};

function describeApplication(application, schemeNames) {
  const scheme = schemeNames.get(application.scheme_id) || "A scheme";
  const parts = [
    `${scheme}: ${STATUS_TEXT[application.status] || application.status} (applied ${when(application.created_at)})`,
  ];
  if (application.status === "approved" && application.vetting_expires_on)
    parts.push(`; vetting valid until ${application.vetting_expires_on}`);
  if (application.refusal_reason) parts.push(`; reason: ${application.refusal_reason}`);
  return parts.join("");
}

export async function coordinate(main) {
  const [schemes, applications] = await Promise.all([
    api("/identity/schemes"),
    api("/identity/members/me/coordinator-applications"),
  ]);
  const schemeNames = new Map(schemes.map((scheme) => [scheme.id, scheme.name]));
  const list = h("ul", {
    id: "my-applications",
    class: "plain-list",
    "aria-label": "My applications",
  });
  const showApplications = (items) => {
    list.replaceChildren(
      ...items.map((item) => h("li", { class: "card" }, describeApplication(item, schemeNames))),
    );
    if (!items.length) list.replaceChildren(h("li", {}, "You have not applied yet."));
  };
  showApplications(applications);
  const messages = h("div", { "aria-live": "polite" });
  const scheme = h(
    "select",
    { name: "scheme_id", required: true },
    h("option", { value: "" }, "Choose a scheme"),
    schemes.map((item) => h("option", { value: item.id }, item.name)),
  );
  const statement = h("textarea", {
    name: "statement",
    required: true,
    minlength: "10",
    maxlength: "2000",
    rows: "5",
  });
  const form = h(
    "form",
    { novalidate: true },
    field("Neighbourhood Watch scheme", scheme),
    field(
      "Why you would like to coordinate it",
      statement,
      "How long you have lived there and what you would do: at least 10 characters. The police read it when they vet you.",
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply to coordinate")),
  );
  onSubmit(form, messages, async (data) => {
    if (!data.get("scheme_id")) throw new Error("Choose the scheme you would like to coordinate.");
    const application = await api("/identity/coordinator-applications", {
      method: "POST",
      body: { scheme_id: data.get("scheme_id"), statement: data.get("statement").trim() },
    });
    form.reset();
    applications.unshift(application);
    showApplications(applications);
    showNotice(messages, "Thank you: the police will vet your application and tell you by email.");
  });
  add(
    main,
    h("h1", {}, "Coordinate a Neighbourhood Watch scheme"),
    h(
      "p",
      {},
      "Coordinators are vetted by the police: an officer of a borough the scheme covers, or a verifier, decides. ",
      h("a", { href: "#/identity" }, "An identity check"),
      " helps them.",
    ),
    schemes.length ? [messages, form] : h("p", {}, "No scheme is registered yet."),
    h("h2", {}, "My applications"),
    list,
  );
}
