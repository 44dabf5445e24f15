// DAG runs of one DAG or of every DAG ("~"): GET /api/v2/dags/{dag_id}/dagRuns.
// From a run, its XComs; from a DAG id, that DAG's runs.

import * as api from "../api.js";
import { append, h } from "../dom.js";
import { orderBy, pager, sortHeader, tableRegion, withQuery } from "../listing.js";
import * as routes from "../routes.js";
import { timeElement } from "../time.js";

const COLUMNS = [
  ["dag_id", "DAG"],
  ["run_id", "Run"],
  ["logical_date", "Logical date"],
  ["run_after", "Run after"],
  ["state", "State"],
  ["run_type", "Run type"],
];
const DEFAULT_ORDER = ["-run_after"];
const PAGE = 50;

/** Render the runs page for `route.query` (dag_id, order_by, offset, limit). */
export async function render(view, route) {
  const query = route.query;
  const dagId = query.get("dag_id") || "~";
  const order = orderBy(query, DEFAULT_ORDER);
  const offset = Number(query.get("offset")) || 0;
  const limit = Number(query.get("limit")) || PAGE;
  const apiQuery = withQuery({}, { order_by: order, offset, limit });
  const data = await api.getJson(`/api/v2/dags/${api.path(dagId)}/dagRuns?${apiQuery}`);

  const dagInput = h("input", {
    id: "runs-dag",
    name: "dag_id",
    value: dagId === "~" ? "" : dagId,
    placeholder: "every DAG",
  });
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "DAG runs" },
    h("div", { class: "field" }, h("label", { for: "runs-dag" }, "DAG id"), dagInput),
    h("button", { type: "submit" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = routes.href.runs(withQuery(query, { dag_id: dagInput.value.trim(), offset: null }));
  });

  const rows = data.dag_runs.map((run) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: routes.href.runs({ dag_id: run.dag_id }) }, run.dag_id)),
      h("td", {}, h("a", { href: routes.href.xcoms(run.dag_id, run.dag_run_id, "~") }, run.dag_run_id)),
      h("td", {}, timeElement(run.logical_date)),
      h("td", {}, timeElement(run.run_after)),
      h("td", {}, run.state ?? ""),
      h("td", {}, run.run_type ?? ""),
    ),
  );
  const orderHref = (o) => routes.href.runs(withQuery(query, { order_by: o, offset: null }));
  const pageHref = (o) => routes.href.runs(withQuery(query, { offset: o }));
  const heads = COLUMNS.map(([c, label]) => sortHeader(label, c, order, orderHref));
  const none = h("tr", {}, h("td", { colspan: COLUMNS.length }, "No DAG runs."));
  append(
    view,
    h("h1", { tabindex: "-1" }, dagId === "~" ? "DAG runs" : `DAG runs of ${dagId}`),
    form,
    tableRegion(
      "DAG runs",
      h("thead", {}, h("tr", {}, heads)),
      h("tbody", {}, rows.length ? rows : none),
    ),
    pager(data.total_entries, offset, limit, rows.length, pageHref),
  );
}
