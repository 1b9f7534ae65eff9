// Finding a ward by name: the keyboard's way to what a click on the map does.
import { api } from "./api.js";
import { announce, field, h } from "./ui.js";

export function wardSearch({ label, hint, onChoose }) {
  const input = h("input", {
    type: "search",
    name: "ward_query",
    maxlength: "100",
    autocomplete: "off",
  });
  const results = h("ul", { class: "chips", "aria-label": "Matching wards" });
  const search = async () => {
    const query = input.value.trim();
    if (!query) return;
    const found = await api("/geo/wards", { query: { q: query, limit: 10 } });
    results.replaceChildren(
      ...found.map((ward) =>
        h(
          "li",
          {},
          h(
            "button",
            { type: "button", class: "secondary", onclick: () => onChoose(ward) },
            ward.name,
          ),
        ),
      ),
    );
    announce(found.length ? `${found.length} wards found` : "No ward found");
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search();
    }
  });
  return h(
    "div",
    {},
    field(label, input, hint),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: search }, "Search"),
    ),
    results,
  );
}
