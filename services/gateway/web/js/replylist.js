// Members' replies to alerts, each with a form to answer it: under one alert, and in the
// replies inbox (where each says which alert it is about).
import { api } from "./api.js";
import { field, h, onSubmit, time } from "./ui.js";

export function replyList(replies, reload, withAlert) {
  return h(
    "ul",
    { class: "plain-list" },
    replies.map((reply) => {
      const messages = h("div");
      const answer = h("textarea", { name: "text", required: true, maxlength: "2000" });
      const form = h(
        "form",
        { novalidate: true },
        field(`Answer ${reply.member_pseudonym}`, answer),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "submit", class: "secondary" }, "Send answer"),
        ),
      );
      onSubmit(form, messages, async (data) => {
        await api(`/alerts/alerts/${reply.alert_id}/replies/${reply.id}/answer`, {
          method: "POST",
          body: { text: data.get("text") },
        });
        await reload();
      });
      return h(
        "li",
        { class: "card" },
        h("h3", {}, reply.member_pseudonym),
        withAlert
          ? h(
              "p",
              { class: "meta" },
              "About ",
              h("a", { href: `#/police/alerts/${reply.alert_id}` }, withAlert.get(reply.alert_id)),
            )
          : null,
        h("p", { class: "meta" }, time(reply.created_at)),
        h("p", { class: "body-text" }, reply.text),
        reply.answer
          ? h(
              "p",
              {},
              h("strong", {}, `Answered by ${reply.answered_by_pseudonym}: `),
              reply.answer,
            )
          : [messages, form],
      );
    }),
  );
}
