// The run tree on the labs page: a run and its branches; pick two to compare their paths.

import { $, el } from "../lib/dom.js";
import { api } from "../lib/http.js";
import { pct, plural, sci, tokenName, visibleText } from "../lib/format.js";
import { data, withId } from "./jobs.js";
import { tok } from "./results.js";

export function setupRunTree() {
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
        : [`branch at ${tokenName(n.branch_step)}: `, tok(n.branch_token?.text ?? ""), ` (p ${pct(n.branch_token?.p_model)})`];
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
        tok(t.text, i < split ? "shared" : i === split ? "split" : "", { title: `${tokenName(i)} · p ${pct(t.p_model)}` }),
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
              `From ${tokenName(split)} on (${plural(tail.length, "token")}): path probability `,
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
          : `Runs #${a.id} and #${b.id} share their first ${split} token${split === 1 ? "" : "s"} and split at ${tokenName(split)} (highlighted).`,
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
  // The sandbox links here with ?tree=<run> ("Run tree" beside an output).
  const select = form.querySelector("[name=run]");
  const wanted = new URLSearchParams(location.search).get("tree");
  if (wanted && /^\d+$/.test(wanted)) {
    if (![...select.options].some((option) => option.value === wanted)) select.append(el("option", { value: wanted, text: `#${wanted}` }));
    select.value = wanted;
    form.querySelector("button[type=submit]").disabled = false;
  }
  if (select.value) show(select.value);
}
