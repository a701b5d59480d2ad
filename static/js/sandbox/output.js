// The output side: generated tokens as chips coloured by probability, the token panel with the
// alternatives before and after sampling, and the run's details.

import { $, el, setText, show } from "../lib/dom.js";
import { TokenName, ms, num, pct, perSecond, plural, quoted, tokenName, visibleText } from "../lib/format.js";
import { bucket, chipItems, renderPromptText } from "./chips.js";
import { FINISHED, PARAMS, PARAM_LABELS, state } from "./context.js";

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
    title: `${TokenName(index)} · id ${token.id} · model ${pct(token.p_model)} · after sampling ${pct(token.p_sampled)}${stop ? " · end of generation" : ""}${split}`,
    "aria-label": chipLabel(token, p, stop),
    "data-stop": stop ? "true" : null,
    "aria-controls": "sb-token-panel",
    "aria-expanded": "false",
  }, visibleText(token.text));
  return chipItems(chip, token.text);
}

export function resetOutput() {
  $("sb-output-tokens").replaceChildren();
  state.renderedTokens = 0;
  closeTokenPanel(false);
}

export function renderOutputTokens(run) {
  const list = $("sb-output-tokens");
  const tokens = run.tokens || [];
  if (tokens.length < state.renderedTokens) resetOutput();
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

export function recolour() {
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

// --- Token panel --------------------------------------------------------------------

function bars(container, choices, chosenId, step) {
  const list = container.querySelector(".bars");
  list.replaceChildren();
  let chosenShown = false;
  for (const choice of choices) {
    const chosen = choice.id === chosenId;
    chosenShown ||= chosen;
    list.append(barRow(choice, chosen, step));
  }
  return chosenShown;
}

// A button on each alternative of an own finished run: continue the run with that token here instead.
function branchButton(choice, step) {
  return el("button", {
    type: "button",
    class: "button secondary small branch-button",
    "data-step": String(step),
    "data-branch-token": String(choice.id),
    "aria-label": `Continue with ${quoted(choice.text)} as ${tokenName(step)}`,
    text: "Continue",
  });
}

function barRow(choice, chosen, step = null) {
  const bar = el("span", { class: "bar" });
  bar.style.width = `${Math.max(0, Math.min(100, choice.p * 100))}%`;
  const branch = step !== null && !chosen ? branchButton(choice, step) : null;
  return el("li", { class: `${chosen ? "chosen" : ""}${step !== null ? " has-branch" : ""}`.trim(), title: `id ${choice.id}` },
    el("span", { class: "bar-label" }, el("code", { text: visibleText(choice.text) }), chosen ? el("span", { class: "chosen-tag", title: "the chosen token", "aria-hidden": "true", text: "✓" }) : null,
      chosen ? el("span", { class: "visually-hidden", text: " (chosen)" }) : null),
    el("span", { class: "bar-track", "aria-hidden": "true" }, bar),
    el("span", { class: "bar-value", text: pct(choice.p) }),
    step === null ? null : branch || el("span", { "aria-hidden": "true" }));
}

export function openTokenPanel(index) {
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
  $("sb-token-heading").textContent = `${TokenName(index)}: ${quoted(token.text)} (id ${token.id})`;
  $("sb-token-probs").textContent = `The model gave it ${pct(token.p_model)}; after sampling it had ${pct(token.p_sampled)}.`;
  // Only an own finished run can be branched (the API's rule); a shared run is read only.
  const step = run.status === "done" && run.mine !== false ? index : null;
  show($("sb-branch-help"), step !== null);
  const inModel = bars($("sb-bars-model"), token.top_model || [], token.id, step);
  const inSampled = bars($("sb-bars-sampled"), token.top_sampled || [], token.id, step);
  // The chosen token can sit below the top N (a lucky draw, or a forced token): show it anyway.
  if (!inModel) $("sb-bars-model").querySelector(".bars").append(barRow({ id: token.id, text: token.text, p: token.p_model }, true, step));
  if (!inSampled) $("sb-bars-sampled").querySelector(".bars").append(barRow({ id: token.id, text: token.text, p: token.p_sampled }, true, step));
  const kept = (token.top_sampled || []).length;
  const asked = Number(run.params?.top_n) || kept;
  setText($("sb-token-kept"), kept < asked
    ? `Only ${plural(kept, "candidate")} survived the filters: every other token had probability 0 after sampling.`
    : "");
  show($("sb-token-panel"), true);
  $("sb-token-heading").focus();
}

export function closeTokenPanel(returnFocus = true) {
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

// --- Run details ----------------------------------------------------------------------

export function renderDetails(run) {
  const list = $("sb-details-list");
  const params = run.params || {};
  const timings = run.timings || {};
  const request = run.request || {};
  const items = [
    ["Status", run.status],
    ["Model", run.model],
    ["Input", request.messages ? `chat, ${plural(request.messages.length, "message")}` : "raw prompt"],
  ];
  if (request.enable_thinking !== undefined && request.enable_thinking !== null) items.push(["Thinking", request.enable_thinking ? "on" : "off"]);
  if (request.template) items.push(["Template", "custom"]);
  items.push(["Seed", run.seed ?? params.seed ?? "–"]);
  for (const name of PARAMS) if (params[name] !== undefined) items.push([PARAM_LABELS[name], params[name]]);
  if (run.prompt_tokens && run.prompt_tokens.length) items.push(["Prompt tokens", num(run.prompt_tokens.length)]);
  if (run.tokens) items.push(["Output tokens", num(run.tokens.length)]);
  if (timings.queued_ms !== undefined) {
    items.push(
      ["Queued", ms(timings.queued_ms)],
      ["Load", ms(timings.load_ms)],
      ["Prompt", ms(timings.prompt_ms)],
      ["First token", ms(timings.first_token_ms)],
      ["Generate", ms(timings.generate_ms)],
      ["Speed", perSecond(timings.tokens_per_second)],
    );
  }
  if (run.finish_reason) items.push(["Finish reason", run.finish_reason]);
  if (run.parent) items.push(["Branch of", `run #${run.parent}, another ${tokenName(run.branch_step)}`]);
  list.replaceChildren(...items.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", { text: String(value) }))));
  const prompt = $("sb-run-prompt");
  if (run.rendered_prompt) {
    renderPromptText($("sb-run-rendered"), run.rendered_prompt, run.prompt_tokens || []);
    $("sb-run-prompt-summary").textContent = `Prompt of this run (${plural((run.prompt_tokens || []).length, "token")})`;
  }
  show(prompt, Boolean(run.rendered_prompt));
  show($("sb-details"), true);
}
