// Building DOM nodes safely: text is always set as text (never parsed as HTML).

/**
 * Create an element.
 * @param {string} tag
 * @param {Object<string, any>} [props] attributes; `on<event>` adds a listener;
 *   `class` sets the class; null, undefined and false are skipped; true sets "".
 * @param {...any} children nodes, strings (added as text) or arrays of them.
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
  }
  append(el, ...children);
  return el;
}

/** Append children (nodes or text) to `el`, skipping null, undefined and false. */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A message box: `role="alert"` for errors (read out at once), `status` otherwise. */
export function message(text, kind = "error") {
  return h("p", { class: `msg msg-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
