// A lab job on any labs page: where its URLs are, its status while it runs, polling it, sharing it.

import { copyText, el } from "../lib/dom.js";
import { api, sleep } from "../lib/http.js";

const POLL_MS = 500;
export const FINISHED = new Set(["done", "failed"]);
const ID = "999999999"; // placeholder id in the URLs the page hands over
export const KINDS = {
  pipeline: "Sampler pipeline",
  sweep: "Temperature sweep",
  speculative: "Speculative decoding",
  quantization: "Quantization",
};

export const data = document.getElementById("labs").dataset;
export const withId = (template, id) => template.replace(ID, String(id));

export function statusText(job) {
  const name = `${KINDS[job.kind] || "Lab"} #${job.id}`;
  if (job.status === "queued") return `${name} is queued…`;
  if (job.status === "running") return `${name} is running…`;
  if (job.status === "done") return `${name} is done.`;
  return `${name} failed.`;
}

// Polls a lab until it finishes. `isCurrent` stops a poll that a newer lab in the same place replaced.
export async function follow(jobId, { status, isCurrent = () => true }) {
  let last = "";
  let misses = 0;
  while (isCurrent()) {
    const response = await api("GET", withId(data.apiLab, jobId));
    if (!isCurrent()) return null;
    if (!response.ok) {
      misses += 1;
      if (response.status !== 0 || misses > 20) {
        status.textContent = response.data.error || `Could not read lab #${jobId}.`;
        return null;
      }
    } else {
      misses = 0;
      const text = statusText(response.data);
      if (text !== last) status.textContent = last = text;
      if (FINISHED.has(response.data.status)) return response.data;
    }
    await sleep(POLL_MS);
  }
  return null;
}

const SHARED_TEXT = "Shared: members of your cohort can open this link.";

export function shareBar(job, { isOwner, url, openLink }) {
  const state = el(
    "p",
    { class: "share-state", role: "status" },
    job.shared ? (isOwner ? SHARED_TEXT : `Shared by ${job.owner} with the cohort.`) : "Private: only you can open this link until you share it.",
  );
  const inputId = `share-link-${job.id}`;
  const input = el("input", { type: "text", id: inputId, readonly: true, value: url, class: "share-link" });
  let button = null;
  if (isOwner && !job.shared) {
    button = el("button", { type: "button", class: "button small", text: "Share with my cohort" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      const response = await api("POST", withId(data.apiShare, job.id), {});
      if (response.ok) {
        job.shared = true;
        state.textContent = SHARED_TEXT;
        button.remove();
        input.focus();
      } else {
        state.textContent = response.data.error || "The lab could not be shared.";
        button.disabled = false;
      }
    });
  }
  const copy = el("button", { type: "button", class: "button secondary small", text: "Copy link" });
  copy.addEventListener("click", () => {
    input.select();
    copyText(copy, url);
  });
  return el(
    "div",
    { class: "share-bar" },
    el("div", { class: "share-actions" }, button, openLink ? el("a", { href: url, text: "Open the lab page" }) : null),
    state,
    el("label", { for: inputId, text: "Link to this lab" }),
    el("div", { class: "share-row" }, input, copy),
  );
}
