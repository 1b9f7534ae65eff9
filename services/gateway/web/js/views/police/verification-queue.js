// The verification queue for verifiers and officers: proofs of address and identity documents
// (verifiers), coordinator applications (officers of the scheme's area, and verifiers). Members
// appear by pseudonym.
import { api, canVet } from "../../api.js";
import { add, h, time } from "../../ui.js";

const KINDS = {
  address_proof: ["address", "Proof of address"],
  identity_document: ["identity", "Identity document"],
  coordinator_application: ["coordinator", "Coordinator application"],
};

export function notForYou(main) {
  add(
    main,
    h("h1", {}, "Verification queue"),
    h("p", {}, "This page is for verifiers and police officers."),
  );
}

export async function verificationQueue(main) {
  if (!canVet()) return notForYou(main);
  const { items } = await api("/identity/verification-queue", { query: { limit: 100 } });
  add(
    main,
    h("h1", {}, "Verification queue"),
    h(
      "p",
      {},
      "Oldest first. Verifiers see proofs of address and identity documents; officers see coordinator applications for their area's schemes.",
    ),
  );
  if (items.length === 0) {
    add(main, h("p", { id: "queue-empty" }, "Nothing is waiting for a decision."));
    return;
  }
  add(
    main,
    h(
      "ul",
      { class: "plain-list", "aria-label": "Waiting for a decision" },
      items.map((item) => {
        const [slug, name] = KINDS[item.kind];
        return h(
          "li",
          { class: "card" },
          h(
            "h2",
            {},
            h(
              "a",
              { href: `#/police/verification/${slug}/${item.id}?member=${item.member_id}` },
              `${name} from ${item.pseudonym}`,
            ),
          ),
          h("p", { class: "meta" }, "Sent ", time(item.submitted_at)),
        );
      }),
    ),
  );
}
