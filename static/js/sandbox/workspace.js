// The sandbox as a workspace: every run has its own URL, the draft survives a reload.
// Used by the sandbox page's modules; plain ES module, no build step.

import { root } from "./context.js";

const DRAFT_KEY = "firstbreak.sandbox.draft";

// The run page URL of run `id`, built from the page's own pattern (…/runs/0/).
export function runPageUrl(id) {
  return root.dataset.runPage.replace(/0\/$/, `${id}/`);
}

// Put the run in the address bar so reload and the back button come back to it.
export function rememberRun(id, { replace = false } = {}) {
  const url = runPageUrl(id);
  if (replace) history.replaceState({ run: id }, "", url);
  else if (location.pathname !== url) history.pushState({ run: id }, "", url);
}

// The run this page was opened on (the run page embeds it), or null on the plain sandbox.
export function initialRun() {
  const node = document.getElementById("sandbox-run");
  return node ? JSON.parse(node.textContent) : null;
}

export function saveDraft(body) {
  try {
    localStorage.setItem(DRAFT_KEY, JSON.stringify(body));
  } catch {
    // private mode or a full quota: the draft just does not survive a reload
  }
}

export function loadDraft() {
  try {
    const draft = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null");
    return draft && typeof draft === "object" ? draft : null;
  } catch {
    return null;
  }
}

let draftTimer = null;

// Save what `read()` returns shortly after the learner stops typing.
export function saveDraftSoon(read) {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(() => {
    const body = read();
    if (body) saveDraft(body);
  }, 250);
}
