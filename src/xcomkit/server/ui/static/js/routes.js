// The page's places, kept in the URL fragment: "#/<name>/<segments...>?<query>".
// Segments are percent-encoded, so a "/" inside a key stays inside its segment.

const enc = (s) => encodeURIComponent(String(s));

/**
 * The route of a location hash.
 * @param {string} hash e.g. "#/xcoms/~/~/~?xcom_key_pattern=a"
 * @returns {{name: string, segments: string[], query: URLSearchParams, hash: string}}
 */
export function parse(hash) {
  const text = hash.replace(/^#\/?/, "");
  const cut = text.indexOf("?");
  const pathPart = cut < 0 ? text : text.slice(0, cut);
  const query = new URLSearchParams(cut < 0 ? "" : text.slice(cut + 1));
  const [name = "", ...segments] = pathPart.split("/").map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { name, segments, query, hash: `#/${text}` };
}

const withQuery = (base, query) => {
  const q = new URLSearchParams(query || "").toString();
  return q ? `${base}?${q}` : base;
};

/** Hrefs of every place. */
export const href = {
  home: () => "#/xcoms/~/~/~",
  login: (next, reason) =>
    withQuery("#/login", { ...(next ? { next } : {}), ...(reason ? { reason } : {}) }),
  runs: (query) => withQuery("#/runs", query),
  xcoms: (dagId, runId, taskId, query) =>
    withQuery(`#/xcoms/${enc(dagId)}/${enc(runId)}/${enc(taskId)}`, query),
  xcom: (dagId, runId, taskId, key, mapIndex, query) =>
    withQuery(`#/xcom/${enc(dagId)}/${enc(runId)}/${enc(taskId)}/${enc(key)}`, {
      ...(Number(mapIndex) !== -1 ? { map_index: String(mapIndex) } : {}),
      ...Object.fromEntries(new URLSearchParams(query || "")),
    }),
};

/** True for a place the login page may send the user back to. */
export function isSafeNext(next) {
  return typeof next === "string" && /^#\/(xcoms|xcom|runs)(\/|\?|$)/.test(next);
}
