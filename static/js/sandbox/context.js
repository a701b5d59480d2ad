// What every part of the sandbox page shares: its URLs and data, its constants and its one state object.

import { $, readJSON } from "../lib/dom.js";

export const root = $("sandbox");
export const URLS = {
  tokenize: root.dataset.apiTokenize,
  render: root.dataset.apiRender,
  template: root.dataset.apiTemplate,
  runs: root.dataset.apiRuns,
  run: (id) => `${root.dataset.apiRuns}/${id}`,
  cancel: (id) => `${root.dataset.apiRuns}/${id}/cancel`,
  branch: (id) => `${root.dataset.apiRuns}/${id}/branch`,
};
export const MODELS = readJSON("sandbox-models");
export const PRESETS = readJSON("sandbox-presets");
export const PARAMS = [
  "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty", "frequency_penalty",
  "max_tokens", "top_n",
];
export const PRESET_FIELDS = ["temperature", "top_p", "top_k", "min_p"];
export const REQUEST_KEYS = ["messages", "enable_thinking", "template", "add_generation_prompt", "prompt", "parse_special"];
export const ROLES = ["system", "user", "assistant"];
export const FINISHED = new Set(["done", "failed", "cancelled"]);
export const POLL_MS = 250;
export const DEBOUNCE_MS = 300;
export const MAX_SEED = 2 ** 31 - 2;
export const PARAM_LABELS = {
  temperature: "Temperature", top_k: "Top-k", top_p: "Top-p", min_p: "Min-p", repeat_penalty: "Repeat penalty",
  presence_penalty: "Presence penalty", frequency_penalty: "Frequency penalty", max_tokens: "Max tokens",
  top_n: "Alternatives", seed: "Seed",
};

export const state = {
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
  cancelling: false,
  view: "tokens", // how the output is shown: tokens, text or markdown
};

export function isActive(run) {
  return Boolean(run && !FINISHED.has(run.status));
}

export function currentModel() {
  const slug = $("sb-model").value;
  return MODELS.find((m) => m.slug === slug && m.available) || null;
}

export function thinkingOn() {
  const model = currentModel();
  return Boolean(model && model.supports_thinking && $("sb-thinking").checked);
}

export function announceStatus(text) {
  // Only changes are announced: a live region that repeats itself every poll is noise.
  if (text === state.lastStatus) return;
  state.lastStatus = text;
  $("sb-status").textContent = text;
}

// Focus on a control that a run disables or hides would fall to <body> (WCAG 2.4.3): it moves to the Cancel
// button while the run goes on and to the output once it ends.
export function focusLost(...ids) {
  const active = document.activeElement;
  return !active || active === document.body || ids.some((id) => active === $(id));
}
