// The page's only way to the server: the public API, with the tab's bearer token.

import * as session from "./session.js";

/** An API answer that was not a success; `detail` is the API's own `detail`. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(formatDetail(detail));
    this.status = status;
    this.detail = detail;
  }
}

/** The session is gone (expired, forged or missing token); the app shows the login page. */
export class SessionLost extends ApiError {}

export const SESSION_LOST_EVENT = "xcomkit:session-lost";

/** `detail` as one line of text: a string as is; a 422 list as "where: message" parts. */
export function formatDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((e) => (e && e.msg ? `${(e.loc || []).join(".")}: ${e.msg}` : JSON.stringify(e)))
      .join("; ");
  }
  return JSON.stringify(detail);
}

/** A path of URL segments, each percent-encoded (so "/" inside a key stays one segment). */
export function path(...segments) {
  return segments.map((s) => encodeURIComponent(String(s))).join("/");
}

/** `/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries[/{key}]` */
export function xcomPath(dagId, runId, taskId, key) {
  const base =
    `/api/v2/dags/${path(dagId)}/dagRuns/${path(runId)}` +
    `/taskInstances/${path(taskId)}/xcomEntries`;
  return key === undefined ? base : `${base}/${path(key)}`;
}

function isSessionFailure(status, detail) {
  // As the API answers: 401 for a missing or expired token, 403 "Invalid JWT token" for a
  // forged one. A plain 403 "Forbidden" (a viewer writing) is shown in place instead.
  return status === 401 || (status === 403 && detail === "Invalid JWT token");
}

/**
 * Send one request and answer the body's text (callers parse it, keeping big numbers).
 * @param {string} method
 * @param {string} url path and query
 * @param {string} [jsonText] a request body, already JSON text
 * @param {{sessionCheck?: boolean}} [options] sessionCheck false: a 401 is a plain error
 * @returns {Promise<string>}
 * @throws {SessionLost} for 401 / invalid token (after announcing it)
 * @throws {ApiError} for any other non-2xx answer
 */
export async function send(method, url, jsonText, { sessionCheck = true } = {}) {
  const headers = { Accept: "application/json" };
  const t = session.token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (jsonText !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: jsonText,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, `The server did not answer (${err.message}).`);
  }
  const text = await response.text();
  if (response.ok) return text;
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = JSON.parse(text);
    detail = body.detail ?? body.error ?? detail;
  } catch {
    // not JSON: keep the status line
  }
  if (sessionCheck && isSessionFailure(response.status, detail)) {
    session.clear();
    window.dispatchEvent(new CustomEvent(SESSION_LOST_EVENT, { detail: formatDetail(detail) }));
    throw new SessionLost(response.status, detail);
  }
  throw new ApiError(response.status, detail);
}

/**
 * True when the API answers without a token (the server runs with `--no-auth`).
 * One cheap read: the first DAG run of any DAG.
 */
export async function authIsOff() {
  try {
    await send("GET", "/api/v2/dags/~/dagRuns?limit=1", undefined, { sessionCheck: false });
    return true;
  } catch {
    return false;
  }
}

/** GET `url` and parse with JSON.parse (for bodies without user values: lists, runs). */
export async function getJson(url) {
  return JSON.parse(await send("GET", url));
}

/**
 * Log in; answers the access token.
 * @throws {ApiError} 401 "Invalid credentials", 400 for an empty field...
 */
export async function login(username, password) {
  const body = JSON.stringify({ username, password });
  const text = await send("POST", "/auth/token", body, { sessionCheck: false });
  return JSON.parse(text).access_token;
}
