// Sandbox labs: start a lab from its form, poll it, draw the result with plain HTML and CSS (no chart
// library). Also the run tree tool and the inspector's tensor filter. Plain ES module, no build step.

const POLL_MS = 500;
const FINISHED = new Set(["done", "failed"]);
const ID = "999999999"; // placeholder id in the URLs the page hands over
const KINDS = {
  pipeline: "Sampler pipeline",
  sweep: "Temperature sweep",
  speculative: "Speculative decoding",
  quantization: "Quantization",
};
const STAGES = {
  penalties: "Penalties",
  top_k: "Top-k",
  top_p: "Top-p",
  min_p: "Min-p",
  temperature: "Temperature",
  greedy: "Greedy",
};

const $ = (id) => document.getElementById(id);
const root = $("labs");
const data = root ? root.dataset : {};
const withId = (template, id) => template.replace(ID, String(id));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- Helpers ----------------------------------------------------------------

function csrfToken() {
  try {
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
  } catch {
    // fall back to the cookie
  }
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(method, url, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.headers["X-CSRFToken"] = csrfToken();
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    return { ok: false, status: 0, data: { error: "The server could not be reached." } };
  }
  let payload;
  try {
    payload = await response.json();
  } catch {
    payload = { error: `The server answered ${response.status} without JSON.` };
  }
  return { ok: response.ok, status: response.status, data: payload };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

// Whitespace a reader would otherwise not see inside a token.
function visibleText(text) {
  if (text === "") return "∅";
  return text.replace(/\r/g, "␍").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

function pct(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return "–";
  const value = p * 100;
  if (value === 0) return "0%";
  if (value === 100) return "100%";
  if (value >= 99.95 && value < 100) return "99.9%";
  if (value >= 1) return `${value.toFixed(1)}%`;
  if (value < 0.001) return "<0.001%";
  return `${Number(value.toPrecision(2))}%`;
}

const num = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));

function bytes(size) {
  if (!size) return "–";
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  let value = size;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return `${value.toFixed(value < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

function seconds(s) {
  if (s === null || s === undefined) return "–";
  return s >= 1 ? `${s.toFixed(2)} s` : `${Math.round(s * 1000)} ms`;
}

function sci(p) {
  if (p === 0) return "0";
  if (p >= 0.001) return pct(p);
  return p.toExponential(2);
}

const tok = (text, cls = "", attrs = {}) => el("span", { class: `tok ${cls}`.trim(), ...attrs }, visibleText(text));

function fact(term, value) {
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

function promptOf(request) {
  if (!request) return "";
  if (request.messages) return request.messages[request.messages.length - 1]?.content || "";
  return request.prompt || "";
}

// --- Results ----------------------------------------------------------------

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
      `Run #${result.run}, step ${result.step}: the drawn token was `,
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
  const table = el(
    "table",
    { class: "lab-table" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", { scope: "col", class: "num", text: "Temperature" }),
        el("th", { scope: "col", class: "num", text: "Distinct outputs" }),
        el("th", { scope: "col", text: "Mean entropy (bits)" }),
        el("th", { scope: "col", text: "Outputs" }),
      ),
    ),
    el(
      "tbody",
      {},
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
    el("h3", { text: `Step ${result.step}: the next-token distribution at each temperature` }),
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
  const table = el(
    "table",
    { class: "lab-table" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Variant", "Size", "Load", "Tokens/s", "Greedy agreement", "Top-1 agreement", "Mean KL (nats)"].map((h, i) =>
          el("th", { scope: "col", class: i ? "num" : null, text: h }),
        ),
      ),
    ),
    el(
      "tbody",
      {},
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
          ),
          el("td", { class: "num", text: bytes(r.size_bytes) }),
          el("td", { class: "num", text: r.load_ms === null ? "–" : `${Math.round(r.load_ms)} ms` }),
          el("td", { class: "num", text: r.tokens_per_second ?? "–" }),
          el("td", { class: "num", text: pct(r.greedy_agreement) }),
          el("td", { class: "num", text: pct(r.top1_agreement) }),
          el("td", { class: "num", text: r.mean_kl.toFixed(4) }),
        ),
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

function drawResult(job, container) {
  if (job.status === "failed") {
    container.replaceChildren(el("p", { class: "form-errors", text: `The lab failed: ${job.error || "no reason given"}` }));
    return;
  }
  const render = RENDERERS[job.kind];
  container.replaceChildren(...(render ? render(job.result, job) : []));
}

function statusText(job) {
  const name = `${KINDS[job.kind] || "Lab"} #${job.id}`;
  if (job.status === "queued") return `${name} is queued…`;
  if (job.status === "running") return `${name} is running…`;
  if (job.status === "done") return `${name} is done.`;
  return `${name} failed.`;
}

// Polls a lab until it finishes. `isCurrent` stops a poll that a newer lab in the same place replaced.
async function follow(jobId, { status, isCurrent = () => true }) {
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

function shareBar(job, { isOwner, url, openLink }) {
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
  copy.addEventListener("click", async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(url);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Press Ctrl+C to copy";
    }
    setTimeout(() => (copy.textContent = "Copy link"), 2000);
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

// --- Hub: starting labs -------------------------------------------------------

function promptBody(form) {
  const mode = form.querySelector("[name=mode]:checked")?.value || "chat";
  const text = form.querySelector("[name=text]").value;
  return mode === "raw" ? { prompt: text } : { messages: [{ role: "user", content: text }] };
}

const numberValue = (form, name) => {
  const raw = form.querySelector(`[name="${name}"]`).value.trim();
  return raw === "" ? undefined : Number(raw);
};

const BODIES = {
  pipeline: (form) => ({ run: numberValue(form, "run"), step: numberValue(form, "step") }),
  sweep: (form) => ({
    model: form.querySelector("[name=model]").value,
    ...promptBody(form),
    temperatures: form
      .querySelector("[name=temperatures]")
      .value.split(/[\s,;]+/)
      .filter(Boolean)
      .map(Number),
    seeds: numberValue(form, "seeds"),
    max_tokens: numberValue(form, "max_tokens"),
    step: numberValue(form, "step"),
  }),
  speculative: (form) => {
    const draft = form.querySelector("[name=draft]:checked").value;
    const body = {
      model: form.querySelector("[name=model]").value,
      draft,
      ...promptBody(form),
      k: numberValue(form, "k"),
      max_tokens: numberValue(form, "max_tokens"),
      temperature: numberValue(form, "temperature"),
    };
    if (draft === "model") body.draft_model = form.querySelector("[name=draft_model]").value;
    const seed = numberValue(form, "seed");
    if (seed !== undefined) body.seed = seed;
    return body;
  },
  quantization: (form) => ({
    model: form.querySelector("[name=model]").value,
    types: [...form.querySelectorAll("[name=types]:checked")].map((box) => box.value),
  }),
};

// Checks the browser can make before asking the server; the server checks everything again.
const PRECHECKS = {
  sweep: (body) =>
    body.temperatures.some((t) => Number.isNaN(t)) ? { temperatures: ["Use numbers separated by commas, like 0, 0.7, 1.5."] } : null,
  quantization: (body) => (body.types.length ? null : { types: ["Tick at least one type."] }),
  pipeline: (body) => (Number.isInteger(body.run) ? null : { run: ["Make a run in the sandbox first."] }),
};

function showErrors(form, message, fields = {}) {
  const box = form.querySelector(".form-errors");
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
  const entries = Object.entries(fields || {});
  if (!message && !entries.length) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const items = entries.map(([name, messages]) => {
    const input = form.querySelector(`[name="${name}"]`);
    if (input) input.setAttribute("aria-invalid", "true");
    const label = input?.id ? form.querySelector(`label[for="${input.id}"]`)?.textContent : name.replace(/_/g, " ");
    return el("li", {}, `${label || name}: ${messages.join(" ")}`);
  });
  box.replaceChildren(el("p", { text: message || "Check the form." }), items.length ? el("ul", {}, items) : null);
  box.hidden = false;
}

function addRecent(job) {
  const list = $("recent-labs");
  if (!list) return;
  list.querySelector(".empty")?.remove();
  list.prepend(
    el(
      "li",
      {},
      el("a", { href: withId(data.labPage, job.id), text: `${KINDS[job.kind]} #${job.id}` }),
      " ",
      el("span", { class: "badge done", text: "Done" }),
      " ",
      el("span", { class: "muted small", text: "just now" }),
    ),
  );
}

function setupLabForm(form) {
  const kind = form.dataset.kind;
  const section = form.closest(".lab");
  const result = section.querySelector(".lab-result");
  const status = form.querySelector(".lab-status");
  const submit = form.querySelector("button[type=submit]");
  let current = 0;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = BODIES[kind](form);
    const precheck = PRECHECKS[kind]?.(body);
    if (precheck) {
      showErrors(form, "Check the form.", precheck);
      return;
    }
    showErrors(form);
    const mine = ++current;
    submit.disabled = true;
    status.textContent = `Starting the ${KINDS[kind].toLowerCase()}…`;
    const response = await api("POST", form.dataset.api, body);
    if (!response.ok) {
      submit.disabled = false;
      status.textContent = "The lab did not start.";
      showErrors(form, response.data.error, response.data.fields);
      return;
    }
    const job = await follow(response.data.id, { status, isCurrent: () => mine === current });
    if (mine !== current) return;
    submit.disabled = false;
    if (!job) return;
    result.replaceChildren();
    const url = new URL(withId(data.labPage, job.id), window.location.origin).href;
    drawResult(job, result);
    result.prepend(shareBar(job, { isOwner: true, url, openLink: true }));
    if (job.status === "done") addRecent(job);
  });
}

// Pipeline: the chosen run's tokens as a radio group of chips; picking one sets the step.
function setupPipelinePicker(form) {
  const select = form.querySelector("[name=run]");
  const stepInput = form.querySelector("[name=step]");
  const picker = $("pl-tokens");
  const label = $("pl-tokens-label");
  let chips = [];

  if (!select.options.length) {
    $("pl-no-runs").hidden = false;
    select.disabled = true;
    stepInput.disabled = true;
    form.querySelector("button[type=submit]").disabled = true;
    picker.replaceChildren();
    return;
  }

  function mark(step, focus = false) {
    chips.forEach((chip, i) => {
      const on = i === step;
      chip.setAttribute("aria-checked", on ? "true" : "false");
      chip.tabIndex = on || (step < 0 && i === 0) ? 0 : -1;
      if (on && focus) chip.focus();
    });
  }

  function choose(step, focus = false) {
    if (!chips.length) return;
    const clamped = Math.max(0, Math.min(chips.length - 1, step));
    stepInput.value = String(clamped);
    mark(clamped, focus);
  }

  async function load() {
    const id = select.value;
    picker.replaceChildren(el("span", { class: "muted small", text: "Loading the run's tokens…" }));
    const response = await api("GET", withId(data.apiRun, id));
    if (select.value !== id) return;
    if (!response.ok) {
      picker.replaceChildren(el("span", { class: "error", text: response.data.error || "Could not load the run." }));
      return;
    }
    const tokens = response.data.tokens || [];
    chips = tokens.map((t, i) =>
      el(
        "button",
        {
          type: "button",
          role: "radio",
          class: "tok pick",
          "aria-checked": "false",
          "aria-label": `Step ${i}: ${visibleText(t.text)}`,
          title: `step ${i} · id ${t.id} · p ${pct(t.p_sampled)}`,
          tabindex: "-1",
          onclick: () => choose(i),
        },
        visibleText(t.text),
      ),
    );
    picker.replaceChildren(...chips);
    label.textContent = `Step: click a token of run #${id} (${tokens.length} tokens)`;
    stepInput.max = String(Math.max(0, tokens.length - 1));
    choose(Number(stepInput.value) || 0);
  }

  picker.addEventListener("keydown", (event) => {
    const step = Number(stepInput.value) || 0;
    const moves = { ArrowRight: step + 1, ArrowDown: step + 1, ArrowLeft: step - 1, ArrowUp: step - 1, Home: 0, End: chips.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      choose(moves[event.key], true);
    }
  });
  stepInput.addEventListener("input", () => mark(Number(stepInput.value)));
  select.addEventListener("change", () => {
    stepInput.value = "0";
    load();
  });
  load();
}

function setupSpeculativeDraft(form) {
  const field = form.querySelector(".draft-model-field");
  const select = field.querySelector("select");
  const sync = () => {
    const useModel = form.querySelector("[name=draft]:checked").value === "model";
    field.hidden = !useModel;
    select.disabled = !useModel;
  };
  form.querySelectorAll("[name=draft]").forEach((radio) => radio.addEventListener("change", sync));
  sync();
}

// --- Hub: run tree --------------------------------------------------------------

function setupRunTree() {
  const form = $("tree-form");
  const status = $("tree-status");
  const view = $("tree-view");
  const compare = $("tree-compare");
  const runs = new Map(); // id -> GET /runs/{id}
  let selected = [];

  async function getRun(id) {
    if (!runs.has(id)) {
      const response = await api("GET", withId(data.apiRun, id));
      if (!response.ok) throw new Error(response.data.error || `Could not load run #${id}.`);
      runs.set(id, response.data);
    }
    return runs.get(id);
  }

  function node(n) {
    const what =
      n.branch_step === null || n.branch_step === undefined
        ? el("span", { class: "muted", text: "root" })
        : ["branch at step ", String(n.branch_step), ": ", tok(n.branch_token?.text ?? ""), ` (p ${pct(n.branch_token?.p_model)})`];
    const button = el(
      "button",
      { type: "button", class: "tree-node", "aria-pressed": "false", "data-id": String(n.id) },
      el("strong", { text: `#${n.id}` }),
      " ",
      what,
      n.status !== "done" ? el("span", { class: `badge ${n.status}`, text: n.status }) : null,
      el("span", { class: "tree-preview" }, visibleText(n.output_text.slice(0, 90)) || "…"),
    );
    button.addEventListener("click", () => toggle(n.id));
    return el("li", {}, button, n.branches.length ? el("ul", {}, n.branches.map(node)) : null);
  }

  function toggle(id) {
    selected = selected.includes(id) ? selected.filter((s) => s !== id) : [...selected, id].slice(-2);
    view.querySelectorAll(".tree-node").forEach((b) => b.setAttribute("aria-pressed", String(selected.includes(Number(b.dataset.id)))));
    if (selected.length === 2) showComparison(selected[0], selected[1]);
    else compare.replaceChildren(el("p", { class: "muted", text: selected.length ? "Select one more run to compare." : "" }));
  }

  async function showComparison(aId, bId) {
    compare.replaceChildren(el("p", { class: "muted", text: "Loading both runs…" }));
    let a;
    let b;
    try {
      [a, b] = await Promise.all([getRun(aId), getRun(bId)]);
    } catch (error) {
      compare.replaceChildren(el("p", { class: "error", text: error.message }));
      return;
    }
    if (selected[0] !== aId || selected[1] !== bId) return;
    let split = 0;
    while (split < a.tokens.length && split < b.tokens.length && a.tokens[split].id === b.tokens[split].id) split += 1;
    const identical = split === a.tokens.length && split === b.tokens.length;
    const column = (run) => {
      const tail = run.tokens.slice(split);
      const probability = tail.reduce((product, t) => product * t.p_model, 1);
      // Per token, so a long path and a short one compare fairly (the product shrinks with length).
      const logSum = tail.reduce((sum, t) => sum + Math.log(Math.max(t.p_model, 1e-12)), 0);
      const perplexity = tail.length ? Math.exp(-logSum / tail.length) : null;
      const chips = run.tokens.map((t, i) =>
        tok(t.text, i < split ? "shared" : i === split ? "split" : "", { title: `step ${i} · p ${pct(t.p_model)}` }),
      );
      return el(
        "section",
        { class: "tree-path", "aria-label": `Run #${run.id}` },
        el("h3", { text: `Run #${run.id}` }),
        identical
          ? null
          : el(
              "p",
              { class: "path-p" },
              `From step ${split} on (${tail.length} token${tail.length === 1 ? "" : "s"}): path probability `,
              el("strong", { text: sci(probability) }),
              perplexity === null ? "" : `, perplexity per token ${perplexity.toFixed(2)}`,
            ),
        el("p", { class: "path-tokens" }, chips),
      );
    };
    compare.replaceChildren(
      el(
        "p",
        { class: "lab-lead" },
        identical
          ? `Runs #${a.id} and #${b.id} have the same ${split} tokens.`
          : `Runs #${a.id} and #${b.id} share their first ${split} token${split === 1 ? "" : "s"} and split at step ${split} (highlighted).`,
      ),
      el("div", { class: "tree-columns" }, column(a), column(b)),
      el("p", {}, el("a", { href: `/sandbox/compare/?a=${a.id}&b=${b.id}`, text: "Compare these two runs token by token" })),
    );
  }

  async function show(id) {
    selected = [];
    compare.replaceChildren();
    status.textContent = `Loading the tree of run #${id}…`;
    const response = await api("GET", withId(data.apiTree, id));
    if (!response.ok) {
      status.textContent = response.data.error || "Could not load the tree.";
      return;
    }
    const count = (n) => 1 + n.branches.reduce((sum, c) => sum + count(c), 0);
    const total = count(response.data);
    view.replaceChildren(el("ul", { class: "tree", "aria-label": `Run #${response.data.id} and its branches` }, node(response.data)));
    status.textContent = `Run #${response.data.id}: ${total} run${total === 1 ? "" : "s"} in this tree. Select two to compare.`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.querySelector("[name=run]").value;
    if (id) show(id);
  });
  const first = form.querySelector("[name=run]").value;
  if (first) show(first);
}

// --- Lab page ---------------------------------------------------------------------

function inputFacts(job) {
  const input = job.input || {};
  const facts = [fact("Model", job.model)];
  const prompt = promptOf(input.request);
  if (job.kind === "pipeline") facts.push(fact("Run", `#${input.run}`), fact("Step", String(input.step)));
  if (prompt) facts.push(fact(input.request.messages ? "Prompt (chat)" : "Prompt (raw)", el("span", { class: "prompt-text", text: prompt })));
  if (job.kind === "sweep") {
    facts.push(
      fact("Temperatures", input.temperatures.join(", ")),
      fact("Seeds", String(input.seeds)),
      fact("Max tokens", String(input.max_tokens)),
      fact("Step shown", String(input.step)),
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

// --- Inspector ---------------------------------------------------------------------

function setupTensorFilter() {
  const input = $("tensor-filter");
  const rows = [...document.querySelectorAll("#tensor-table tbody tr")];
  const count = $("tensor-count");
  const total = rows.length;
  input.addEventListener("input", () => {
    const query = input.value.trim().toLowerCase();
    let shown = 0;
    for (const row of rows) {
      const match = !query || row.textContent.toLowerCase().includes(query);
      row.hidden = !match;
      if (match) shown += 1;
    }
    count.textContent = query ? `${shown} of ${total} tensors` : `${total} tensors`;
  });
}

// --- Start ------------------------------------------------------------------------

if (data.page === "hub") {
  document.querySelectorAll(".lab-form").forEach(setupLabForm);
  setupPipelinePicker(document.querySelector('.lab-form[data-kind="pipeline"]'));
  setupSpeculativeDraft(document.querySelector('.lab-form[data-kind="speculative"]'));
  setupRunTree();
} else if (data.page === "detail") {
  setupDetail();
} else if (data.page === "inspector") {
  setupTensorFilter();
}
