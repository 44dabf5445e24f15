// The login page: user name and password -> POST /auth/token -> the API's own token.

import * as api from "../api.js";
import { append, h, message } from "../dom.js";
import * as routes from "../routes.js";
import * as session from "../session.js";

/** Render the login form into `view`; `route.query` may hold `next` and `reason`. */
export async function render(view, route) {
  const next = route.query.get("next");
  const reason = route.query.get("reason");
  const errors = h("div", { id: "login-errors" });
  const username = h("input", {
    id: "username",
    name: "username",
    autocomplete: "username",
    required: true,
    autofocus: true,
  });
  const password = h("input", {
    id: "password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { class: "login", "aria-describedby": "login-errors" },
    h("div", { class: "field" }, h("label", { for: "username" }, "User name"), username),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
    h("button", { type: "submit" }, "Log in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      session.save(await api.login(username.value, password.value));
      location.replace(routes.isSafeNext(next) ? next : routes.href.home());
    } catch (err) {
      errors.replaceChildren(message(err.message));
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  append(
    view,
    h("h1", { tabindex: "-1" }, "Log in"),
    reason ? message(`Your session ended (${reason}). Log in again to continue.`, "info") : null,
    errors,
    form,
  );
}
