// The live experiment's results page (made to be projected): polls the results JSON every second and
// redraws the arms; "Draw 1,000 more" simulates draws from the model's predicted first-token distribution
// in the browser (a seeded generator, clearly labelled: the model does not run).
// No inline script: the template carries data- attributes only (Content-Security-Policy).

const POLL_MS = 1000;
const DRAWS = 1000;

const results = document.getElementById("experiment-results");

function pct(p) {
  if (p === null || p === undefined) return "–";
  const value = p * 100;
  if (value === 0) return "0%";
  return value >= 1 ? `${value.toFixed(1)}%` : `${Number(value.toPrecision(2))}%`;
}

function visible(text) {
  if (text === "") return "∅";
  return text.replace(/\r/g, "␍").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

function temperatureLabel(t) {
  return String(Number(t.toFixed(2)));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function meter(max, value, label, className) {
  const node = el("meter", { min: "0", max: String(max), value: String(value), "aria-label": label });
  if (className) node.className = className;
  return node;
}

function armNode(arm, index) {
  const article = el("article", { class: "panel experiment-arm", "aria-labelledby": `arm-${index}-heading`, "data-arm": String(index) });
  article.append(el("h2", { id: `arm-${index}-heading`, text: `Temperature ${temperatureLabel(arm.temperature)}${arm.greedy ? " (greedy)" : ""}` }));
  const counts = el("p", { class: "arm-counts" }, el("strong", { text: String(arm.runs_done) }));
  let tail = ` run${arm.runs_done === 1 ? "" : "s"} done · ${arm.runs_pending} pending`;
  if (arm.runs_failed) tail += ` · ${arm.runs_failed} failed or cancelled`;
  counts.append(tail);
  article.append(counts);
  if (arm.first_token.length) {
    const body = el("tbody");
    for (const token of arm.first_token) {
      body.append(el("tr", {},
        el("th", { scope: "row" }, el("code", { text: visible(token.text) })),
        el("td", {}, meter(arm.runs_done || 1, token.count, `Room: ${token.count} of ${arm.runs_done}`), ` ${token.count}/${arm.runs_done}`),
        el("td", {}, meter(1, token.p_predicted, `Model: ${pct(token.p_predicted)}`, "predicted"), ` ${pct(token.p_predicted)}`),
      ));
    }
    if (arm.other_p > 1e-7) {
      body.append(el("tr", {}, el("th", { scope: "row", class: "muted", text: "any other token" }),
        el("td", { text: `0/${arm.runs_done}` }), el("td", { text: pct(arm.other_p) })));
    }
    article.append(el("table", { class: "first-tokens" },
      el("caption", { text: "First generated token: the room against the model" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Token" }), el("th", { scope: "col", text: "Room" }), el("th", { scope: "col", text: "Model" }))),
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
    const list = el("ol", { class: "outputs" });
    for (const output of arm.outputs) {
      list.append(el("li", {}, el("span", { class: "badge", text: `${output.count}×` }), " ",
        el("span", { class: "output-text", text: output.text || "(empty)" })));
    }
    article.append(list);
  }
  return article;
}

// --- Polling -----------------------------------------------------------------------------------

let latest = null;
let lastBody = "";

async function poll() {
  let stop = false;
  try {
    const response = await fetch(results.dataset.api, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.ok) {
      const body = await response.text();
      if (body !== lastBody) {
        lastBody = body;
        latest = JSON.parse(body);
        results.replaceChildren(...latest.arms.map(armNode));
        const total = document.getElementById("experiment-total");
        if (total) total.textContent = String(latest.total_runs);
        const status = document.getElementById("experiment-status");
        if (status) status.textContent = latest.status === "open" ? "Open" : "Closed";
      }
      // A closed experiment whose runs have all ended changes no more.
      stop = latest && latest.status === "closed" && latest.arms.every((arm) => arm.runs_pending === 0);
    } else if (response.status === 401 || response.status === 403 || response.status === 404) {
      stop = true;
    }
  } catch {
    // Offline for a moment: try again at the next tick.
  }
  if (!stop) setTimeout(poll, POLL_MS);
}

// --- Simulation ---------------------------------------------------------------------------------

// mulberry32: a small seeded generator, so a demonstration can be repeated (the seed is shown).
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const simulated = new Map(); // arm index -> {seed, counts: Map(label -> count), total}
let nextSeed = 1;

function simulate(index) {
  const arm = latest && latest.arms[index];
  const output = document.getElementById("simulate-output");
  if (!arm || !arm.first_token.length) {
    output.replaceChildren(el("p", { class: "muted", text: "No finished run of this arm yet: the model's probabilities are not known." }));
    return;
  }
  const outcomes = arm.first_token.map((token) => ({ label: visible(token.text), p: token.p_predicted }));
  if (arm.other_p > 1e-7) outcomes.push({ label: "any other token", p: arm.other_p });
  const total = outcomes.reduce((sum, outcome) => sum + outcome.p, 0);
  const state = simulated.get(index) || { counts: new Map(), total: 0, seeds: [] };
  const seed = nextSeed++;
  const random = mulberry32(seed);
  for (let i = 0; i < DRAWS; i++) {
    let r = random() * total;
    let chosen = outcomes[outcomes.length - 1];
    for (const outcome of outcomes) {
      r -= outcome.p;
      if (r < 0) { chosen = outcome; break; }
    }
    state.counts.set(chosen.label, (state.counts.get(chosen.label) || 0) + 1);
  }
  state.total += DRAWS;
  state.seeds.push(seed);
  simulated.set(index, state);

  const body = el("tbody");
  for (const outcome of outcomes) {
    const count = state.counts.get(outcome.label) || 0;
    body.append(el("tr", {}, el("th", { scope: "row" }, el("code", { text: outcome.label })),
      el("td", { text: `${count} (${pct(count / state.total)})` }), el("td", { text: pct(outcome.p / total) })));
  }
  output.replaceChildren(
    el("p", { class: "small", text: `Simulated, not the model: ${state.total.toLocaleString("en")} draws at temperature ${temperatureLabel(arm.temperature)} from the predicted first-token distribution (seeds ${state.seeds.join(", ")}). The simulated shares approach the model's probabilities as draws add up.` }),
    el("table", { class: "first-tokens" },
      el("caption", { text: "Simulated first tokens" }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Token" }), el("th", { scope: "col", text: "Simulated" }), el("th", { scope: "col", text: "Model" }))),
      body));
}

if (results) {
  const panel = document.getElementById("experiment-simulate");
  const select = document.getElementById("simulate-arm");
  if (panel && select && select.options.length) {
    panel.hidden = false;
    document.getElementById("simulate-draw").addEventListener("click", () => simulate(Number(select.value)));
    select.addEventListener("change", () => document.getElementById("simulate-output").replaceChildren());
  }
  poll();
}
