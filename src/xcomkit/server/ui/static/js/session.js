// The access token of this tab. It lives in sessionStorage (this tab only, gone when the
// tab closes), is sent only in the Authorization header, and never goes into a URL.
// docs/ui.md explains why this rather than a cookie.

const TOKEN_KEY = "xcomkit.access_token";
// Set when the API answered without a token (`xcomkit serve --no-auth`): every caller is
// an anonymous admin there, and the page needs no login.
const OPEN_KEY = "xcomkit.auth_off";
const ANONYMOUS = { sub: "anonymous", role: "admin" };
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
  sessionStorage.removeItem(OPEN_KEY);
}

/** Remember that the API serves this tab without a token (authentication is off). */
export function markAuthOff() {
  sessionStorage.setItem(OPEN_KEY, "1");
}

/** True when the page may call the API: it has a token, or the API needs none. */
export function active() {
  return Boolean(token()) || sessionStorage.getItem(OPEN_KEY) === "1";
}

/**
 * The token's claims (`sub`, `role`, `exp`...), read without verifying the signature:
 * only to choose what to show. The server verifies every request.
 * @returns {{sub?: string, role?: string, exp?: number} | null}
 */
export function claims() {
  const t = token();
  if (!t) return sessionStorage.getItem(OPEN_KEY) === "1" ? { ...ANONYMOUS } : null;
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
