// JSON calls to the project's API, with the CSRF token the page carries. Plain ES module.

export function csrfToken() {
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
  } catch {
    // fall back to the cookie
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// Never throws for a lost connection: the answer then has status 0 and an error message, so every caller
// handles "offline" like any other failed answer. An aborted request (`signal`) still throws AbortError.
export async function api(method, url, body, { signal } = {}) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = csrfToken();
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return { ok: false, status: 0, data: { error: "The server could not be reached." }, retryAfter: null };
  }
  let data;
  try {
    data = await response.json();
  } catch {
    data = { error: `The server answered ${response.status} without JSON.` };
  }
  return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("Retry-After") };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
