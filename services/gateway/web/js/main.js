// The router: each view is addressed after the # (#/inbox, #/police/alerts/<id>), so the
// gateway serves one page; /reset-password (the emailed link) is the one other path.
import * as dashboard from "./dashboard.js";
import { api, canVet, clearSession, currentSession, isOfficer, isStaff } from "./api.js";
import { add, h } from "./ui.js";
import { alertDetail } from "./views/police/alert-detail.js";
import { alertList } from "./views/police/alert-list.js";
import { compose } from "./views/police/compose.js";
import { replies } from "./views/police/replies.js";
import { verificationItem } from "./views/police/verification-item.js";
import { verificationQueue } from "./views/police/verification-queue.js";
import { forgotPassword } from "./views/public/forgot-password.js";
import { resetPassword } from "./views/public/reset-password.js";
import { signIn } from "./views/public/sign-in.js";
import { signUp } from "./views/public/sign-up.js";
import { verifyEmail } from "./views/public/verify-email.js";
import { account } from "./views/resident/account.js";
import { address } from "./views/resident/address.js";
import { areas } from "./views/resident/areas.js";
import { coordinate } from "./views/resident/coordinate.js";
import { identityCheck } from "./views/resident/identity-check.js";
import { inboxAlert } from "./views/resident/inbox-alert.js";
import { inbox } from "./views/resident/inbox.js";
import { preferences } from "./views/resident/preferences.js";

const routes = [
  [/^$/, home, "Tawny"],
  [/^dashboard$/, dashboard.london, "London crime alerts dashboard"],
  [/^dashboard\/borough\/(E[0-9]{8})$/, dashboard.borough, "Borough dashboard"],
  [/^dashboard\/compare$/, dashboard.compare, "Compare boroughs"],
  [/^sign-in$/, signIn, "Sign in"],
  [/^sign-up$/, signUp, "Sign up"],
  [/^verify$/, verifyEmail, "Verify your email"],
  [/^forgot-password$/, forgotPassword, "Forgotten password"],
  [/^areas$/, areas, "Areas I watch", "member"],
  [/^inbox$/, inbox, "My alerts", "member"],
  [/^inbox\/([0-9a-f-]{36})$/, inboxAlert, "Alert", "member"],
  [/^account$/, account, "My account", "member"],
  [/^address$/, address, "Verify my address", "member"],
  [/^preferences$/, preferences, "Alert preferences", "member"],
  [/^identity$/, identityCheck, "Have my identity checked", "member"],
  [/^coordinate$/, coordinate, "Coordinate a scheme", "member"],
  [/^police$/, alertList, "Alerts", "staff"],
  [/^police\/new$/, compose, "Write an alert", "staff"],
  [/^police\/alerts\/([0-9a-f-]{36})$/, alertDetail, "Alert", "staff"],
  [/^police\/replies$/, replies, "Replies", "staff"],
  [/^police\/verification$/, verificationQueue, "Verification queue", "staff"],
  [
    /^police\/verification\/(?<kind>address|identity|coordinator)\/(?<id>[0-9a-f-]{36})$/,
    verificationItem,
    "Verification",
    "staff",
  ],
];

function navLinks(session) {
  if (!session) {
    return [
      ["#/sign-in", "Sign in"],
      ["#/sign-up", "Sign up"],
      ["#/dashboard", "Dashboard"],
    ];
  }
  const links = [
    ["#/inbox", "My alerts"],
    ["#/areas", "Areas I watch"],
    ["#/preferences", "Preferences"],
    ["#/account", "My account"],
    ["#/dashboard", "Dashboard"],
  ];
  if (isStaff(session)) {
    links.push(
      ["#/police", "Alerts"],
      ["#/police/new", "Write an alert"],
      ["#/police/replies", "Replies"],
    );
  }
  if (canVet(session)) links.push(["#/police/verification", "Verification queue"]);
  return links;
}

function renderNav(path) {
  const session = currentSession();
  const nav = document.getElementById("nav");
  const items = navLinks(session).map(([href, text]) =>
    h("li", {}, h("a", { href, "aria-current": href === `#/${path}` ? "page" : undefined }, text)),
  );
  if (session) {
    items.push(
      h("li", {}, h("button", { type: "button", class: "linklike", onclick: signOut }, "Sign out")),
    );
  }
  nav.replaceChildren(...items);
}

async function signOut() {
  const session = currentSession();
  if (session) {
    try {
      await api("/identity/tokens/revocation", {
        method: "POST",
        body: { refresh_token: session.refreshToken },
      });
    } catch {
      // Signing out locally matters most; the refresh token expires on its own.
    }
  }
  clearSession();
  location.hash = "#/sign-in";
}

function home(main) {
  const session = currentSession();
  if (session) {
    location.replace(isStaff(session) ? "#/police" : "#/inbox");
    return;
  }
  add(
    main,
    h("h1", {}, "Tawny: crime alerts for your part of London"),
    h(
      "p",
      {},
      "Hear from the police and your neighbours about what is happening near you: burglaries, " +
        "scams, missing people, road closures. You choose the areas and the kinds of alert; " +
        "you stay anonymous to other members.",
    ),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: "#/sign-up" }, "Sign up"),
      h("a", { class: "button secondary", href: "#/sign-in" }, "Sign in"),
    ),
  );
}

let rendering = 0;

async function render() {
  // Each view renders into its own container: a slow view the user has already left writes
  // into a detached element, never into the page they moved on to.
  const main = h("div", { class: "view" });
  document.getElementById("main").replaceChildren(main);
  const raw = location.hash.startsWith("#/") ? location.hash.slice(2) : "";
  const [path, queryString] = raw.split("?");
  const params = new URLSearchParams(queryString || "");
  renderNav(path);
  const ticket = ++rendering;
  if (location.pathname === "/reset-password") {
    document.title = "Choose a new password - Tawny";
    await resetPassword(main, new URLSearchParams(location.hash.slice(1)));
    return;
  }
  for (const [pattern, view, title, needs] of routes) {
    const match = pattern.exec(path);
    if (!match) continue;
    const session = currentSession();
    if (needs && !session) {
      location.replace(`#/sign-in?next=${encodeURIComponent(path)}`);
      return;
    }
    if (needs === "staff" && !isStaff(session)) {
      add(
        main,
        h("h1", {}, "Police and partners only"),
        h("p", {}, "This page is for police officers and partners."),
      );
      return;
    }
    document.title = `${title} - Tawny`;
    try {
      const { id = match[1], kind } = match.groups || {};
      await view(main, { params, id, kind, isOfficer: isOfficer(session) });
    } catch (error) {
      if (ticket !== rendering) return;
      if (error.status === 401) {
        // The sign-in has lapsed (the refresh token too): sign in again and come back here.
        clearSession();
        location.replace(`#/sign-in?next=${encodeURIComponent(path)}`);
        return;
      }
      add(
        main,
        h(
          "div",
          { class: "error-summary", role: "alert" },
          h("p", { class: "error" }, error.message),
        ),
      );
    }
    if (ticket === rendering) {
      const heading = main.querySelector("h1");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        // After a navigation, focus the new view's heading so screen readers announce it.
        if (navigated) heading.focus();
      }
    }
    return;
  }
  document.title = "Not found - Tawny";
  add(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Go to the start")));
}

let navigated = false;

window.addEventListener("hashchange", () => {
  navigated = true;
  if (
    location.hash.startsWith("#/") ||
    location.hash === "" ||
    location.pathname === "/reset-password"
  )
    render();
});
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
render();
