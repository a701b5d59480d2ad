// What a learner does with an output: read it as tokens, plain text or Markdown, copy it, continue the
// conversation, branch it; and how fast it came (live while it streams, the worker's timings after).

import { $, copyText, show } from "../lib/dom.js";
import { api } from "../lib/http.js";
import { ms, perSecond, plural } from "../lib/format.js";
import { FINISHED, URLS, root, state } from "./context.js";
import { continueConversation } from "./prompt.js";

const markdownCache = new Map(); // run id -> cleaned HTML of its output
let speed = null; // {runId, at, count}: when this page first saw the run's tokens, to measure their rate

// The run's text: the server's once it is done (it joins split characters), the tokens' while it streams.
export function outputText(run) {
  if (typeof run.output_text === "string" && (FINISHED.has(run.status) || run.output_text)) return run.output_text;
  return (run.tokens || []).map((t) => t.text).join("");
}

export function setView(view) {
  state.view = view;
  if (state.run) updateTools(state.run);
}

export function updateTools(run) {
  const tokens = run.tokens || [];
  const finished = FINISHED.has(run.status);
  show($("sb-output-tools"), tokens.length > 0);
  show($("sb-continue"), finished && tokens.length > 0 && Boolean(run.request?.messages) && run.status !== "failed");
  const tree = $("sb-tree-link");
  tree.href = `${root.dataset.labs}?tree=${run.id}#run-tree`;
  show(tree, run.mine !== false && (Boolean(run.parent) || run.status === "done"));
  show($("sb-output-tokens"), state.view === "tokens");
  show($("sb-legend"), state.view === "tokens");
  show($("sb-output-keys"), state.view === "tokens" && tokens.length > 0);
  show($("sb-output-text"), state.view === "text");
  show($("sb-output-markdown"), state.view === "markdown");
  if (state.view === "text") $("sb-output-text").textContent = outputText(run);
  if (state.view === "markdown") showMarkdown(run);
  showSpeed(run);
}

async function showMarkdown(run) {
  const box = $("sb-output-markdown");
  if (!FINISHED.has(run.status)) {
    box.replaceChildren("The Markdown view is drawn when the run ends; the text view follows it live.");
    return;
  }
  if (!markdownCache.has(run.id)) {
    box.replaceChildren("Rendering…");
    const { ok, data } = await api("GET", `${URLS.run(run.id)}/markdown`);
    if (!ok) {
      box.replaceChildren(data.error || "The output could not be rendered.");
      return;
    }
    markdownCache.set(run.id, data.html);
  }
  if (state.run?.id !== run.id || state.view !== "markdown") return;
  // The server's one Markdown renderer (cohort/markdown.py) cleaned this HTML with an allow-list: no raw
  // HTML, scripts, event handlers or javascript: links. DOMParser builds inert nodes from it.
  const doc = new DOMParser().parseFromString(markdownCache.get(run.id), "text/html");
  box.replaceChildren(...doc.body.childNodes);
}

function showSpeed(run) {
  const line = $("sb-speed");
  const count = (run.tokens || []).length;
  if (FINISHED.has(run.status)) {
    const timings = run.timings || {};
    line.textContent = timings.tokens_per_second !== undefined && timings.tokens_per_second !== null
      ? `${plural(count, "token")} · ${perSecond(timings.tokens_per_second)} · first token after ${ms(timings.first_token_ms)}`
      : plural(count, "token");
    speed = null;
    return;
  }
  if (!count) {
    line.textContent = "";
    return;
  }
  const now = performance.now();
  if (!speed || speed.runId !== run.id) speed = { runId: run.id, at: now, count };
  const seconds = (now - speed.at) / 1000;
  const rate = seconds > 0.2 ? (count - speed.count) / seconds : null;
  line.textContent = `${plural(count, "token")} so far${rate === null ? "" : ` · ${perSecond(rate)}`}`;
}

export function setupTools() {
  for (const radio of document.querySelectorAll('input[name="view"]')) {
    radio.addEventListener("change", () => radio.checked && setView(radio.value));
  }
  $("sb-copy").addEventListener("click", () => {
    if (state.run) copyText($("sb-copy"), outputText(state.run));
  });
  $("sb-continue").addEventListener("click", () => {
    if (state.run && FINISHED.has(state.run.status)) continueConversation(state.run, outputText(state.run));
  });
}
