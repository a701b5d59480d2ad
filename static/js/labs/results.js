// What each lab found, drawn with plain HTML and CSS (no chart library): the sampler pipeline, the
// temperature sweep, speculative decoding and quantization.

import { el } from "../lib/dom.js";
import { TokenName, bytes, ms, num, pct, perSecond, seconds, tokenName, visibleText } from "../lib/format.js";

const STAGES = {
  penalties: "Penalties",
  top_k: "Top-k",
  top_p: "Top-p",
  min_p: "Min-p",
  temperature: "Temperature",
  greedy: "Greedy",
};

export const tok = (text, cls = "", attrs = {}) => el("span", { class: `tok ${cls}`.trim(), ...attrs }, visibleText(text));

export function fact(term, value) {
  return el("div", {}, el("dt", { text: term }), el("dd", {}, value));
}

// A list of horizontal bars: rows of {label (node or text), value, max?, display, cls, title}.
function barList(rows, { max = 1, cls = "" } = {}) {
  return el(
    "ul",
    { class: `bars ${cls}`.trim() },
    rows.map((row) => {
      const width = row.value === null || row.value === undefined ? 0 : Math.min(100, (row.value / (max || 1)) * 100);
      return el(
        "li",
        { class: row.cls || null, title: row.title || null },
        el("span", { class: "bar-label" }, row.label),
        el(
          "span",
          { class: "bar-track", "aria-hidden": "true" },
          el("span", { class: width > 0 ? "bar" : "bar zero", style: `width: ${width.toFixed(2)}%` }),
        ),
        el("span", { class: "bar-value" }, row.display),
      );
    }),
  );
}


// A results table: column heads as [text, numeric?] and the body's rows.
function labTable(heads, rows) {
  return el(
    "table",
    { class: "lab-table" },
    el("thead", {}, el("tr", {}, heads.map(([text, numeric]) => el("th", { scope: "col", class: numeric ? "num" : null, text })))),
    el("tbody", {}, rows),
  );
}

function stageTitle(name, params) {
  const label = STAGES[name] || name;
  const p = params || {};
  if (name === "top_k") return `${label} (k = ${p.top_k || "off"})`;
  if (name === "top_p") return `${label} (p = ${p.top_p ?? "–"})`;
  if (name === "min_p") return `${label} (${p.min_p ?? "–"})`;
  if (name === "temperature") return `${label} (T = ${p.temperature ?? "–"})`;
  if (name === "greedy") return `${label} (T = 0)`;
  if (name === "penalties") {
    const parts = [];
    if (p.repeat_penalty && p.repeat_penalty !== 1) parts.push(`repeat ${p.repeat_penalty}`);
    if (p.presence_penalty) parts.push(`presence ${p.presence_penalty}`);
    if (p.frequency_penalty) parts.push(`frequency ${p.frequency_penalty}`);
    return `${label} (${parts.length ? parts.join(", ") : "none"})`;
  }
  return label;
}

function renderPipeline(result) {
  const chosenId = result.chosen.id;
  const stages = result.stages.map((stage, index) => {
    let shown = stage.top.slice(0, 10);
    const drawnBeyond = stage.top.slice(10).find((c) => c.id === chosenId);
    if (drawnBeyond) shown = [...shown, drawnBeyond];
    const rows = shown.map((c) => ({
      label: [tok(c.text), c.id === chosenId ? el("span", { class: "visually-hidden", text: " (drawn)" }) : null],
      value: c.p,
      display: pct(c.p),
      cls: c.id === chosenId ? "chosen" : null,
      title: `id ${c.id}`,
    }));
    const where = stage.chosen
      ? [el("strong", { text: `rank ${stage.chosen.rank}` }), `, p ${pct(stage.chosen.p)}`]
      : [el("strong", { text: "not in this set" })];
    return el(
      "li",
      { class: "stage" },
      el("h3", {}, el("span", { class: "stage-no", "aria-hidden": "true" }, String(index + 1)), stageTitle(stage.name, result.params)),
      el(
        "dl",
        { class: "facts compact" },
        fact("Candidates", num(stage.size)),
        fact("Removed", num(stage.removed)),
        fact("Mass kept", pct(stage.mass_kept)),
      ),
      barList(rows),
      el("p", { class: "stage-chosen" }, "Drawn token: ", ...where),
    );
  });
  return [
    el(
      "p",
      { class: "lab-lead" },
      `Run #${result.run}, ${tokenName(result.step)}: the drawn token was `,
      tok(result.chosen.text, "chosen"),
      ` (id ${result.chosen.id}). Bars are probabilities within each stage's candidate set; the drawn token is highlighted.`,
    ),
    el("ol", { class: "stages", "aria-label": "Sampler stages, in order" }, stages),
  ];
}

function sweepOrder(distributions) {
  // Temperature keeps the order of tokens, so any T > 0 gives the same top tokens; T = 0 puts all mass on one.
  const source = distributions.find((d) => d.temperature > 0) || distributions[0];
  return source ? source.top.slice(0, 8).map((c) => ({ id: c.id, text: c.text })) : [];
}

function renderSweep(result) {
  const maxEntropy = Math.max(0.001, ...result.rows.map((r) => r.mean_entropy_bits));
  const table = labTable(
    [["Temperature", true], ["Distinct outputs", true], ["Mean entropy (bits)"], ["Outputs"]],
    result.rows.map((row) =>
        el(
          "tr",
          {},
          el("th", { scope: "row", class: "num", text: String(row.temperature) }),
          el("td", { class: "num" }, `${row.distinct_outputs} of ${row.outputs.length}`),
          el(
            "td",
            {},
            el(
              "span",
              { class: "inline-bar" },
              el("span", { class: "bar-value", text: row.mean_entropy_bits.toFixed(2) }),
              el(
                "span",
                { class: "bar-track", "aria-hidden": "true" },
                el("span", { class: "bar", style: `width: ${((row.mean_entropy_bits / maxEntropy) * 100).toFixed(1)}%` }),
              ),
            ),
          ),
          el(
            "td",
            { class: "outputs" },
            el(
              "details",
              {},
              el("summary", { text: `Show ${row.outputs.length === 1 ? "the output" : `${row.outputs.length} outputs`}` }),
              el("ol", {}, row.outputs.map((text, i) => el("li", { title: `seed ${i + 1}` }, text || "∅"))),
            ),
          ),
        ),
    ),
  );
  const order = sweepOrder(result.distributions);
  const groups = result.distributions.map((dist) => {
    const byId = new Map(dist.top.map((c) => [c.id, c.p]));
    const rows = order.map((token, i) => {
      const p = byId.has(token.id) ? byId.get(token.id) : dist.temperature > 0 ? null : 0;
      return { label: tok(token.text), value: p, display: pct(p), cls: `c${i}`, title: `id ${token.id}` };
    });
    const shown = rows.reduce((sum, r) => sum + (r.value || 0), 0);
    rows.push({ label: el("span", { class: "muted", text: "all others" }), value: Math.max(0, 1 - shown), display: pct(Math.max(0, 1 - shown)), cls: "others" });
    return el("figure", { class: "dist-group" }, el("figcaption", {}, `T = ${dist.temperature}`), barList(rows));
  });
  const tail = result.step_context_tail;
  return [
    el("h3", { text: "Outputs per temperature" }),
    el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Outputs per temperature" }, table),
    el("h3", { text: `${TokenName(result.step)}: the next-token distribution at each temperature` }),
    el(
      "p",
      { class: "muted small" },
      result.step > 0
        ? ["On the greedy path, after ", tok(tail || ""), ". "]
        : "The first generated token. ",
      "The same tokens, in the same colours, in every group.",
    ),
    el("div", { class: "dist-groups" }, groups),
  ];
}

function renderSpeculative(result, job) {
  const k = result.acceptance_by_position.length;
  const positions = barList(
    result.acceptance_by_position.map((rate, i) => ({
      label: `Position ${i + 1}`,
      value: rate,
      display: rate === null ? "no drafts" : pct(rate),
    })),
  );
  let note;
  if (result.greedy) {
    note = result.same_as_plain
      ? el("p", { class: "comparison same" }, "Greedy: the output is the same as plain greedy decoding, token for token.")
      : el("p", { class: "comparison different" }, "Greedy, yet the output differs from plain greedy decoding.");
  } else {
    note = el(
      "p",
      { class: "comparison" },
      `Sampled at temperature ${job?.input?.params?.temperature ?? ""}: the output follows the model's own distribution, `,
      "so it need not match a plain run with the same seed",
      result.same_as_plain ? " (here it does)." : " (here it differs).",
    );
  }
  const steps = result.steps.map((step, index) => {
    const drafted = step.drafted.map((t, i) =>
      i < step.accepted
        ? tok(t.text, "accepted", { title: `drafted, accepted · id ${t.id}` })
        : tok(t.text, "rejected", { title: `drafted, rejected · id ${t.id}` }),
    );
    const own = step.emitted.slice(step.accepted).map((t) => tok(t.text, "target", { title: `the model's own token · id ${t.id}` }));
    const label = `Step ${index + 1}: ${step.drafted.length ? `${step.accepted} of ${step.drafted.length} drafted tokens accepted` : "nothing drafted"}`;
    return el(
      "li",
      { class: "spec-step", "aria-label": label, title: label },
      el("span", { class: "spec-no", "aria-hidden": "true", text: String(index + 1) }),
      step.drafted.length ? drafted : el("span", { class: "muted small", text: "no draft" }),
      own.length ? el("span", { class: "arrow", "aria-hidden": "true", text: "→" }) : null,
      own,
    );
  });
  return [
    el(
      "dl",
      { class: "facts" },
      fact("Acceptance rate", pct(result.acceptance_rate)),
      fact("Speed-up", result.speed_up ? `${result.speed_up.toFixed(2)}×` : "–"),
      fact("Model calls", `${num(result.target_calls)} for ${num(result.tokens)} tokens`),
      fact("Speculative", seconds(result.speculative_seconds)),
      fact("Plain", seconds(result.plain_seconds)),
    ),
    note,
    el("h3", { text: `Acceptance by draft position (k = ${k})` }),
    positions,
    el("h3", { text: "Output" }),
    el("p", { class: "output-text" }, result.output_text || "∅"),
    el("h3", { text: "Steps" }),
    el(
      "ul",
      { class: "legend", "aria-label": "Legend" },
      el("li", {}, tok("ok", "accepted"), " drafted, accepted"),
      el("li", {}, tok("no", "rejected"), " drafted, rejected"),
      el("li", {}, tok("tok", "target"), " the model's own token"),
    ),
    el("ol", { class: "spec-steps" }, steps),
  ];
}

function renderQuantization(result) {
  const rows = result.rows;
  const source = result.source; // labs from before sources were recorded have none
  const origin = source && ((r) => (r.origin === "installed" ? "the installed file" : `made from the ${source.quantization} file`));
  const reference = rows.find((r) => r.reference);
  const table = labTable(
    ["Variant", "Size", "Load", "Speed", "Greedy agreement", "Top-1 agreement", "Mean KL (nats)"].map((h, i) => [h, i > 0]),
    rows.map((r) =>
        el(
          "tr",
          {},
          el(
            "th",
            { scope: "row" },
            el("strong", { text: r.quantization }),
            r.reference ? el("span", { class: "badge", text: "reference" }) : null,
            el("span", { class: "variant-slug", text: r.slug }),
            origin ? el("span", { class: "variant-slug", text: origin(r) }) : null,
          ),
          el("td", { class: "num", text: bytes(r.size_bytes) }),
          el("td", { class: "num", text: ms(r.load_ms) }),
          el("td", { class: "num", text: perSecond(r.tokens_per_second) }),
          el("td", { class: "num", text: pct(r.greedy_agreement) }),
          el("td", { class: "num", text: pct(r.top1_agreement) }),
          el("td", { class: "num", text: r.mean_kl.toFixed(4) }),
        ),
      ),
  );
  const maxSize = Math.max(...rows.map((r) => r.size_bytes));
  const maxKl = Math.max(1e-9, ...rows.map((r) => r.mean_kl));
  const label = (r) => [el("strong", { text: r.quantization })];
  return [
    el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Variants compared" }, table),
    el(
      "p",
      { class: "muted small" },
      reference ? `The reference is ${reference.quantization}, the variant with the most bits per weight. ` : "",
      source
        ? `Every other variant was requantized from the installed ${source.quantization} file, so none is closer to the original weights than ${source.quantization}: a higher-bit copy keeps its rounding. `
        : "",
      `Agreement and KL divergence are measured against the reference over the same ${result.text_tokens}-token text; `,
      `the greedy outputs continue “${result.prompt}”.`,
    ),
    el(
      "div",
      { class: "chart-pair" },
      el(
        "figure",
        { class: "chart" },
        el("figcaption", { text: "File size" }),
        barList(rows.map((r) => ({ label: label(r), value: r.size_bytes, display: bytes(r.size_bytes) })), { max: maxSize }),
      ),
      el(
        "figure",
        { class: "chart kl" },
        el("figcaption", { text: "Mean KL divergence from the reference" }),
        barList(rows.map((r) => ({ label: label(r), value: r.mean_kl, display: r.mean_kl.toFixed(4) })), { max: maxKl }),
      ),
    ),
    el("h3", { text: "Greedy outputs" }),
    el(
      "dl",
      { class: "outputs-list" },
      rows.map((r) => el("div", {}, el("dt", { text: r.quantization }), el("dd", {}, r.output_text || "∅"))),
    ),
  ];
}

const RENDERERS = {
  pipeline: renderPipeline,
  sweep: renderSweep,
  speculative: renderSpeculative,
  quantization: renderQuantization,
};

export function drawResult(job, container) {
  if (job.status === "failed") {
    container.replaceChildren(el("p", { class: "form-errors", text: `The lab failed: ${job.error || "no reason given"}` }));
    return;
  }
  const render = RENDERERS[job.kind];
  container.replaceChildren(...(render ? render(job.result, job) : []));
}
