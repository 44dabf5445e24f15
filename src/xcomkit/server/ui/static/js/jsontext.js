// JSON text <-> a tree of nodes that keeps every number's source text, so integers
// beyond 2^53 (which JSON.parse rounds) and decimals stay exactly as the server sent them.
//
// Node shapes:
//   {type: "object", entries: [[key, node], ...]}   (order and duplicates kept)
//   {type: "array", items: [node, ...]}
//   {type: "string", value: "..."}
//   {type: "number", text: "12345678901234567890"}
//   {type: "boolean", value: true} | {type: "null"}

const WS = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERALS = [
  ["true", { type: "boolean", value: true }],
  ["false", { type: "boolean", value: false }],
  ["null", { type: "null" }],
];

/**
 * Parse JSON text.
 * @param {string} text
 * @returns {object} the root node
 * @throws {SyntaxError} with the offset of the first error
 */
export function parse(text) {
  let pos = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at position ${pos}`);
  };
  const skip = () => {
    WS.lastIndex = pos;
    WS.test(text);
    pos = WS.lastIndex;
  };
  const match = (re) => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return null;
    pos = re.lastIndex;
    return m[0];
  };
  const value = () => {
    skip();
    const c = text[pos];
    if (c === "{") return object();
    if (c === "[") return array();
    if (c === '"') {
      const s = match(STRING);
      if (s === null) fail("Bad string");
      return { type: "string", value: JSON.parse(s) };
    }
    for (const [word, node] of LITERALS) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { ...node };
      }
    }
    const n = match(NUMBER);
    if (n === null) fail(c === undefined ? "Unexpected end" : "Unexpected character");
    return { type: "number", text: n };
  };
  const object = () => {
    pos++;
    const entries = [];
    skip();
    if (text[pos] === "}") {
      pos++;
      return { type: "object", entries };
    }
    for (;;) {
      skip();
      const k = match(STRING);
      if (k === null) fail("Expected a key");
      skip();
      if (text[pos] !== ":") fail("Expected ':'");
      pos++;
      entries.push([JSON.parse(k), value()]);
      skip();
      if (text[pos] === ",") pos++;
      else if (text[pos] === "}") {
        pos++;
        return { type: "object", entries };
      } else fail("Expected ',' or '}'");
    }
  };
  const array = () => {
    pos++;
    const items = [];
    skip();
    if (text[pos] === "]") {
      pos++;
      return { type: "array", items };
    }
    for (;;) {
      items.push(value());
      skip();
      if (text[pos] === ",") pos++;
      else if (text[pos] === "]") {
        pos++;
        return { type: "array", items };
      } else fail("Expected ',' or ']'");
    }
  };
  const root = value();
  skip();
  if (pos !== text.length) fail("Unexpected text after the value");
  return root;
}

/**
 * JSON text of a node; numbers are written as their source text.
 * @param {object} node
 * @param {number} [indent] spaces per level; 0 for compact
 */
export function stringify(node, indent = 0, depth = 0) {
  const pad = indent ? "\n" + " ".repeat(indent * (depth + 1)) : "";
  const end = indent ? "\n" + " ".repeat(indent * depth) : "";
  switch (node.type) {
    case "object":
      if (!node.entries.length) return "{}";
      return `{${pad}${node.entries
        .map(([k, v]) => `${JSON.stringify(k)}:${indent ? " " : ""}${stringify(v, indent, depth + 1)}`)
        .join("," + pad)}${end}}`;
    case "array":
      if (!node.items.length) return "[]";
      return `[${pad}${node.items.map((v) => stringify(v, indent, depth + 1)).join("," + pad)}${end}]`;
    case "string":
      return JSON.stringify(node.value);
    case "number":
      return node.text;
    case "boolean":
      return String(node.value);
    default:
      return "null";
  }
}

/** The node of `key` in an object node, or undefined. */
export function member(node, key) {
  return node.type === "object" ? node.entries.find(([k]) => k === key)?.[1] : undefined;
}

/** True for a number that JavaScript numbers cannot hold exactly (an integer beyond 2^53). */
export function isBeyondSafe(node) {
  return (
    node.type === "number" &&
    /^-?[0-9]+$/.test(node.text) &&
    !Number.isSafeInteger(Number(node.text))
  );
}

/** UTF-8 byte length of `text`. */
export function byteLength(text) {
  return new TextEncoder().encode(text).length;
}
