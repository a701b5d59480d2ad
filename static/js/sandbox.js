// Inference sandbox: the prompt as tokens, runs polled token by token, and the
// alternatives behind each sampled token. Plain ES module, no build step.

import { initialRun, loadDraft, rememberRun, saveDraftSoon } from "./workspace.js";

const $ = (id) => document.getElementById(id);
const readJSON = (id) => JSON.parse($(id).textContent);

const root = $("sandbox");
const URLS = {
  tokenize: root.dataset.apiTokenize,
  render: root.dataset.apiRender,
  runs: root.dataset.apiRuns,
  run: (id) => `${root.dataset.apiRuns}/${id}`,
  cancel: (id) => `${root.dataset.apiRuns}/${id}/cancel`,
};
const MODELS = readJSON("sandbox-models");
const PRESETS = readJSON("sandbox-presets");
const PARAMS = [
  "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty",
  "max_tokens", "top_n",
];
const PRESET_FIELDS = ["temperature", "top_p", "top_k", "min_p"];
const REQUEST_KEYS = ["messages", "enable_thinking", "template", "add_generation_prompt", "prompt", "parse_special"];
const ROLES = ["system", "user", "assistant"];
const FINISHED = new Set(["done", "failed", "cancelled"]);
const POLL_MS = 250;
const DEBOUNCE_MS = 300;
const MAX_SEED = 2 ** 31 - 2;
const PARAM_LABELS = {
  temperature: "Temperature", top_k: "Top-k", top_p: "Top-p", min_p: "Min-p", repeat_penalty: "Repeat penalty",
  presence_penalty: "Presence penalty", frequency_penalty: "Frequency penalty", max_tokens: "Max tokens",
  top_n: "Alternatives", seed: "Seed",
};

const state = {
  mode: "chat",
  messages: [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "What is the capital of France?" },
  ],
  colour: "p_sampled",
  run: null, // the run shown in the output view
  renderedTokens: 0,
  pollId: null,
  pollTimer: null,
  compare: null, // {runId, previous}: compare the run `runId` with `previous` when it finishes
  lastStatus: "",
  openToken: null,
};

// --- Helpers ----------------------------------------------------------------

function csrfToken() {
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
  } catch {
    // fall back to the cookie
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(method, url, body, signal) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin", signal };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = csrfToken();
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data;
  try {
    data = await response.json();
  } catch {
    data = { error: `The server answered ${response.status} without JSON.` };
  }
  return { ok: response.ok, status: response.status, data, retryAfter: response.headers.get("Retry-After") };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function show(node, visible) {
  node.hidden = !visible;
}

function setText(node, text) {
  node.textContent = text;
  show(node, Boolean(text));
}

// Whitespace a reader would otherwise not see inside a token chip.
function visibleText(text) {
  if (text === "") return "∅";
  return text.replace(/\r/g, "␍").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

function pct(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "–";
  const value = p * 100;
  if (value === 0) return "0%";
  if (value >= 1) return `${value.toFixed(1)}%`;
  return `${Number(value.toPrecision(2))}%`;
}

function bucket(p) {
  if (p < 0.1) return "p0";
  if (p < 0.3) return "p1";
  if (p < 0.6) return "p2";
  if (p < 0.9) return "p3";
  return "p4";
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function bytes(size) {
  if (!size) return "";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  let value = size;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return `${value.toFixed(value < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function quoted(text) {
  return `“${visibleText(text)}”`;
}

// --- Model, thinking, presets ----------------------------------------------

function currentModel() {
  const slug = $("sb-model").value;
  return MODELS.find((m) => m.slug === slug && m.available) || null;
}

function thinkingOn() {
  const model = currentModel();
  return Boolean(model && model.supports_thinking && $("sb-thinking").checked);
}

function modelDefaultPreset() {
  const model = currentModel();
  if (model && model.supports_thinking) return thinkingOn() ? "qwen3-thinking" : "qwen3-non-thinking";
  return "default";
}

function presetValues(name) {
  return PRESETS[name === "model-default" ? modelDefaultPreset() : name];
}

function applyPreset(name, { announce = true } = {}) {
  const values = presetValues(name);
  if (!values) return;
  for (const field of PRESET_FIELDS) $(`sb-${field}`).value = values[field];
  markPresets();
  if (announce) {
    const label = document.querySelector(`[data-preset="${name}"]`).textContent;
    announceStatus(`${label} preset: temperature ${values.temperature}, top-k ${values.top_k}, top-p ${values.top_p}, min-p ${values.min_p}.`);
  }
}

function markPresets() {
  for (const button of document.querySelectorAll("[data-preset]")) {
    const values = presetValues(button.dataset.preset);
    const matches = values && PRESET_FIELDS.every((f) => Number($(`sb-${f}`).value) === Number(values[f]) && $(`sb-${f}`).value !== "");
    button.setAttribute("aria-pressed", matches ? "true" : "false");
  }
}

function onModelChange({ applyDefaults = true } = {}) {
  const model = currentModel();
  const info = $("sb-model-info");
  if (model) {
    info.textContent = [
      model.architecture,
      `${model.n_vocab.toLocaleString()}-token vocabulary`,
      `${model.context_length.toLocaleString()}-token context`,
      model.quantization,
      bytes(model.size_bytes),
    ].filter(Boolean).join(" · ") + (model.note ? `. ${model.note}` : "");
  } else {
    info.textContent = "No model is available yet; ask your lead to install one.";
  }
  show($("sb-thinking-field"), state.mode === "chat" && Boolean(model && model.supports_thinking));
  $("sb-run").disabled = !model || isActive(state.run);
  if (applyDefaults) applyPreset("model-default", { announce: false });
  markPresets();
  schedulePrompt();
}

// --- Mode and message editor -------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  show($("sb-chat"), mode === "chat");
  show($("sb-raw"), mode === "raw");
  show($("sb-template-details"), mode === "chat");
  show($("sb-thinking-field"), mode === "chat" && Boolean(currentModel()?.supports_thinking));
  schedulePrompt();
}

function renderMessages(focusIndex = null) {
  const list = $("sb-messages");
  list.replaceChildren();
  state.messages.forEach((message, i) => {
    const n = i + 1;
    const select = el("select", { id: `sb-role-${i}`, class: "role-select" },
      ...ROLES.map((role) => el("option", { value: role, text: role, selected: role === message.role })));
    select.addEventListener("change", () => {
      message.role = select.value;
      schedulePrompt();
    });
    const textarea = el("textarea", { id: `sb-content-${i}`, rows: "3", spellcheck: "true" });
    textarea.value = message.content;
    textarea.addEventListener("input", () => {
      message.content = textarea.value;
      schedulePrompt();
    });
    const remove = el("button", {
      type: "button", class: "link-button", text: "Remove", "aria-label": `Remove message ${n}`,
      disabled: state.messages.length === 1,
    });
    remove.addEventListener("click", () => {
      state.messages.splice(i, 1);
      renderMessages(Math.max(0, i - 1));
      schedulePrompt();
    });
    list.append(el("li", { class: "message-item" },
      el("div", { class: "message-head" },
        el("label", { for: `sb-content-${i}`, text: `Message ${n}` }),
        el("label", { for: `sb-role-${i}`, class: "visually-hidden", text: `Role of message ${n}` }),
        select,
        remove),
      textarea));
  });
  if (focusIndex !== null) $(`sb-content-${focusIndex}`)?.focus();
}

function addMessage() {
  const last = state.messages[state.messages.length - 1];
  state.messages.push({ role: last && last.role === "user" ? "assistant" : "user", content: "" });
  renderMessages(state.messages.length - 1);
  schedulePrompt();
}

function promptRequest() {
  if (state.mode === "raw") return { prompt: $("sb-prompt").value };
  const request = { messages: state.messages.map((m) => ({ role: m.role, content: m.content })) };
  const template = $("sb-template").value;
  if (template.trim() !== "") request.template = template;
  if (currentModel()?.supports_thinking) request.enable_thinking = thinkingOn();
  return request;
}

// --- Token chips ---------------------------------------------------------------

function setActiveChip(list, chip) {
  for (const other of list.querySelectorAll('.chip[tabindex="0"]')) other.tabIndex = -1;
  chip.tabIndex = 0;
}

// One tab stop per token list; arrow keys, Home and End move inside it.
function rovingChips(list, onFocus) {
  list.addEventListener("keydown", (event) => {
    const chips = [...list.querySelectorAll(".chip")];
    const index = chips.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: chips.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = chips[Math.max(0, Math.min(chips.length - 1, moves[event.key]))];
    setActiveChip(list, next);
    next.focus();
  });
  list.addEventListener("focusin", (event) => {
    const chip = event.target.closest(".chip");
    if (!chip) return;
    setActiveChip(list, chip);
    if (onFocus) onFocus(chip);
  });
}

function chipItems(chip, text) {
  // A newline token ends its line, as it does in the text.
  return text.includes("\n") ? [el("li", {}, chip), el("li", { class: "break", "aria-hidden": "true" })] : [el("li", {}, chip)];
}

function promptChip(token, index, total) {
  const label = `${quoted(token.text)}, id ${token.id}${token.special ? ", special token" : ""}`;
  const chip = el("span", {
    class: `chip${token.special ? " special" : ""}`,
    tabindex: index === 0 ? "0" : "-1",
    title: `id ${token.id}${token.special ? " · special token" : ""}`,
    "data-index": String(index),
    "data-label": `Token ${index + 1} of ${total}: ${label}`,
  }, visibleText(token.text), el("span", { class: "visually-hidden", text: ` (id ${token.id}${token.special ? ", special" : ""})` }));
  return chipItems(chip, token.text);
}

// The prompt text with each special token (found in order) wrapped in <mark>.
function renderPromptText(pre, text, tokens) {
  pre.replaceChildren();
  let cursor = 0;
  for (const token of tokens) {
    if (!token.special || !token.text) continue;
    const at = text.indexOf(token.text, cursor);
    if (at < 0) continue;
    if (at > cursor) pre.append(text.slice(cursor, at));
    pre.append(el("mark", { class: "special-token", title: `special token, id ${token.id}`, text: token.text }));
    cursor = at + token.text.length;
  }
  pre.append(text.slice(cursor));
}

// --- Prompt view ----------------------------------------------------------------

let promptTimer = null;
let promptAbort = null;
let promptSeq = 0;

function schedulePrompt() {
  clearTimeout(promptTimer);
  promptTimer = setTimeout(refreshPrompt, DEBOUNCE_MS);
}

function showPrompt(text, tokens) {
  renderPromptText($("sb-rendered"), text, tokens);
  const list = $("sb-prompt-tokens");
  list.replaceChildren(...tokens.flatMap((t, i) => promptChip(t, i, tokens.length)));
  const specials = tokens.filter((t) => t.special).length;
  $("sb-prompt-count").textContent = `${tokens.length} token${tokens.length === 1 ? "" : "s"}${specials ? `, ${specials} special` : ""}`;
  $("sb-prompt-readout").textContent = "";
  $("sb-prompt-view").classList.remove("stale");
}

function promptError(message, templateError = "") {
  setText($("sb-prompt-error"), message);
  setText($("sb-error-template"), templateError);
  $("sb-template").setAttribute("aria-invalid", templateError ? "true" : "false");
  if (message) $("sb-prompt-view").classList.add("stale");
}

async function refreshPrompt() {
  clearTimeout(promptTimer);
  const model = currentModel();
  const seq = ++promptSeq;
  if (promptAbort) promptAbort.abort();
  if (!model) {
    showPrompt("", []);
    return;
  }
  let url;
  let body;
  if (state.mode === "raw") {
    const text = $("sb-prompt").value;
    if (text === "") {
      promptError("");
      showPrompt("", []);
      return;
    }
    url = URLS.tokenize;
    body = { model: model.slug, text, special: false };
  } else {
    url = URLS.render;
    body = { model: model.slug, ...promptRequest() };
  }
  promptAbort = new AbortController();
  $("sb-prompt-view").setAttribute("aria-busy", "true");
  try {
    const { ok, data } = await api("POST", url, body, promptAbort.signal);
    if (seq !== promptSeq) return;
    if (ok) {
      promptError("");
      showPrompt(state.mode === "raw" ? body.text : data.prompt, data.tokens);
    } else if (data.fields && data.fields.template) {
      promptError("The chat template has an error; see the template editor.", data.fields.template.join(" "));
      $("sb-template-details").open = true;
    } else {
      const fields = data.fields ? Object.values(data.fields).flat().join(" ") : "";
      promptError(`${data.error || "The prompt could not be shown."} ${fields}`.trim());
    }
  } catch (error) {
    if (error.name === "AbortError") return;
    if (seq === promptSeq) promptError("Could not reach the server to show the prompt.");
  } finally {
    if (seq === promptSeq) $("sb-prompt-view").setAttribute("aria-busy", "false");
  }
}

// --- Runs -----------------------------------------------------------------------------

function isActive(run) {
  return Boolean(run && !FINISHED.has(run.status));
}

function announceStatus(text) {
  // Only changes are announced: a live region that repeats itself every poll is noise.
  if (text === state.lastStatus) return;
  state.lastStatus = text;
  $("sb-status").textContent = text;
}

function clearRunErrors() {
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

function formPayload() {
  const model = currentModel();
  const body = { model: model.slug, ...promptRequest() };
  for (const name of PARAMS) {
    const raw = $(`sb-${name}`).value.trim();
    if (raw !== "") body[name] = Number(raw);
  }
  const seed = $("sb-seed").value.trim();
  if (seed !== "") body.seed = Number(seed);
  return body;
}

// The exact request and parameters of a stored run, with its seed.
function replayPayload(run) {
  const body = { model: run.model };
  for (const key of REQUEST_KEYS) {
    if (run.request && run.request[key] !== undefined && run.request[key] !== null) body[key] = run.request[key];
  }
  for (const name of PARAMS) {
    if (run.params && run.params[name] !== undefined) body[name] = run.params[name];
  }
  body.seed = run.seed ?? run.params.seed;
  return body;
}

// Focus on a control that a run disables or hides would fall to <body> (WCAG 2.4.3): it moves to the Cancel
// button while the run goes on and to the output once it ends.
function focusLost(...ids) {
  const active = document.activeElement;
  return !active || active === document.body || ids.some((id) => active === $(id));
}

async function startRun(body) {
  clearRunErrors();
  const fromRun = focusLost("sb-run", "sb-rerun");
  const previous = state.run && state.run.status === "done" ? state.run : null;
  $("sb-run").disabled = true;
  $("sb-rerun").disabled = true;
  announceStatus("Starting a run…");
  let response;
  try {
    response = await api("POST", URLS.runs, body);
  } catch {
    announceStatus("");
    setText($("sb-run-error"), "Could not reach the server. Check your connection and try again.");
    updateButtons();
    return;
  }
  const { status, data, retryAfter } = response;
  if (status === 201) {
    const picked = body.seed === undefined;
    $("sb-seed-help").textContent = picked
      ? `The server picked seed ${data.seed} for run #${data.id}. Empty: the server picks one.`
      : `Run #${data.id} uses seed ${data.seed}. Empty: the server picks one.`;
    state.compare = previous ? { runId: data.id, previous } : null;
    showRun({ id: data.id, status: data.status, seed: data.seed, model: body.model, request: body, params: { ...body, seed: data.seed }, tokens: [], timings: {}, queue_position: null });
    if (fromRun && focusLost()) $("sb-cancel").focus();
    announceStatus(`Run #${data.id} started with seed ${data.seed}${picked ? " (picked by the server)" : ""}.`);
    if (window.matchMedia("(max-width: 980px)").matches) $("sb-output-view").scrollIntoView({ block: "start" });
    rememberRun(data.id);
    poll(data.id);
    refreshHistory();
    return;
  }
  announceStatus("");
  if (status === 429) {
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

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollId = null;
}

function poll(id) {
  stopPolling();
  state.pollId = id;
  let failures = 0;
  // Only new tokens are asked for (`since`); the ones already here are kept.
  let collected = [];
  const tick = async () => {
    if (state.pollId !== id) return;
    let response;
    try {
      response = await api("GET", `${URLS.run(id)}?since=${collected.length}`);
    } catch {
      failures += 1;
      announceStatus(`Lost contact with the server; retrying (run #${id} keeps going).`);
      state.pollTimer = setTimeout(tick, Math.min(5000, POLL_MS * 2 ** failures));
      return;
    }
    if (state.pollId !== id) return;
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

function updateButtons() {
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
      return `Run #${run.id} done: ${count} token${count === 1 ? "" : "s"}, finish reason “${run.finish_reason}”.`;
    case "cancelled":
      return `Run #${run.id} was cancelled after ${count} token${count === 1 ? "" : "s"}.`;
    case "failed":
      return `Run #${run.id} failed.`;
    default:
      return `Run #${run.id}: ${run.status}.`;
  }
}

function showRun(run) {
  const fresh = !state.run || state.run.id !== run.id;
  if (fresh) {
    $("sb-output-tokens").replaceChildren();
    state.renderedTokens = 0;
    closeTokenPanel(false);
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
  show($("sb-output-keys"), tokens.length > 0);
  announceStatus(statusText(run));
  if (run.status === "failed" && run.error) setText($("sb-run-error"), run.error);
  renderDetails(run);
  updateButtons();
}

function chipLabel(token, p, stop) {
  return `${quoted(token.text)}, ${pct(p)}${stop ? ", end of generation" : ""}`;
}

function outputChip(token, index, run) {
  const stop = run.finish_reason === "stop" && index === run.tokens.length - 1 && FINISHED.has(run.status);
  const p = token[state.colour];
  const split = token.text.includes("\uFFFD") ? " · part of a character split across tokens" : "";
  const chip = el("button", {
    type: "button",
    class: `chip ${bucket(p)}${stop ? " special" : ""}`,
    tabindex: "-1",
    "data-index": String(index),
    title: `id ${token.id} · model ${pct(token.p_model)} · after sampling ${pct(token.p_sampled)}${stop ? " · end of generation" : ""}${split}`,
    "aria-label": chipLabel(token, p, stop),
    "data-stop": stop ? "true" : null,
    "aria-controls": "sb-token-panel",
    "aria-expanded": "false",
  }, visibleText(token.text));
  return chipItems(chip, token.text);
}

function renderOutputTokens(run) {
  const list = $("sb-output-tokens");
  const tokens = run.tokens || [];
  if (tokens.length < state.renderedTokens) {
    list.replaceChildren();
    state.renderedTokens = 0;
  }
  // Tokens only ever get appended while a run goes on: add the new ones, keep focus where it is.
  for (let i = state.renderedTokens; i < tokens.length; i += 1) list.append(...outputChip(tokens[i], i, run));
  state.renderedTokens = tokens.length;
  if (FINISHED.has(run.status) && run.finish_reason === "stop" && tokens.length) {
    const last = list.querySelector(`.chip[data-index="${tokens.length - 1}"]`);
    if (!last.classList.contains("special")) last.replaceWith(outputChip(tokens[tokens.length - 1], tokens.length - 1, run)[0].firstChild);
  }
  if (!list.querySelector('.chip[tabindex="0"]')) {
    const first = list.querySelector(".chip");
    if (first) first.tabIndex = 0;
  }
}

function recolour() {
  if (!state.run) return;
  const tokens = state.run.tokens || [];
  for (const chip of $("sb-output-tokens").querySelectorAll(".chip")) {
    const token = tokens[Number(chip.dataset.index)];
    const p = token[state.colour];
    chip.classList.remove("p0", "p1", "p2", "p3", "p4");
    chip.classList.add(bucket(p));
    chip.setAttribute("aria-label", chipLabel(token, p, chip.dataset.stop === "true"));
  }
  $("sb-legend-title").textContent = state.colour === "p_model"
    ? "Probability of the chosen token, before sampling (the model’s own)"
    : "Probability of the chosen token, after sampling";
}

async function cancelRun() {
  if (!state.run || state.cancelling) return;
  // Not disabled while the request goes: a disabled button would drop the keyboard focus.
  state.cancelling = true;
  announceStatus(`Cancelling run #${state.run.id}…`);
  try {
    const { ok, data } = await api("POST", URLS.cancel(state.run.id), {});
    if (!ok) setText($("sb-run-error"), data.error || "The run could not be cancelled.");
  } catch {
    setText($("sb-run-error"), "Could not reach the server to cancel the run.");
  }
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

// --- Token panel --------------------------------------------------------------------

function bars(container, choices, chosenId) {
  const list = container.querySelector(".bars");
  list.replaceChildren();
  let chosenShown = false;
  for (const choice of choices) {
    const chosen = choice.id === chosenId;
    chosenShown ||= chosen;
    list.append(barRow(choice, chosen));
  }
  return chosenShown;
}

function barRow(choice, chosen) {
  const bar = el("span", { class: "bar" });
  bar.style.width = `${Math.max(0, Math.min(100, choice.p * 100))}%`;
  return el("li", { class: chosen ? "chosen" : "", title: `id ${choice.id}` },
    el("span", { class: "bar-label" }, el("code", { text: visibleText(choice.text) }), chosen ? el("span", { class: "chosen-tag", title: "the chosen token", "aria-hidden": "true", text: "✓" }) : null,
      chosen ? el("span", { class: "visually-hidden", text: " (chosen)" }) : null),
    el("span", { class: "bar-track", "aria-hidden": "true" }, bar),
    el("span", { class: "bar-value", text: pct(choice.p) }));
}

function openTokenPanel(index) {
  const run = state.run;
  const token = run && run.tokens[index];
  if (!token) return;
  const list = $("sb-output-tokens");
  for (const chip of list.querySelectorAll(".chip.selected")) {
    chip.classList.remove("selected");
    chip.setAttribute("aria-expanded", "false");
  }
  const chip = list.querySelector(`.chip[data-index="${index}"]`);
  chip.classList.add("selected");
  chip.setAttribute("aria-expanded", "true");
  state.openToken = index;
  $("sb-token-heading").textContent = `Token ${index + 1}: ${quoted(token.text)} (id ${token.id})`;
  $("sb-token-probs").textContent = `The model gave it ${pct(token.p_model)}; after sampling it had ${pct(token.p_sampled)}.`;
  const inModel = bars($("sb-bars-model"), token.top_model || [], token.id);
  const inSampled = bars($("sb-bars-sampled"), token.top_sampled || [], token.id);
  // The chosen token can sit below the top N (a lucky draw, or a forced token): show it anyway.
  if (!inModel) $("sb-bars-model").querySelector(".bars").append(barRow({ id: token.id, text: token.text, p: token.p_model }, true));
  if (!inSampled) $("sb-bars-sampled").querySelector(".bars").append(barRow({ id: token.id, text: token.text, p: token.p_sampled }, true));
  const kept = (token.top_sampled || []).length;
  const asked = Number(run.params?.top_n) || kept;
  setText($("sb-token-kept"), kept < asked
    ? `Only ${kept} candidate${kept === 1 ? "" : "s"} survived the filters: every other token had probability 0 after sampling.`
    : "");
  show($("sb-token-panel"), true);
  $("sb-token-heading").focus();
}

function closeTokenPanel(returnFocus = true) {
  const index = state.openToken;
  state.openToken = null;
  show($("sb-token-panel"), false);
  const chip = index === null ? null : $("sb-output-tokens").querySelector(`.chip[data-index="${index}"]`);
  if (chip) {
    chip.classList.remove("selected");
    chip.setAttribute("aria-expanded", "false");
    if (returnFocus) chip.focus();
  }
}

// --- Run details and history ---------------------------------------------------------

function renderDetails(run) {
  const list = $("sb-details-list");
  const params = run.params || {};
  const timings = run.timings || {};
  const request = run.request || {};
  const items = [
    ["Status", run.status],
    ["Model", run.model],
    ["Input", request.messages ? `chat, ${request.messages.length} message${request.messages.length === 1 ? "" : "s"}` : "raw prompt"],
  ];
  if (request.enable_thinking !== undefined && request.enable_thinking !== null) items.push(["Thinking", request.enable_thinking ? "on" : "off"]);
  if (request.template) items.push(["Template", "custom"]);
  items.push(["Seed", run.seed ?? params.seed ?? "–"]);
  for (const name of PARAMS) if (params[name] !== undefined) items.push([PARAM_LABELS[name], params[name]]);
  if (run.prompt_tokens && run.prompt_tokens.length) items.push(["Prompt tokens", run.prompt_tokens.length]);
  if (run.tokens) items.push(["Output tokens", run.tokens.length]);
  if (timings.queued_ms !== undefined) {
    items.push(
      ["Queued", ms(timings.queued_ms)],
      ["Load", ms(timings.load_ms)],
      ["Prompt", ms(timings.prompt_ms)],
      ["First token", ms(timings.first_token_ms)],
      ["Generate", ms(timings.generate_ms)],
      ["Tokens/s", timings.tokens_per_second ?? "–"],
    );
  }
  if (run.finish_reason) items.push(["Finish reason", run.finish_reason]);
  list.replaceChildren(...items.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", { text: String(value) }))));
  const prompt = $("sb-run-prompt");
  if (run.rendered_prompt) {
    renderPromptText($("sb-run-rendered"), run.rendered_prompt, run.prompt_tokens || []);
    $("sb-run-prompt-summary").textContent = `Prompt of this run (${(run.prompt_tokens || []).length} tokens)`;
  }
  show(prompt, Boolean(run.rendered_prompt));
  show($("sb-details"), true);
}

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

async function refreshHistory() {
  try {
    const { ok, data } = await api("GET", URLS.runs);
    if (!ok) return;
    $("sb-history").replaceChildren(...data.runs.slice(0, 20).map(historyItem));
    show($("sb-history-empty"), data.runs.length === 0);
  } catch {
    // the list stays as it was; the next run refreshes it
  }
}

async function loadRun(id, { push = true } = {}) {
  stopPolling();
  state.compare = null;
  clearRunErrors();
  try {
    const { ok, data } = await api("GET", URLS.run(id));
    if (!ok && !push) {
      // Back to a run shared by someone else: the API serves own runs only, the run page serves both.
      location.reload();
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
  } catch {
    setText($("sb-run-error"), `Could not reach the server to load run #${id}.`);
  }
}

// Put a run's (or a draft's) model, input, template, thinking switch and sampler settings in the form.
function applySettings(body) {
  if (body.model && MODELS.some((m) => m.slug === body.model && m.available)) $("sb-model").value = body.model;
  const mode = body.messages ? "chat" : body.prompt !== undefined ? "raw" : state.mode;
  document.querySelector(`input[name="mode"][value="${mode}"]`).checked = true;
  if (body.messages) state.messages = body.messages.map((m) => ({ role: m.role, content: m.content }));
  if (body.prompt !== undefined) $("sb-prompt").value = body.prompt;
  $("sb-template").value = body.template || "";
  if (body.enable_thinking !== undefined && body.enable_thinking !== null) $("sb-thinking").checked = Boolean(body.enable_thinking);
  onModelChange({ applyDefaults: false });
  for (const name of PARAMS) if (body[name] !== undefined && body[name] !== null) $(`sb-${name}`).value = body[name];
  $("sb-seed").value = body.seed ?? "";
  renderMessages();
  markPresets();
  setMode(mode);
}

// --- Wiring ----------------------------------------------------------------------------

function init() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => radio.checked && setMode(radio.value));
  }
  $("sb-model").addEventListener("change", () => onModelChange());
  $("sb-thinking").addEventListener("change", () => {
    applyPreset("model-default");
    schedulePrompt();
  });
  $("sb-add-message").addEventListener("click", addMessage);
  $("sb-prompt").addEventListener("input", schedulePrompt);
  $("sb-template").addEventListener("input", schedulePrompt);
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => applyPreset(button.dataset.preset));
  }
  for (const name of PARAMS) $(`sb-${name}`).addEventListener("input", markPresets);
  $("sb-new-seed").addEventListener("click", () => {
    $("sb-seed").value = String(Math.floor(Math.random() * (MAX_SEED + 1)));
    $("sb-seed").removeAttribute("aria-invalid");
    setText($("sb-error-seed"), "");
  });
  $("sb-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!currentModel() || isActive(state.run)) return;
    startRun(formPayload());
  });
  $("sb-cancel").addEventListener("click", cancelRun);
  $("sb-rerun").addEventListener("click", () => {
    if (state.run && !isActive(state.run)) startRun(replayPayload(state.run));
  });
  for (const radio of document.querySelectorAll('input[name="colour"]')) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      state.colour = radio.value;
      recolour();
    });
  }
  const output = $("sb-output-tokens");
  rovingChips(output);
  output.addEventListener("click", (event) => {
    const chip = event.target.closest(".chip");
    if (chip) openTokenPanel(Number(chip.dataset.index));
  });
  rovingChips($("sb-prompt-tokens"), (chip) => {
    $("sb-prompt-readout").textContent = chip.dataset.label;
  });
  $("sb-token-close").addEventListener("click", () => closeTokenPanel());
  $("sb-token-panel").addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeTokenPanel();
  });
  $("sb-history").addEventListener("click", (event) => {
    const item = event.target.closest("[data-run]");
    if (item) loadRun(Number(item.dataset.run));
  });

  const preferred = MODELS.find((m) => m.slug === root.dataset.defaultModel && m.available) || MODELS.find((m) => m.available);
  if (preferred) $("sb-model").value = preferred.slug;
  renderMessages();
  $("sb-repeat_penalty").value = 1.0;
  $("sb-presence_penalty").value = 0;
  $("sb-frequency_penalty").value = 0;
  onModelChange();
  setMode(document.querySelector('input[name="mode"]:checked').value);
  restoreWorkspace();
  refreshPrompt();
}

// The run page opens on its run; the plain sandbox on the learner's last draft.
function restoreWorkspace() {
  const run = initialRun();
  if (run) {
    applySettings(replayPayload(run));
    showRun(run);
    rememberRun(run.id, { replace: true });
    if (!FINISHED.has(run.status)) poll(run.id);
  } else {
    const draft = loadDraft();
    if (draft) applySettings(draft);
  }
  const save = () => saveDraftSoon(() => (currentModel() ? formPayload() : null));
  for (const type of ["input", "change", "click"]) $("sb-form").addEventListener(type, save);
  window.addEventListener("popstate", (event) => {
    if (event.state && event.state.run) loadRun(event.state.run, { push: false });
    else location.reload();
  });
}

init();
