// A JSON value as a collapsible tree of <details> elements (keyboard-operable as they
// are: Tab to a summary, Enter or Space to fold and unfold it). Children are built when
// a node is first opened, and big arrays and objects show CHUNK children at a time, so
// a huge value costs only what is looked at.

import { h } from "./dom.js";
import { isBeyondSafe } from "./jsontext.js";

/** Strings longer than this are folded, showing their first PREVIEW characters. */
export const LONG_STRING = 120;
const PREVIEW = 80;
/** Containers with more children than this start folded. */
export const BIG_CONTAINER = 50;
/** Levels open at first (deeper containers start folded). */
const OPEN_DEPTH = 2;
/** Children added per "show more". */
const CHUNK = 200;

const count = (n, one, many) => `${n.toLocaleString()} ${n === 1 ? one : many}`;

function keyLabel(key) {
  if (key === undefined) return null;
  return [h("span", { class: "jt-key" }, typeof key === "number" ? String(key) : JSON.stringify(key)), ": "];
}

function leaf(node) {
  switch (node.type) {
    case "string":
      return h("span", { class: "jt-string" }, JSON.stringify(node.value));
    case "number":
      return isBeyondSafe(node)
        ? h(
            "span",
            { class: "jt-number jt-big", title: "Exact: beyond JavaScript's 2^53, shown as sent" },
            node.text,
          )
        : h("span", { class: "jt-number" }, node.text);
    case "boolean":
      return h("span", { class: "jt-literal" }, String(node.value));
    default:
      return h("span", { class: "jt-literal" }, "null");
  }
}

function longString(node, key) {
  const chars = [...node.value].length;
  const details = h(
    "details",
    { class: "jt-node jt-long" },
    h(
      "summary",
      {},
      keyLabel(key),
      h("span", { class: "jt-string" }, JSON.stringify(node.value.slice(0, PREVIEW)) + "…"),
      h("span", { class: "jt-size" }, ` ${count(chars, "character", "characters")}`),
    ),
  );
  details.append(h("pre", { class: "jt-full jt-string" }, JSON.stringify(node.value)));
  return details;
}

function container(node, key, depth) {
  const isArray = node.type === "array";
  const children = isArray ? node.items.map((v, i) => [i, v]) : node.entries;
  const size = isArray ? count(children.length, "item", "items") : count(children.length, "key", "keys");
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (children.length === 0) {
    return h("div", { class: "jt-leaf" }, keyLabel(key), h("span", { class: "jt-punct" }, open + close));
  }
  const list = h("ul", { class: "jt-children" });
  let shown = 0;
  const more = h("button", { type: "button", class: "jt-more" });
  more.addEventListener("click", () => showMore());
  const showMore = () => {
    const next = children.slice(shown, shown + CHUNK);
    for (const [k, v] of next) list.append(h("li", {}, render(v, k, depth + 1)));
    shown += next.length;
    if (shown < children.length) {
      const left = children.length - shown;
      const batch = Math.min(CHUNK, left).toLocaleString();
      more.textContent = `Show ${batch} more (${left.toLocaleString()} left)`;
      list.append(more);
    } else more.remove();
  };
  const details = h(
    "details",
    { class: "jt-node", "data-kind": node.type },
    h(
      "summary",
      {},
      keyLabel(key),
      h("span", { class: "jt-punct" }, `${open}…${close}`),
      h("span", { class: "jt-size" }, ` ${size}`),
    ),
    list,
  );
  details.addEventListener("toggle", () => {
    if (details.open && shown === 0) showMore();
  });
  if (depth < OPEN_DEPTH && children.length <= BIG_CONTAINER) {
    details.open = true;
    showMore();
  }
  return details;
}

/**
 * The tree of one node.
 * @param {object} node a node from jsontext.parse
 * @param {string|number} [key] its key in the parent (object key or array index)
 * @param {number} [depth]
 * @returns {HTMLElement}
 */
export function render(node, key, depth = 0) {
  if (node.type === "object" || node.type === "array") return container(node, key, depth);
  if (node.type === "string" && node.value.length > LONG_STRING) return longString(node, key);
  return h("div", { class: "jt-leaf" }, keyLabel(key), leaf(node));
}

/** Open (`true`) or fold every node under `root`, building children as they open. */
export function setAllOpen(root, open) {
  // Opening builds children, which may hold more <details>: repeat until none is left.
  for (let pass = 0; pass < 64; pass++) {
    const todo = [...root.querySelectorAll("details.jt-node")].filter((d) => d.open !== open);
    if (!todo.length) return;
    for (const d of todo) {
      d.open = open;
      if (open) d.dispatchEvent(new Event("toggle"));
    }
  }
}
