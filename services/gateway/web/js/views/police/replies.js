// Members' replies to the latest published alerts, newest first, to read and answer.
import { api } from "../../api.js";
import { replyList } from "../../replylist.js";
import { add, h } from "../../ui.js";

// Replies are read per alert: the newest this many.
const REPLY_ALERTS = 10;

export async function replies(main) {
  add(
    main,
    h("h1", {}, "Replies"),
    h(
      "p",
      {},
      `Members' replies to the ${REPLY_ALERTS} latest published alerts, newest first. Members are shown by pseudonym only.`,
    ),
  );
  const box = h("div");
  add(main, box);
  const load = async () => {
    const alerts = await api("/alerts/alerts", { query: { limit: 50, msg_type: "Alert" } });
    const published = alerts.filter((a) => a.published_at).slice(0, REPLY_ALERTS);
    const headlines = new Map(published.map((a) => [a.id, a.headline]));
    const all = (
      await Promise.all(published.map((a) => api(`/alerts/alerts/${a.id}/replies`)))
    ).flat();
    all.sort((a, b) => b.created_at.localeCompare(a.created_at));
    box.replaceChildren(
      all.length === 0 ? h("p", {}, "No replies yet.") : replyList(all, load, headlines),
    );
  };
  await load();
}
