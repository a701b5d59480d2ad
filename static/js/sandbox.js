// Inference sandbox page (entry module): the prompt as tokens, runs polled token by token, and the
// alternatives behind each sampled token. Plain ES modules, no build step: the parts live in sandbox/,
// the helpers every page shares in lib/.

import { $, setText } from "./lib/dom.js";
import { rovingChips } from "./sandbox/chips.js";
import { FINISHED, MAX_SEED, MODELS, PARAMS, currentModel, isActive, root, state } from "./sandbox/context.js";
import { setupHistoryFilter } from "./sandbox/history-filter.js";
import { closeTokenPanel, openTokenPanel, recolour } from "./sandbox/output.js";
import {
  addMessage, applyPreset, applySettings, formPayload, gotoTemplateLine, loadTemplate, markPresets, onModelChange, refreshPrompt,
  renderMessages, replayPayload, resetTemplate, schedulePrompt, setMode,
} from "./sandbox/prompt.js";
import { branchRun, cancelRun, loadRun, poll, showRun, startRun } from "./sandbox/runs.js";
import { setupTools } from "./sandbox/tools.js";
import { initialRun, loadDraft, rememberRun, saveDraftSoon } from "./sandbox/workspace.js";

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
  $("sb-parse_special").addEventListener("change", schedulePrompt);
  $("sb-template").addEventListener("input", schedulePrompt);
  $("sb-template-load").addEventListener("click", loadTemplate);
  $("sb-template-reset").addEventListener("click", resetTemplate);
  $("sb-template-goto").addEventListener("click", gotoTemplateLine);
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
    if (event.key !== "Escape") return;
    event.preventDefault(); // Esc closes the panel here; it does not also stop a run
    closeTokenPanel();
  });
  $("sb-token-panel").addEventListener("click", (event) => {
    const button = event.target.closest("[data-branch-token]");
    if (button) branchRun(Number(button.dataset.step), Number(button.dataset.branchToken));
  });
  document.addEventListener("keydown", shortcuts);
  setupTools();
  $("sb-history").addEventListener("click", (event) => {
    const item = event.target.closest("[data-run]");
    if (item) loadRun(Number(item.dataset.run));
  });
  setupHistoryFilter();

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

// Ctrl+Enter (Cmd+Enter on a Mac) runs from anywhere on the page; Esc stops the run that goes on.
function shortcuts(event) {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    if (currentModel() && !isActive(state.run)) $("sb-form").requestSubmit();
  } else if (event.key === "Escape" && !event.defaultPrevented && isActive(state.run)) {
    event.preventDefault();
    cancelRun();
  }
}

// The run page opens on its run (and follows it while it still runs, also someone else's shared run); the plain sandbox on the learner's last draft.
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
