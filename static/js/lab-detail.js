// A lab's own page (entry module): its input, its share bar, and its result once it is done.

import { $, el } from "./lib/dom.js";
import { FINISHED, data, follow, shareBar, statusText } from "./labs/jobs.js";
import { drawResult, fact } from "./labs/results.js";

function promptOf(request) {
  if (!request) return "";
  if (request.messages) return request.messages[request.messages.length - 1]?.content || "";
  return request.prompt || "";
}

function inputFacts(job) {
  const input = job.input || {};
  const facts = [fact("Model", job.model)];
  const prompt = promptOf(input.request);
  if (job.kind === "pipeline") facts.push(fact("Run", `#${input.run}`), fact("Token", String(input.step + 1)));
  if (prompt) facts.push(fact(input.request.messages ? "Prompt (chat)" : "Prompt (raw)", el("span", { class: "prompt-text", text: prompt })));
  if (job.kind === "sweep") {
    facts.push(
      fact("Temperatures", input.temperatures.join(", ")),
      fact("Seeds", String(input.seeds)),
      fact("Max tokens", String(input.max_tokens)),
      fact("Token shown", String(input.step + 1)),
    );
  }
  if (job.kind === "speculative") {
    facts.push(
      fact("Draft", input.draft === "model" ? `model ${input.draft_model}` : "prompt lookup"),
      fact("k", String(input.k)),
      fact("Max tokens", String(input.max_tokens)),
      fact("Temperature", String(input.params?.temperature ?? "–")),
      fact("Seed", String(input.seed)),
    );
  }
  if (job.kind === "quantization") facts.push(fact("Types", (input.types || []).join(", ")));
  return facts;
}

async function setupDetail() {
  let job = JSON.parse($("lab-job").textContent);
  const status = $("lab-status");
  const result = $("lab-result");
  $("lab-input").replaceChildren(...inputFacts(job));
  $("lab-share").replaceChildren(shareBar(job, { isOwner: data.isOwner === "true", url: data.shareUrl, openLink: false }));
  if (!FINISHED.has(job.status)) {
    status.textContent = statusText(job);
    job = await follow(job.id, { status });
    if (!job) return;
  } else {
    status.textContent = statusText(job);
  }
  drawResult(job, result);
}

setupDetail();
