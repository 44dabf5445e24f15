// Pieces shared by the list pages: sortable column headers, paging, the route's query.

import { h } from "./dom.js";

/** The `order_by` list of a route query, or `fallback`. */
export function orderBy(query, fallback) {
  const given = query.getAll("order_by").filter(Boolean);
  return given.length ? given : fallback;
}

/**
 * A sortable <th>: a link that orders by `column` (ascending, or descending when the list
 * is already ascending by it). `aria-sort` tells the current order.
 * @param {string} label
 * @param {string} column the API's order_by name
 * @param {string[]} current the current order_by list
 * @param {(order: string) => string} hrefFor the route href ordering by `order`
 */
export function sortHeader(label, column, current, hrefFor) {
  const first = current[0] || "";
  const ascending = first === column;
  const descending = first === `-${column}`;
  const sort = ascending ? "ascending" : descending ? "descending" : "none";
  const arrow = ascending ? " ▲" : descending ? " ▼" : "";
  return h(
    "th",
    { scope: "col", "aria-sort": sort },
    h(
      "a",
      {
        href: hrefFor(ascending ? `-${column}` : column),
        title: `Order by ${label}${ascending ? ", descending" : ""}`,
      },
      label,
      arrow,
    ),
  );
}

const n = (x) => x.toLocaleString();
const link = (href, rel, label) =>
  href ? h("a", { href, rel }, label) : h("span", { class: "disabled" }, label);

/**
 * "1–50 of 1,234" with previous and next links.
 * @param {number} total
 * @param {number} offset
 * @param {number} limit
 * @param {number} shown rows on this page
 * @param {(offset: number) => string} hrefFor
 */
export function pager(total, offset, limit, shown, hrefFor) {
  const from = shown ? offset + 1 : 0;
  const to = offset + shown;
  const prev = offset > 0 ? hrefFor(Math.max(0, offset - limit)) : null;
  const next = to < total ? hrefFor(offset + limit) : null;
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    link(prev, "prev", "← Previous"),
    h("span", { class: "count" }, `${n(from)}–${n(to)} of ${n(total)}`),
    link(next, "next", "Next →"),
  );
}

/** A copy of `query` with `changes` applied (null or "" removes; arrays repeat the name). */
export function withQuery(query, changes) {
  const out = new URLSearchParams(query);
  for (const [name, value] of Object.entries(changes)) {
    out.delete(name);
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== null && v !== undefined && v !== "") out.append(name, String(v));
    }
  }
  return out;
}

/** A table inside a scrolling region (narrow windows scroll it, not the page). */
export function tableRegion(label, ...children) {
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" },
    h("table", {}, ...children),
  );
}
