// Timestamps: shown in the viewer's time zone, with UTC on hover.

import { h } from "./dom.js";

const LOCAL = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "medium",
});
const UTC = new Intl.DateTimeFormat("en-GB", {
  dateStyle: "medium",
  timeStyle: "medium",
  timeZone: "UTC",
});

/** A <time> for an RFC 3339 string from the API (a dash for null). */
export function timeElement(iso) {
  if (!iso) return h("span", { class: "none", "aria-label": "none" }, "—");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, iso);
  return h("time", { datetime: iso, title: `${UTC.format(date)} UTC` }, LOCAL.format(date));
}

/** An API timestamp as the value of a datetime-local input (local time, minutes). */
export function toLocalInput(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

/** A datetime-local input's value (local time) as an RFC 3339 UTC string for the API. */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : "";
}
