// The access token of this tab. It lives in sessionStorage (this tab only, gone when the
// tab closes), is sent only in the Authorization header, and never goes into a URL.
// docs/ui.md explains why this rather than a cookie.

const TOKEN_KEY = "xcomkit.access_token";
const WRITERS = new Set(["user", "op", "admin"]);

/** The stored access token, or null. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** Keep `accessToken` for this tab. */
export function save(accessToken) {
  sessionStorage.setItem(TOKEN_KEY, accessToken);
}

/** Forget the token (log out). */
export function clear() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * The token's claims (`sub`, `role`, `exp`...), read without verifying the signature:
 * only to choose what to show. The server verifies every request.
 * @returns {{sub?: string, role?: string, exp?: number} | null}
 */
export function claims() {
  const t = token();
  if (!t) return null;
  try {
    const part = t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** True when the token's role may create, update and delete XComs. */
export function canWrite() {
  return WRITERS.has(claims()?.role);
}
