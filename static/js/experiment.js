// The live experiment's results page (made to be projected; entry module): polls the results JSON every
// second and redraws the arms (and, for a lead, the table of individual runs); "Draw 1,000 more" simulates draws from the model's predicted distribution
// of token 1 in the browser (a seeded generator, clearly labelled: the model does not run).
// No inline script: the template carries data- attributes only (Content-Security-Policy). The numbers
// are written as on every sandbox page (lib/format.js, the same as the server's `pct` filter).

import { $, el, show } from "./lib/dom.js";
import { TokenName, num, pct, tokenName, visibleText } from "./lib/format.js";
import { api } from "./lib/http.js";

export const POLL_MS = 1000;
export const DRAWS = 1000;
const OTHER = "any other token";
const OTHER_MIN_P = 1e-7; // below this the rest of the distribution is rounding, not a token

// As the template's `floatformat:"-2"`: 0, 0.7, 1.5.
export const temperatureLabel = (t) => String(Number(t.toFixed(2)));
// As Python's f"{t:g}" in the lead's table (six significant digits, no trailing zeros): 0, 0.7, 1.5.
export const temperatureText = (t) => String(Number(t.toPrecision(6)));
// As the server's `short` in the lead's table: 80 characters at most, counted as Python counts them.
export function shortText(text) {
  const chars = Array.from(text);
  return chars.length <= 80 ? text : `${chars.slice(0, 79).join("")}…`;
}

function meter(max, value, label, className) {
  return el("meter", { min: "0", max: String(max), value: String(value), "aria-label": label, class: className });
}

const header = (...names) => el("thead", {}, el("tr", {}, names.map((name) => el("th", { scope: "col", text: name }))));

// One arm (one temperature) as templates/inference/experiments/_arm.html draws it on the server.
export function armNode(arm, index) {
  const article = el("article", { class: "panel experiment-arm", "aria-labelledby": `arm-${index}-heading`, "data-arm": String(index) });
  article.append(el("h2", { id: `arm-${index}-heading`, text: `Temperature ${temperatureLabel(arm.temperature)}${arm.greedy ? " (greedy)" : ""}` }));
  let tail = ` run${arm.runs_done === 1 ? "" : "s"} done · ${arm.runs_pending} pending`;
  if (arm.runs_failed) tail += ` · ${arm.runs_failed} failed or cancelled`;
  article.append(el("p", { class: "arm-counts" }, el("strong", { text: String(arm.runs_done) }), tail));
  if (arm.first_token.length) {
    const body = el("tbody");
    for (const token of arm.first_token) {
      body.append(el("tr", {},
        el("th", { scope: "row" }, el("code", { text: visibleText(token.text) })),
        el("td", {}, meter(arm.runs_done || 1, token.count, `Room: ${token.count} of ${arm.runs_done}`), ` ${token.count}/${arm.runs_done}`),
        el("td", {}, meter(1, token.p_predicted, `Model: ${pct(token.p_predicted)}`, "predicted"), ` ${pct(token.p_predicted)}`),
      ));
    }
    if (arm.other_p > OTHER_MIN_P) {
      body.append(el("tr", {}, el("th", { scope: "row", class: "muted", text: OTHER }),
        el("td", { text: `0/${arm.runs_done}` }), el("td", { text: pct(arm.other_p) })));
    }
    article.append(el("table", { class: "first-tokens" },
      el("caption", { text: `${TokenName(0)} of the output: the room against the model` }),
      header("Token", "Room", "Model"),
      body));
  } else {
    article.append(el("p", { class: "muted", text: "No run of this arm has finished yet." }));
  }
  article.append(el("p", { class: "fit", text: arm.fit_words }));
  if (arm.mean_entropy_bits !== null) {
    article.append(el("p", { class: "small", text: `Mean entropy: ${arm.mean_entropy_bits.toFixed(2)} bits per token.` }));
  }
  if (arm.outputs.length) {
    article.append(el("h3", { text: `Outputs (${arm.distinct_outputs} different)` }));
    article.append(el("ol", { class: "outputs" }, arm.outputs.map((output) => el("li", {},
      el("span", { class: "badge", text: `${output.count}×` }), " ",
      el("span", { class: "output-text", text: output.text || "(empty)" })))));
  }
  return article;
}

// --- The lead's table of individual runs ------------------------------------------------------
// One row per run in the order they started, as experiment_run_rows (inference/templatetags/experiments.py)
// draws it on the server. Rows are updated in place, never rebuilt, so a keyboard user's focus on a run's
// link survives the poll; a row's text changes only when the run's did.

// The texts of a run's cells after the link: learner, temperature, status, token 1, output.
const runTexts = (run) => [run.learner, temperatureText(run.temperature), run.status, visibleText(run.first_token), shortText(run.output)];

function fillRow(row, run) {
  runTexts(run).forEach((text, i) => {
    const cell = row.cells[i + 1];
    const target = cell.firstElementChild || cell; // token 1 sits in a <code>
    if (target.textContent !== text) target.textContent = text;
  });
}

export function runRow(run, runUrl) {
  const row = el("tr", { "data-run": String(run.run) },
    el("td", {}, el("a", { href: runUrl.replace("/0/", `/${run.run}/`), text: `#${run.run}` })),
    el("td"), el("td"), el("td"), el("td", {}, el("code")), el("td"));
  fillRow(row, run);
  return row;
}

// `runs` from the lead's poll into the server-drawn table (learners' answers have no `runs`).
export function drawRuns(runs) {
  const panel = $("experiment-runs");
  const body = $("experiment-run-rows");
  if (!panel || !body || !runs) return;
  const shown = new Map([...body.rows].map((row) => [row.dataset.run, row]));
  const wanted = new Set();
  for (const run of runs) {
    const id = String(run.run);
    wanted.add(id);
    const row = shown.get(id);
    if (row) fillRow(row, run);
    else body.append(runRow(run, panel.dataset.runUrl)); // runs only ever start after those shown
  }
  for (const [id, row] of shown) if (!wanted.has(id)) row.remove();
  show($("experiment-runs-table"), runs.length > 0);
  show($("experiment-runs-empty"), runs.length === 0);
}

// --- Polling -----------------------------------------------------------------------------------

let latest = null;
let lastBody = "";

// A closed experiment whose runs have all ended changes no more.
export const settled = (data) => data.status === "closed" && data.arms.every((arm) => arm.runs_pending === 0);

async function poll(results) {
  const answer = await api("GET", results.dataset.api);
  let stop = false;
  if (answer.ok) {
    const body = JSON.stringify(answer.data);
    if (body !== lastBody) {
      lastBody = body;
      latest = answer.data;
      results.replaceChildren(...latest.arms.map(armNode));
      drawRuns(latest.runs);
      const total = $("experiment-total");
      if (total) total.textContent = String(latest.total_runs);
      const status = $("experiment-status");
      if (status) status.textContent = latest.status === "open" ? "Open" : "Closed";
    }
    stop = settled(latest);
  } else {
    // Signed out, no longer allowed or gone: stop; offline for a moment (status 0) or busy: next tick.
    stop = [401, 403, 404].includes(answer.status);
  }
  if (!stop) setTimeout(() => poll(results), POLL_MS);
}

// --- Simulation ---------------------------------------------------------------------------------

// mulberry32: a small seeded generator, so a demonstration can be repeated (the seed is shown).
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The outcomes an arm's token 1 can take: each token the room saw, then the rest of the distribution.
export function outcomesOf(arm) {
  const outcomes = arm.first_token.map((token) => ({ label: visibleText(token.text), p: token.p_predicted }));
  if (arm.other_p > OTHER_MIN_P) outcomes.push({ label: OTHER, p: arm.other_p });
  return outcomes;
}

// `draws` draws from `outcomes` (probabilities that need not sum to 1) with the generator seeded `seed`,
// added to `counts` (label -> count).
export function draw(outcomes, seed, draws = DRAWS, counts = new Map()) {
  const total = outcomes.reduce((sum, outcome) => sum + outcome.p, 0);
  const random = mulberry32(seed);
  for (let i = 0; i < draws; i++) {
    let r = random() * total;
    let chosen = outcomes[outcomes.length - 1];
    for (const outcome of outcomes) {
      r -= outcome.p;
      if (r < 0) {
        chosen = outcome;
        break;
      }
    }
    counts.set(chosen.label, (counts.get(chosen.label) || 0) + 1);
  }
  return counts;
}

const simulated = new Map(); // arm index -> {counts: Map(label -> count), total, seeds}
let nextSeed = 1;

function simulate(index) {
  const arm = latest && latest.arms[index];
  const output = $("simulate-output");
  if (!arm || !arm.first_token.length) {
    output.replaceChildren(el("p", { class: "muted", text: "No finished run of this arm yet: the model's probabilities are not known." }));
    return;
  }
  const outcomes = outcomesOf(arm);
  const total = outcomes.reduce((sum, outcome) => sum + outcome.p, 0);
  const state = simulated.get(index) || { counts: new Map(), total: 0, seeds: [] };
  const seed = nextSeed++;
  draw(outcomes, seed, DRAWS, state.counts);
  state.total += DRAWS;
  state.seeds.push(seed);
  simulated.set(index, state);

  const body = el("tbody", {}, outcomes.map((outcome) => {
    const count = state.counts.get(outcome.label) || 0;
    return el("tr", {}, el("th", { scope: "row" }, el("code", { text: outcome.label })),
      el("td", { text: `${num(count)} (${pct(count / state.total)})` }), el("td", { text: pct(outcome.p / total) }));
  }));
  output.replaceChildren(
    el("p", { class: "small", text: `Simulated, not the model: ${num(state.total)} draws at temperature ${temperatureLabel(arm.temperature)} from the model's predicted distribution of ${tokenName(0)} (seeds ${state.seeds.join(", ")}). The simulated shares approach the model's probabilities as draws add up.` }),
    el("table", { class: "first-tokens" },
      el("caption", { text: `Simulated ${tokenName(0)}` }),
      header("Token", "Simulated", "Model"),
      body));
}

const results = $("experiment-results");
if (results) {
  const panel = $("experiment-simulate");
  const select = $("simulate-arm");
  if (panel && select && select.options.length) {
    panel.hidden = false;
    $("simulate-draw").addEventListener("click", () => simulate(Number(select.value)));
    select.addEventListener("change", () => $("simulate-output").replaceChildren());
  }
  poll(results);
}
