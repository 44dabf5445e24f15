// One XCom: GET .../xcomEntries/{key}[?map_index=] shown as a JSON tree, raw text, or the
// API's stringify / deserialize views; writers can edit (PATCH) and delete (DELETE) it.

import * as api from "../api.js";
import { append, h, message } from "../dom.js";
import { jsonEditor } from "../editor.js";
import * as json from "../jsontext.js";
import * as routes from "../routes.js";
import * as session from "../session.js";
import { timeElement } from "../time.js";
import * as tree from "../tree.js";

const VIEWS = [
  ["tree", "Tree"],
  ["raw", "Raw"],
  ["stringify", "Stringify"],
  ["deserialize", "Deserialize"],
];

const text = (node) => (node && node.type !== "null" ? (node.value ?? node.text) : null);

function viewSwitch(current, hrefFor) {
  return h(
    "nav",
    { class: "tabs", "aria-label": "Value views" },
    VIEWS.map(([name, label]) =>
      h("a", { href: hrefFor(name), "aria-current": name === current ? "page" : null }, label),
    ),
  );
}

async function fetchNode(url, params) {
  const q = params.toString();
  return json.parse(await api.send("GET", q ? `${url}?${q}` : url));
}

function copyButton(rawText) {
  const status = h("span", { class: "copy-status", role: "status" });
  const button = h("button", { type: "button" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(rawText);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "The browser refused access to the clipboard.";
    }
  });
  return [button, status];
}

function valueBody(viewName, valueNode) {
  // A focusable <pre>, so that keyboard users can scroll it.
  const pre = (label, content) => h("pre", { class: "raw", tabindex: "0", "aria-label": label }, content);
  if (viewName === "raw") return pre("Raw JSON", json.stringify(valueNode, 2));
  if (viewName === "stringify") return pre("Stringified value", text(valueNode) ?? "null");
  return h("div", { class: "json-tree" }, tree.render(valueNode));
}

function editPanel(url, mapIndex, valueNode, onDone) {
  const errors = h("div", { class: "form-errors" });
  const save = h("button", { type: "submit" }, "Save");
  const editor = jsonEditor({
    id: "edit-value",
    label: "New value (JSON)",
    text: json.stringify(valueNode, 2),
    onValidity: (ok) => (save.disabled = !ok),
  });
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const form = h(
    "form",
    { class: "edit", "aria-label": "Edit value" },
    editor.element,
    errors,
    h("div", { class: "actions" }, save, cancel),
  );
  cancel.addEventListener("click", () => onDone(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    if (!editor.check()) return;
    save.disabled = true;
    try {
      await api.send("PATCH", url, `{"map_index":${mapIndex},"value":${editor.textarea.value}}`);
      onDone(true);
    } catch (err) {
      if (err instanceof api.SessionLost) return;
      errors.replaceChildren(message(err.message));
      save.disabled = false;
    }
  });
  return { form, focus: () => editor.textarea.focus() };
}

function deleteDialog(what, onConfirm) {
  const errors = h("div", { class: "form-errors" });
  const confirm = h("button", { type: "button", class: "danger" }, "Delete");
  const cancel = h("button", { type: "button", class: "secondary", autofocus: true }, "Cancel");
  const dialog = h(
    "dialog",
    { "aria-labelledby": "delete-title", "aria-describedby": "delete-what" },
    h("h2", { id: "delete-title" }, "Delete this XCom?"),
    h("p", { id: "delete-what" }, what),
    errors,
    h("div", { class: "actions" }, confirm, cancel),
  );
  cancel.addEventListener("click", () => dialog.close());
  confirm.addEventListener("click", async () => {
    errors.replaceChildren();
    confirm.disabled = true;
    try {
      await onConfirm();
      dialog.close();
    } catch (err) {
      if (err instanceof api.SessionLost) return;
      errors.replaceChildren(message(err.message));
    } finally {
      confirm.disabled = false;
    }
  });
  dialog.addEventListener("close", () => dialog.remove());
  return dialog;
}

/** Render one XCom for `route.segments` [dag_id, dag_run_id, task_id, key]. */
export async function render(view, route) {
  const [dagId, runId, taskId, key] = route.segments;
  const query = route.query;
  const mapIndex = Number(query.get("map_index") ?? -1);
  const viewName = VIEWS.some(([n]) => n === query.get("view")) ? query.get("view") : "tree";
  const url = api.xcomPath(dagId, runId, taskId, key);
  const base = new URLSearchParams(mapIndex !== -1 ? { map_index: String(mapIndex) } : {});

  const entry = await fetchNode(url, base);
  const valueNode = json.member(entry, "value") ?? { type: "null" };
  let shownNode = valueNode;
  if (viewName === "stringify" || viewName === "deserialize") {
    const params = new URLSearchParams(base);
    params.set(viewName, "true");
    shownNode = json.member(await fetchNode(url, params), "value") ?? { type: "null" };
  }
  const rawText = json.stringify(valueNode);
  const field = (name) => text(json.member(entry, name));
  const here = (query) => routes.href.xcom(dagId, runId, taskId, key, mapIndex, query);
  const hrefFor = (name) => here(name === "tree" ? {} : { view: name });

  const body = h("div", { class: "value-body" }, valueBody(viewName, shownNode));
  const tools = h("div", { class: "tools" }, copyButton(rawText));
  if (viewName !== "raw" && viewName !== "stringify") {
    const expand = h("button", { type: "button" }, "Expand all");
    const collapse = h("button", { type: "button" }, "Collapse all");
    expand.addEventListener("click", () => tree.setAllOpen(body, true));
    collapse.addEventListener("click", () => tree.setAllOpen(body, false));
    tools.append(expand, collapse);
  }
  const notice = h("div", { class: "notices" });
  if (query.get("created")) notice.append(message("Created.", "info"));
  if (session.canWrite()) {
    const edit = h("button", { type: "button" }, "Edit");
    const remove = h("button", { type: "button", class: "danger" }, "Delete");
    edit.addEventListener("click", () => {
      const panel = editPanel(url, mapIndex, valueNode, (saved) => {
        if (!saved) {
          panel.form.replaceWith(body);
          edit.disabled = false;
          edit.focus();
          return;
        }
        // Show the value as the API now answers it (a new history entry is not wanted).
        location.replace(here({ saved: String(Date.now()) }));
      });
      body.replaceWith(panel.form);
      edit.disabled = true;
      panel.focus();
    });
    remove.addEventListener("click", () => {
      const what = `${dagId} / ${runId} / ${taskId} / ${key} (map index ${mapIndex})`;
      const dialog = deleteDialog(what, async () => {
        await api.send("DELETE", `${url}?map_index=${mapIndex}`);
        location.hash = routes.href.xcoms(dagId, runId, taskId, { deleted: key });
      });
      view.append(dialog);
      dialog.showModal();
    });
    tools.append(edit, remove);
  }
  if (query.get("saved")) notice.append(message("Saved.", "info"));

  append(
    view,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: routes.href.xcoms("~", "~", "~") }, "XComs"),
      " / ",
      h("a", { href: routes.href.xcoms(dagId, "~", "~") }, dagId),
      " / ",
      h("a", { href: routes.href.xcoms(dagId, runId, "~") }, runId),
      " / ",
      h("a", { href: routes.href.xcoms(dagId, runId, taskId) }, taskId),
    ),
    h("h1", { tabindex: "-1" }, key),
    notice,
    h(
      "dl",
      { class: "meta" },
      h("dt", {}, "Map index"),
      h("dd", {}, String(mapIndex)),
      h("dt", {}, "Size"),
      h("dd", { class: "size" }, `${json.byteLength(rawText).toLocaleString()} bytes`),
      h("dt", {}, "Timestamp"),
      h("dd", {}, timeElement(field("timestamp"))),
      h("dt", {}, "Logical date"),
      h("dd", {}, timeElement(field("logical_date"))),
      h("dt", {}, "Run after"),
      h("dd", {}, timeElement(field("run_after"))),
      h("dt", {}, "DAG"),
      h("dd", {}, field("dag_display_name") ?? dagId),
      h("dt", {}, "Task"),
      h("dd", {}, field("task_display_name") ?? taskId),
    ),
    viewSwitch(viewName, hrefFor),
    tools,
    body,
  );
}
