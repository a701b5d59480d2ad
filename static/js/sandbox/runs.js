// Runs: start one, poll it token by token, cancel it, load a past one; the history list.

import { $, el, setText, show } from "../lib/dom.js";
import { api } from "../lib/http.js";
import { plural, tokenName } from "../lib/format.js";
import {
  FINISHED, PARAMS, PARAM_LABELS, POLL_MS, REQUEST_KEYS, URLS,
  announceStatus, currentModel, focusLost, isActive, state,
} from "./context.js";
import { renderDetails, renderOutputTokens, resetOutput } from "./output.js";
import { applySettings, replayPayload } from "./prompt.js";
import { updateTools } from "./tools.js";
import { rememberRun } from "./workspace.js";

export function clearRunErrors() {
  setText($("sb-run-error"), "");
  setText($("sb-error-messages"), "");
  setText($("sb-error-prompt"), "");
  for (const name of [...PARAMS, "seed"]) {
    setText($(`sb-error-${name}`), "");
    $(`sb-${name}`).removeAttribute("aria-invalid");
  }
}

function showRunErrors(data) {
  const general = [];
  const marked = [];
  for (const [field, messages] of Object.entries(data.fields || {})) {
    const text = messages.join(" ");
    const target = field === "prompt" && state.mode === "chat" ? null : $(`sb-error-${field}`);
    if (target) {
      setText(target, text);
      if (field === "template") $("sb-template-details").open = true;
      const input = $(`sb-${field}`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        marked.push(input);
      }
    } else {
      general.push(`${PARAM_LABELS[field] || field}: ${text}`);
    }
  }
  const names = marked.map((input) => document.querySelector(`label[for="${input.id}"]`)?.textContent || input.name);
  const hint = names.length ? `Check ${names.join(", ")}.` : "";
  setText($("sb-run-error"), [data.error, ...general, hint].filter(Boolean).join(" "));
  if (marked.length) marked[0].focus();
}

export async function startRun(body) {
  clearRunErrors();
  const fromRun = focusLost("sb-run", "sb-rerun");
  const previous = state.run && state.run.status === "done" ? state.run : null;
  $("sb-run").disabled = true;
  $("sb-rerun").disabled = true;
  announceStatus("Starting a run…");
  const { status, data, retryAfter } = await api("POST", URLS.runs, body);
  if (status === 201) {
    const picked = body.seed === undefined;
    $("sb-seed-help").textContent = picked
      ? `The server picked seed ${data.seed} for run #${data.id}. Empty: the server picks one.`
      : `Run #${data.id} uses seed ${data.seed}. Empty: the server picks one.`;
    state.compare = previous ? { runId: data.id, previous } : null;
    showRun({ id: data.id, status: data.status, seed: data.seed, model: body.model, request: body, params: { ...body, seed: data.seed }, tokens: [], timings: {}, queue_position: null, mine: true });
    if (fromRun && focusLost()) $("sb-cancel").focus();
    announceStatus(`Run #${data.id} started with seed ${data.seed}${picked ? " (picked by the server)" : ""}.`);
    if (window.matchMedia("(max-width: 980px)").matches) $("sb-output-view").scrollIntoView({ block: "start" });
    rememberRun(data.id);
    poll(data.id);
    refreshHistory();
    return;
  }
  announceStatus("");
  if (status === 0) {
    setText($("sb-run-error"), "Could not reach the server. Check your connection and try again.");
  } else if (status === 429) {
    const wait = retryAfter ? ` You can run again in ${retryAfter} s.` : "";
    setText($("sb-run-error"), `${data.error || "Too many runs."}${data.error && data.error.includes("try again") ? "" : wait}`);
  } else if (status === 400) {
    showRunErrors(data);
  } else {
    setText($("sb-run-error"), data.error || `The run could not start (HTTP ${status}).`);
  }
  updateButtons();
  if (fromRun && focusLost()) $("sb-run").focus();
}

export function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollId = null;
}

// Follows a run until it ends: `url(since)` is where to ask for the tokens from index `since` on.
export function poll(id, url = (since) => `${URLS.run(id)}?since=${since}`) {
  stopPolling();
  state.pollId = id;
  let failures = 0;
  // Only new tokens are asked for (`since`); the ones already here are kept.
  let collected = [];
  const tick = async () => {
    if (state.pollId !== id) return;
    const response = await api("GET", url(collected.length));
    if (state.pollId !== id) return;
    if (response.status === 0) {
      failures += 1;
      announceStatus(`Lost contact with the server; retrying (run #${id} keeps going).`);
      state.pollTimer = setTimeout(tick, Math.min(5000, POLL_MS * 2 ** failures));
      return;
    }
    if (!response.ok) {
      stopPolling();
      setText($("sb-run-error"), response.data.error || `Could not load run #${id}.`);
      updateButtons();
      return;
    }
    failures = 0;
    if (response.data.since === collected.length) {
      collected = collected.concat(response.data.tokens || []);
      response.data.tokens = collected;
    }
    showRun(response.data);
    if (FINISHED.has(response.data.status)) {
      stopPolling();
      finished(response.data);
      return;
    }
    state.pollTimer = setTimeout(tick, POLL_MS);
  };
  tick();
}

export function updateButtons() {
  const active = isActive(state.run);
  $("sb-run").disabled = active || !currentModel();
  show($("sb-cancel"), active);
  $("sb-cancel").disabled = false;
  $("sb-rerun").disabled = active || !state.run || !state.run.request;
}

function statusText(run) {
  const count = run.tokens ? run.tokens.length : 0;
  switch (run.status) {
    case "queued":
      return run.queue_position ? `Run #${run.id} is queued: position ${run.queue_position} in the queue.` : `Run #${run.id} is queued.`;
    case "running":
      return `Run #${run.id} is running.`;
    case "done":
      return `Run #${run.id} done: ${plural(count, "token")}, finish reason “${run.finish_reason}”.`;
    case "cancelled":
      return `Run #${run.id} was cancelled after ${plural(count, "token")}.`;
    case "failed":
      return `Run #${run.id} failed.`;
    default:
      return `Run #${run.id}: ${run.status}.`;
  }
}

export function showRun(run) {
  if (!state.run || state.run.id !== run.id) {
    resetOutput();
    setText($("sb-comparison"), "");
  }
  state.run = run;
  $("sb-output-run").textContent = `· run #${run.id}`;
  renderOutputTokens(run);
  const tokens = run.tokens || [];
  let placeholder = "";
  if (run.status === "queued") placeholder = run.queue_position ? `Waiting in the queue: position ${run.queue_position}.` : "Waiting in the queue.";
  else if (run.status === "running" && tokens.length === 0) placeholder = "Reading the prompt…";
  else if (FINISHED.has(run.status) && tokens.length === 0) placeholder = "No tokens were generated.";
  setText($("sb-output-empty"), placeholder);
  updateTools(run);
  announceStatus(statusText(run));
  if (run.status === "failed" && run.error) setText($("sb-run-error"), run.error);
  renderDetails(run);
  updateButtons();
}

export async function cancelRun() {
  if (!state.run || state.cancelling) return;
  // Not disabled while the request goes: a disabled button would drop the keyboard focus.
  state.cancelling = true;
  announceStatus(`Cancelling run #${state.run.id}…`);
  const { ok, data } = await api("POST", URLS.cancel(state.run.id), {});
  if (!ok) setText($("sb-run-error"), data.error || "The run could not be cancelled.");
  state.cancelling = false;
}

function finished(run) {
  const lost = focusLost("sb-cancel");
  updateButtons();
  if (lost) $("sb-output-heading").focus();
  refreshHistory();
  const compare = state.compare;
  if (!compare || compare.runId !== run.id) return;
  state.compare = null;
  if (run.status !== "done") return;
  const previous = compare.previous;
  const same = run.output_text === previous.output_text;
  const changes = settingChanges(previous, run);
  const what = changes.length ? ` Changed: ${changes.join(", ")}.` : " Same request, parameters and seed.";
  setText($("sb-comparison"), `${same ? "Same output as" : "Different output from"} run #${previous.id}.${what}`);
  $("sb-comparison").className = `comparison ${same ? "same" : "different"}`;
}

function settingChanges(a, b) {
  const changes = [];
  if (a.model !== b.model) changes.push(`model ${a.model} → ${b.model}`);
  for (const name of [...PARAMS, "seed"]) {
    // GET /runs/{id} keeps the seed among the params.
    const x = a.params?.[name];
    const y = b.params?.[name];
    if (x !== y) changes.push(`${PARAM_LABELS[name].toLowerCase()} ${x} → ${y}`);
  }
  const prompt = (run) => JSON.stringify(REQUEST_KEYS.map((k) => run.request?.[k] ?? null));
  if (prompt(a) !== prompt(b)) changes.push("the prompt");
  return changes;
}

// A new run that takes `tokenId` at `step` of the shown run instead, and carries on from there.
export async function branchRun(step, tokenId) {
  const parent = state.run;
  if (!parent || parent.status !== "done") return;
  clearRunErrors();
  announceStatus(`Branching run #${parent.id} at ${tokenName(step)}…`);
  const { status, data } = await api("POST", URLS.branch(parent.id), { step, token_id: tokenId });
  if (status !== 201) {
    announceStatus("");
    const fields = data.fields ? Object.values(data.fields).flat().join(" ") : "";
    setText($("sb-run-error"), `${data.error || `The branch could not start (HTTP ${status}).`} ${fields}`.trim());
    return;
  }
  state.compare = null;
  showRun({
    id: data.id, status: data.status, seed: data.seed, model: parent.model, request: parent.request, params: parent.params,
    tokens: [], timings: {}, queue_position: null, mine: true, parent: parent.id, branch_step: step,
  });
  announceStatus(`Run #${data.id} continues run #${parent.id} with another ${tokenName(step)}.`);
  rememberRun(data.id);
  $("sb-output-heading").focus();
  poll(data.id);
  refreshHistory();
}

// --- History ---------------------------------------------------------------------------

function historyItem(run) {
  const button = el("button", { type: "button", class: "history-item", "data-run": String(run.id) },
    el("span", { class: "history-head" },
      el("strong", { text: `#${run.id}` }), " ",
      el("span", { class: `badge ${run.status}`, text: run.status }), " ",
      el("span", { class: "muted small", text: `${run.model} · T ${run.temperature} · seed ${run.seed}` })),
    el("span", { class: "history-text", text: run.prompt_preview }),
    run.status === "failed"
      ? el("span", { class: "history-text error", text: `Failed: ${run.error || "no reason was recorded"}` })
      : el("span", { class: "history-text muted", text: `→ ${run.output_preview || "…"}` }));
  return el("li", { "data-model": run.model }, button);
}

export async function refreshHistory() {
  // On a failed answer the list stays as it was; the next run refreshes it.
  const { ok, data } = await api("GET", URLS.runs);
  if (!ok) return;
  $("sb-history").replaceChildren(...data.runs.slice(0, 20).map(historyItem));
  show($("sb-history-empty"), data.runs.length === 0);
}

export async function loadRun(id, { push = true } = {}) {
  stopPolling();
  state.compare = null;
  clearRunErrors();
  const { ok, status, data } = await api("GET", URLS.run(id));
  if (status === 0) {
    setText($("sb-run-error"), `Could not reach the server to load run #${id}.`);
    return;
  }
  if (!ok) {
    setText($("sb-run-error"), data.error || `Could not load run #${id}.`);
    return;
  }
  applySettings(replayPayload(data));
  showRun(data);
  if (push) rememberRun(id);
  $("sb-output-heading").focus();
  if (!FINISHED.has(data.status)) poll(id);
}
