// A JSON text editor that says, as you type, whether its text is valid JSON; forms
// refuse to send invalid text. The text is sent as typed, so big numbers stay exact.

import { h } from "./dom.js";

/**
 * @param {{id: string, label: string, text?: string, onValidity?: (ok: boolean) => void}} options
 * @returns {{element: HTMLElement, textarea: HTMLTextAreaElement, check: () => boolean}}
 */
export function jsonEditor({ id, label, text = "", onValidity = () => {} }) {
  const error = h("p", { id: `${id}-error`, class: "field-error", "aria-live": "polite" });
  const textarea = h("textarea", {
    id,
    name: id,
    class: "json-editor",
    rows: Math.min(24, Math.max(4, text.split("\n").length + 1)),
    spellcheck: "false",
    autocapitalize: "off",
    "aria-describedby": `${id}-error`,
  });
  textarea.value = text;
  const check = () => {
    let problem = "";
    if (!textarea.value.trim()) problem = "Enter a JSON value (for example null, 3, \"text\" or {}).";
    else {
      try {
        JSON.parse(textarea.value);
      } catch (err) {
        problem = `Not valid JSON: ${err.message}`;
      }
    }
    error.textContent = problem;
    if (problem) textarea.setAttribute("aria-invalid", "true");
    else textarea.removeAttribute("aria-invalid");
    onValidity(!problem);
    return !problem;
  };
  textarea.addEventListener("input", check);
  const element = h("div", { class: "field field-wide" }, h("label", { for: id }, label), textarea, error);
  return { element, textarea, check };
}
