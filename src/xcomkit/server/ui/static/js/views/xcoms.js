// XCom lists: GET .../dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries,
// where "~" matches every DAG, run or task, with the API's filters, ordering and paging.
// Writers also get a form to create an XCom.

import * as api from "../api.js";
import { append, h, message } from "../dom.js";
import { jsonEditor } from "../editor.js";
import { orderBy, pager, sortHeader, tableRegion, withQuery } from "../listing.js";
import * as routes from "../routes.js";
import * as session from "../session.js";
import { fromLocalInput, timeElement, toLocalInput } from "../time.js";

const PATTERN_HINT = "Contains, ignoring case; % and _ are wildcards, | separates alternatives.";
const PREFIX_HINT = "Starts with (case-sensitive); | separates alternatives.";

// [API parameter, label, input type, hint]; the first FRONT ones are always shown.
const FILTERS = [
  ["xcom_key_pattern", "Key contains", "text", PATTERN_HINT],
  ["xcom_key", "Key (exact)", "text"],
  ["xcom_key_prefix_pattern", "Key starts with", "text", PREFIX_HINT],
  ["dag_display_name_pattern", "DAG display name contains", "text", PATTERN_HINT],
  ["run_id_pattern", "Run id contains", "text", PATTERN_HINT],
  ["task_id_pattern", "Task id contains", "text", PATTERN_HINT],
  ["map_index", "Map index", "number"],
  ["logical_date_gte", "Logical date from", "datetime-local"],
  ["logical_date_lte", "Logical date to", "datetime-local"],
  ["run_after_gte", "Run after from", "datetime-local"],
  ["run_after_lte", "Run after to", "datetime-local"],
];
const FRONT = 1;
const FILTER_NAMES = FILTERS.map(([name]) => name);

// [field, label, orderable]
const COLUMNS = [
  ["key", "Key", true],
  ["dag_id", "DAG", true],
  ["run_id", "Run", true],
  ["task_id", "Task", true],
  ["map_index", "Map index", true],
  ["timestamp", "Timestamp", true],
  ["logical_date", "Logical date", false],
  ["run_after", "Run after", true],
];
const PAGE = 50;

function field(id, label, input, hint) {
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    input,
    hint ? h("small", { id: `${id}-hint`, class: "hint" }, hint) : null,
  );
}

function filterForm(segments, query) {
  const [dagId, runId, taskId] = segments;
  const pathInputs = [
    ["f-dag_id", "DAG id", dagId],
    ["f-dag_run_id", "Run id", runId],
    ["f-task_id", "Task id", taskId],
  ].map(([id, label, value]) => [
    id,
    label,
    h("input", { id, value: value === "~" ? "" : value, placeholder: "any" }),
  ]);
  const inputs = FILTERS.map(([name, label, type, hint]) => {
    const value = query.get(name) || "";
    const input = h("input", {
      id: `f-${name}`,
      name,
      type,
      value: type === "datetime-local" ? toLocalInput(value) : value,
      ...(type === "number" ? { min: -1, step: 1 } : {}),
    });
    return [name, label, input, hint];
  });
  const more = h(
    "details",
    { class: "more-filters", open: inputs.slice(FRONT).some(([, , i]) => i.value) },
    h("summary", {}, "More filters"),
    h("div", { class: "fields" }, inputs.slice(FRONT).map(([n, l, i, hint]) => field(`f-${n}`, l, i, hint))),
  );
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "XCom filters" },
    h(
      "div",
      { class: "fields" },
      pathInputs.map(([id, label, input]) => field(id, label, input)),
      inputs.slice(0, FRONT).map(([n, l, i, hint]) => field(`f-${n}`, l, i, hint)),
    ),
    more,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit" }, "Filter"),
      h("a", { href: routes.href.xcoms("~", "~", "~"), class: "button-link" }, "Clear"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = { offset: null };
    for (const [name, , input] of inputs) {
      changes[name] = input.type === "datetime-local" ? fromLocalInput(input.value) : input.value.trim();
    }
    const [d, r, t] = pathInputs.map(([, , input]) => input.value.trim() || "~");
    location.hash = routes.href.xcoms(d, r, t, withQuery(query, changes));
  });
  return form;
}

function createForm(segments) {
  const [dagId, runId, taskId] = segments.map((s) => (s === "~" ? "" : s));
  const errors = h("div", { class: "form-errors" });
  const input = (id, value, extra = {}) => h("input", { id, value, required: true, ...extra });
  const fields = {
    dag_id: input("c-dag_id", dagId),
    dag_run_id: input("c-dag_run_id", runId),
    task_id: input("c-task_id", taskId),
    key: input("c-key", ""),
    map_index: input("c-map_index", "-1", { type: "number", min: -1, step: 1 }),
  };
  const submit = h("button", { type: "submit" }, "Create");
  const editor = jsonEditor({
    id: "c-value",
    label: "Value (JSON)",
    text: "",
    onValidity: (ok) => (submit.disabled = !ok),
  });
  const form = h(
    "form",
    { class: "create", "aria-label": "New XCom" },
    h(
      "div",
      { class: "fields" },
      field("c-dag_id", "DAG id", fields.dag_id),
      field("c-dag_run_id", "Run id", fields.dag_run_id),
      field("c-task_id", "Task id", fields.task_id),
      field("c-key", "Key", fields.key),
      field("c-map_index", "Map index", fields.map_index),
    ),
    editor.element,
    errors,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    if (!editor.check()) return;
    const mapIndex = Number(fields.map_index.value);
    // The value's own text is spliced in (it was checked above), so numbers stay exact.
    const body =
      `{"key":${JSON.stringify(fields.key.value)},"map_index":${mapIndex},` +
      `"value":${editor.textarea.value}}`;
    const where = [fields.dag_id.value, fields.dag_run_id.value, fields.task_id.value];
    submit.disabled = true;
    try {
      await api.send("POST", api.xcomPath(...where), body);
      location.hash = routes.href.xcom(...where, fields.key.value, mapIndex, { created: "1" });
    } catch (err) {
      if (err instanceof api.SessionLost) return;
      errors.replaceChildren(message(err.message));
    } finally {
      submit.disabled = false;
    }
  });
  return h("details", { class: "create-panel" }, h("summary", {}, "New XCom"), form);
}

/** Render an XCom list for `route.segments` [dag_id, dag_run_id, task_id] and its query. */
export async function render(view, route) {
  const segments = [0, 1, 2].map((i) => route.segments[i] || "~");
  const query = route.query;
  const deleted = query.get("deleted");
  query.delete("deleted"); // a one-time notice, not part of the links made from here
  const order = orderBy(query, []);
  const offset = Number(query.get("offset")) || 0;
  const limit = Number(query.get("limit")) || PAGE;
  const apiQuery = withQuery({}, { order_by: order, offset, limit });
  for (const name of FILTER_NAMES) if (query.get(name)) apiQuery.set(name, query.get(name));
  const data = await api.getJson(`${api.xcomPath(...segments)}?${apiQuery}`);

  const here = (q) => routes.href.xcoms(...segments, q);
  const cell = (href, label, title) => h("td", {}, h("a", { href, title }, label));
  const rows = data.xcom_entries.map((x) =>
    h(
      "tr",
      {},
      cell(routes.href.xcom(x.dag_id, x.run_id, x.task_id, x.key, x.map_index), x.key),
      cell(routes.href.xcoms(x.dag_id, "~", "~"), x.dag_id, x.dag_display_name),
      cell(routes.href.xcoms(x.dag_id, x.run_id, "~"), x.run_id),
      cell(routes.href.xcoms(x.dag_id, x.run_id, x.task_id), x.task_id, x.task_display_name),
      h("td", { class: "num" }, String(x.map_index)),
      h("td", {}, timeElement(x.timestamp)),
      h("td", {}, timeElement(x.logical_date)),
      h("td", {}, timeElement(x.run_after)),
    ),
  );
  const orderHref = (o) => here(withQuery(query, { order_by: o, offset: null }));
  const heads = COLUMNS.map(([c, label, orderable]) =>
    orderable ? sortHeader(label, c, order, orderHref) : h("th", { scope: "col" }, label),
  );
  const named = segments.filter((s) => s !== "~");
  const scope = named.length ? `XComs of ${named.join(" / ")}` : "All XComs";
  const none = h("tr", {}, h("td", { colspan: COLUMNS.length }, "No XComs match."));
  append(
    view,
    h("h1", { tabindex: "-1" }, scope),
    deleted ? message(`Deleted ${deleted}.`, "info") : null,
    filterForm(segments, query),
    session.canWrite() ? createForm(segments) : null,
    tableRegion(
      "XComs",
      h("thead", {}, h("tr", {}, heads)),
      h("tbody", {}, rows.length ? rows : none),
    ),
    pager(data.total_entries, offset, limit, rows.length, (o) => here(withQuery(query, { offset: o }))),
  );
}
