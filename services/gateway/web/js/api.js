// Calls to Tawny's APIs through the gateway (/api/<service>/...), with the signed-in member's
// access token, refreshed once when it has expired. The session lives in sessionStorage: it
// ends with the tab, and the strict Content-Security-Policy keeps other scripts out.

const SESSION_KEY = "tawny.session";
const MAX_RETRY_WAIT_S = 10;

export class ApiError extends Error {
  constructor(status, problem) {
    // A problem that lists its parts (the targeting contract's 422: each detail names its
    // field) is told by its title, then one line per part.
    const listed = Array.isArray(problem.problems) && problem.problems.length > 0;
    super(
      (listed && problem.title) ||
        problem.detail ||
        problem.title ||
        `The request failed (${status})`,
    );
    this.status = status;
    this.problem = problem;
  }

  // Field errors of a 422, as "field: message" lines.
  get fieldMessages() {
    if (Array.isArray(this.problem.problems)) return this.problem.problems.map((p) => p.detail);
    const errors = this.problem.errors || [];
    return errors.map((e) => {
      const where = (e.loc || []).filter((part) => part !== "body").join(" ");
      return where ? `${where}: ${e.msg}` : e.msg;
    });
  }
}

function decodeClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return {};
  }
}

export function currentSession() {
  const stored = sessionStorage.getItem(SESSION_KEY);
  return stored ? JSON.parse(stored) : null;
}

export function saveSession(tokens, email) {
  const claims = decodeClaims(tokens.access_token);
  const previous = currentSession() || {};
  const session = {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    roles: tokens.roles || claims.roles || [],
    memberId: claims.sub,
    verificationLevel: claims.vl || "email",
    email: email || previous.email,
    twoFactorEnrolmentRequired: Boolean(tokens.two_factor_enrolment_required),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

const STAFF_ROLES = ["officer", "admin", "coordinator", "partner", "verifier"];

export function isStaff(session = currentSession()) {
  return Boolean(session && session.roles.some((role) => STAFF_ROLES.includes(role)));
}

// Who works the verification queue: officers (coordinator applications of their area) and
// verifiers (proofs of address and identity documents too).
export function canVet(session = currentSession()) {
  return Boolean(
    session && session.roles.some((role) => role === "officer" || role === "verifier"),
  );
}

export function isOfficer(session = currentSession()) {
  return Boolean(session && session.roles.some((role) => role === "officer" || role === "admin"));
}

// Who may reply to alerts: members whose address (or identity) is verified, as alerts checks.
export function canReply(level) {
  return level === "address" || level === "identity";
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      return await response.json();
    } catch {
      // fall through to a generic problem
    }
  }
  return { title: response.statusText, detail: `The server answered ${response.status}.` };
}

async function refresh(session) {
  const response = await fetch("/api/identity/tokens/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refreshToken }),
  });
  if (!response.ok) {
    clearSession();
    return null;
  }
  return saveSession(await response.json());
}

// A new access token now, for claims that changed since sign-in (a verified address raises the
// verification level that alerts checks before taking a reply).
export async function refreshSession() {
  const session = currentSession();
  return session ? refresh(session) : null;
}

// api("/geo/subscriptions", { method: "POST", body: {...} }) -> parsed JSON, text or null;
// ``form`` (a FormData) is sent as multipart instead of a JSON ``body``.
export async function api(path, { method = "GET", body, form, query, raw = false } = {}) {
  const url = new URL(`/api${path}`, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const send = (session) => {
    const headers = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (session) headers.authorization = `Bearer ${session.accessToken}`;
    // The browser writes a multipart body's content type itself, boundary included.
    return fetch(url, {
      method,
      headers,
      body: form !== undefined ? form : body === undefined ? undefined : JSON.stringify(body),
    });
  };
  let session = currentSession();
  let response = await send(session);
  if (response.status === 401 && session && session.refreshToken) {
    session = await refresh(session);
    if (session) response = await send(session);
  }
  // Over the gateway's rate limit: wait as told, once, if that is short.
  const retryAfter = Number(response.headers.get("retry-after"));
  if (response.status === 429 && retryAfter > 0 && retryAfter <= MAX_RETRY_WAIT_S) {
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    response = await send(currentSession());
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}
