// The input side of the sandbox: model, presets, chat messages or raw prompt, and the prompt as the model
// reads it (rendered and tokenized by the server as the learner types).

import { $, el, setText, show } from "../lib/dom.js";
import { api } from "../lib/http.js";
import { bytes, plural, quoted, visibleText } from "../lib/format.js";
import { chipItems, renderPromptText } from "./chips.js";
import {
  DEBOUNCE_MS, MODELS, PARAMS, PRESETS, PRESET_FIELDS, REQUEST_KEYS, ROLES, URLS,
  announceStatus, currentModel, isActive, state, thinkingOn,
} from "./context.js";

// --- Model, thinking, presets ----------------------------------------------

function modelDefaultPreset() {
  const model = currentModel();
  if (model && model.supports_thinking) return thinkingOn() ? "qwen3-thinking" : "qwen3-non-thinking";
  return "default";
}

function presetValues(name) {
  return PRESETS[name === "model-default" ? modelDefaultPreset() : name];
}

export function applyPreset(name, { announce = true } = {}) {
  const values = presetValues(name);
  if (!values) return;
  for (const field of PRESET_FIELDS) $(`sb-${field}`).value = values[field];
  markPresets();
  if (announce) {
    const label = document.querySelector(`[data-preset="${name}"]`).textContent;
    announceStatus(`${label} preset: temperature ${values.temperature}, top-k ${values.top_k}, top-p ${values.top_p}, min-p ${values.min_p}.`);
  }
}

export function markPresets() {
  for (const button of document.querySelectorAll("[data-preset]")) {
    const values = presetValues(button.dataset.preset);
    const matches = values && PRESET_FIELDS.every((f) => Number($(`sb-${f}`).value) === Number(values[f]) && $(`sb-${f}`).value !== "");
    button.setAttribute("aria-pressed", matches ? "true" : "false");
  }
}

export function onModelChange({ applyDefaults = true } = {}) {
  const model = currentModel();
  const info = $("sb-model-info");
  if (model) {
    info.textContent = [
      model.architecture,
      `${model.n_vocab.toLocaleString("en")}-token vocabulary`,
      `${model.context_length.toLocaleString("en")}-token context`,
      model.quantization,
      model.size_bytes ? bytes(model.size_bytes) : "",
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

export function setMode(mode) {
  state.mode = mode;
  show($("sb-chat"), mode === "chat");
  show($("sb-raw"), mode === "raw");
  show($("sb-template-details"), mode === "chat");
  show($("sb-thinking-field"), mode === "chat" && Boolean(currentModel()?.supports_thinking));
  schedulePrompt();
}

export function renderMessages(focusIndex = null) {
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

export function addMessage() {
  const last = state.messages[state.messages.length - 1];
  state.messages.push({ role: last && last.role === "user" ? "assistant" : "user", content: "" });
  renderMessages(state.messages.length - 1);
  schedulePrompt();
}

function promptRequest() {
  // Only a raw prompt can ask for special tokens: chat message contents always stay text.
  if (state.mode === "raw") return $("sb-parse_special").checked ? { prompt: $("sb-prompt").value, parse_special: true } : { prompt: $("sb-prompt").value };
  const request = { messages: state.messages.map((m) => ({ role: m.role, content: m.content })) };
  const template = $("sb-template").value;
  if (template.trim() !== "") request.template = template;
  if (currentModel()?.supports_thinking) request.enable_thinking = thinkingOn();
  return request;
}

// --- Prompt view ----------------------------------------------------------------

let promptTimer = null;
let promptAbort = null;
let promptSeq = 0;

export function schedulePrompt() {
  clearTimeout(promptTimer);
  promptTimer = setTimeout(refreshPrompt, DEBOUNCE_MS);
}

function promptChip(token, index, total) {
  const label = `${quoted(token.text)}, id ${token.id}${token.special ? ", special token" : ""}`;
  const chip = el("span", {
    class: `chip${token.special ? " special" : ""}`,
    tabindex: index === 0 ? "0" : "-1",
    title: `id ${token.id}${token.special ? " · special token" : ""}`,
    "data-index": String(index),
    "data-label": `Prompt token ${index + 1} of ${total}: ${label}`,
  }, visibleText(token.text), el("span", { class: "visually-hidden", text: ` (id ${token.id}${token.special ? ", special" : ""})` }));
  return chipItems(chip, token.text);
}

function showPrompt(text, tokens) {
  renderPromptText($("sb-rendered"), text, tokens);
  const list = $("sb-prompt-tokens");
  list.replaceChildren(...tokens.flatMap((t, i) => promptChip(t, i, tokens.length)));
  const specials = tokens.filter((t) => t.special).length;
  $("sb-prompt-count").textContent = `${plural(tokens.length, "token")}${specials ? `, ${specials} special` : ""}`;
  $("sb-prompt-readout").textContent = "";
  $("sb-prompt-view").classList.remove("stale");
}

function promptError(message, templateError = "", line = null) {
  setText($("sb-prompt-error"), message);
  setText($("sb-error-template"), templateError);
  const goto = $("sb-template-goto");
  goto.dataset.line = line ? String(line) : "";
  setText(goto, line ? `Go to line ${line}` : "");
  $("sb-template").setAttribute("aria-invalid", templateError ? "true" : "false");
  if (message) $("sb-prompt-view").classList.add("stale");
}

export async function refreshPrompt() {
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
    body = { model: model.slug, text, special: $("sb-parse_special").checked };
  } else {
    url = URLS.render;
    body = { model: model.slug, ...promptRequest() };
  }
  promptAbort = new AbortController();
  $("sb-prompt-view").setAttribute("aria-busy", "true");
  try {
    const { ok, status, data } = await api("POST", url, body, { signal: promptAbort.signal });
    if (seq !== promptSeq) return;
    if (ok) {
      promptError("");
      showPrompt(state.mode === "raw" ? body.text : data.prompt, data.tokens);
    } else if (status === 0) {
      promptError("Could not reach the server to show the prompt.");
    } else if (data.fields && data.fields.template) {
      promptError("The chat template has an error; see the template editor.", data.fields.template.join(" "), data.line);
      $("sb-template-details").open = true;
    } else {
      const fields = data.fields ? Object.values(data.fields).flat().join(" ") : "";
      promptError(`${data.error || "The prompt could not be shown."} ${fields}`.trim());
    }
  } catch (error) {
    if (error.name !== "AbortError") throw error;
  } finally {
    if (seq === promptSeq) $("sb-prompt-view").setAttribute("aria-busy", "false");
  }
}

// --- Template editor ------------------------------------------------------------------

// Put the model's own chat template in the editor, to change it from there.
export async function loadTemplate() {
  const model = currentModel();
  if (!model) return;
  const status = $("sb-template-status");
  status.textContent = "Loading the template…";
  const { ok, data } = await api("GET", URLS.template.replace("MODEL", encodeURIComponent(model.slug)));
  if (!ok) {
    status.textContent = data.error || "The template could not be loaded.";
    return;
  }
  $("sb-template").value = data.template;
  status.textContent = data.template
    ? `${model.name}’s template: ${plural(data.template.split("\n").length, "line")}. Edit it; the prompt view follows.`
    : `${model.name} has no template of its own.`;
  $("sb-template").focus();
  refreshPrompt();
}

// Select the line a template error names, so the learner lands on it.
export function gotoTemplateLine() {
  const line = Number($("sb-template-goto").dataset.line);
  const editor = $("sb-template");
  const lines = editor.value.split("\n");
  if (!line || line > lines.length) return;
  const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
  editor.focus();
  editor.setSelectionRange(start, start + lines[line - 1].length);
}

export function resetTemplate() {
  $("sb-template").value = "";
  $("sb-template-status").textContent = "Back to the model’s own template.";
  refreshPrompt();
}

// Continue a chat: the run's messages, its reply as the assistant's turn, and a new user message to type.
export function continueConversation(run, reply) {
  state.messages = [...run.request.messages.map((m) => ({ role: m.role, content: m.content })), { role: "assistant", content: reply }, { role: "user", content: "" }];
  document.querySelector('input[name="mode"][value="chat"]').checked = true;
  setMode("chat");
  renderMessages(state.messages.length - 1);
  schedulePrompt();
}

// --- The form as a request, and a request back in the form ---------------------------

export function formPayload() {
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
export function replayPayload(run) {
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

// Put a run's (or a draft's) model, input, template, thinking switch and sampler settings in the form.
export function applySettings(body) {
  if (body.model && MODELS.some((m) => m.slug === body.model && m.available)) $("sb-model").value = body.model;
  const mode = body.messages ? "chat" : body.prompt !== undefined ? "raw" : state.mode;
  document.querySelector(`input[name="mode"][value="${mode}"]`).checked = true;
  if (body.messages) state.messages = body.messages.map((m) => ({ role: m.role, content: m.content }));
  if (body.prompt !== undefined) $("sb-prompt").value = body.prompt;
  $("sb-parse_special").checked = Boolean(body.parse_special);
  $("sb-template").value = body.template || "";
  if (body.enable_thinking !== undefined && body.enable_thinking !== null) $("sb-thinking").checked = Boolean(body.enable_thinking);
  onModelChange({ applyDefaults: false });
  for (const name of PARAMS) if (body[name] !== undefined && body[name] !== null) $(`sb-${name}`).value = body[name];
  $("sb-seed").value = body.seed ?? "";
  renderMessages();
  markPresets();
  setMode(mode);
}
