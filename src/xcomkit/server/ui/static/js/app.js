// The page's entry point: reads the URL fragment, checks there is a session, and shows
// the matching view. Every place is in the URL, so links can be shared and Back works.

import * as api from "./api.js";
import { h, message } from "./dom.js";
import * as routes from "./routes.js";
import * as session from "./session.js";
import * as loginView from "./views/login.js";
import * as runsView from "./views/runs.js";
import * as xcomView from "./views/xcom.js";
import * as xcomsView from "./views/xcoms.js";

const VIEWS = {
  login: loginView,
  runs: runsView,
  xcoms: xcomsView,
  xcom: xcomView,
};

let generation = 0;
let firstRender = true;

function updateHeader() {
  const claims = session.active() ? session.claims() : null;
  document.getElementById("nav").hidden = !claims;
  document.getElementById("who").hidden = !claims;
  document.getElementById("who-name").textContent = claims
    ? `${claims.sub} (${claims.role})`
    : "";
}

async function show() {
  const route = routes.parse(location.hash);
  if (!VIEWS[route.name]) {
    location.replace(routes.href.home());
    return;
  }
  if (route.name !== "login" && !session.active()) {
    if (!(await api.authIsOff())) {
      location.replace(routes.href.login(route.hash));
      return;
    }
    session.markAuthOff();
  }
  updateHeader();
  const gen = ++generation;
  const main = document.getElementById("main");
  main.setAttribute("aria-busy", "true");
  const view = h("div", { class: `view view-${route.name}` });
  try {
    await VIEWS[route.name].render(view, route);
  } catch (err) {
    if (err instanceof api.SessionLost) return; // the login page takes over
    view.append(message(err.message));
  }
  if (gen !== generation) return; // the user went elsewhere meanwhile
  main.replaceChildren(view);
  main.removeAttribute("aria-busy");
  document.title = `${view.querySelector("h1")?.textContent ?? "xcomkit"} · xcomkit`;
  if (!firstRender) (view.querySelector("[autofocus]") || view.querySelector("h1"))?.focus();
  firstRender = false;
}

window.addEventListener(api.SESSION_LOST_EVENT, (event) => {
  const route = routes.parse(location.hash);
  const next = route.name === "login" ? route.query.get("next") : route.hash;
  location.replace(routes.href.login(next, event.detail));
});
window.addEventListener("hashchange", show);
document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  location.hash = routes.href.login();
});
document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault(); // the fragment holds the route: move focus instead
  document.getElementById("main").focus();
});
show();
