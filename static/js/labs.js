// Labs page (entry module): start a lab from its form and poll it; the pipeline's token picker; the run
// tree. Plain ES modules, no build step: the parts live in labs/, the shared helpers in lib/.

import { $, el } from "./lib/dom.js";
import { api } from "./lib/http.js";
import { TokenName, pct, plural, tokenName, visibleText } from "./lib/format.js";
import { KINDS, data, follow, shareBar, withId } from "./labs/jobs.js";
import { drawResult } from "./labs/results.js";
import { setupRunTree } from "./labs/tree.js";

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
  // The form numbers tokens from 1, as every page does; the API's `step` counts from 0.
  pipeline: (form) => ({ run: numberValue(form, "run"), step: (numberValue(form, "step") ?? 1) - 1 }),
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
    step: (numberValue(form, "step") ?? 1) - 1,
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
    stepInput.value = String(clamped + 1); // the field shows the token's position, from 1
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
          "aria-label": `${TokenName(i)}: ${visibleText(t.text)}`,
          title: `${tokenName(i)} · id ${t.id} · p ${pct(t.p_sampled)}`,
          tabindex: "-1",
          onclick: () => choose(i),
        },
        visibleText(t.text),
      ),
    );
    picker.replaceChildren(...chips);
    label.textContent = `Token: click one of run #${id}'s ${plural(tokens.length, "token")}`;
    stepInput.max = String(Math.max(1, tokens.length));
    choose((Number(stepInput.value) || 1) - 1);
  }

  picker.addEventListener("keydown", (event) => {
    const step = (Number(stepInput.value) || 1) - 1;
    const moves = { ArrowRight: step + 1, ArrowDown: step + 1, ArrowLeft: step - 1, ArrowUp: step - 1, Home: 0, End: chips.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      choose(moves[event.key], true);
    }
  });
  stepInput.addEventListener("input", () => mark(Number(stepInput.value) - 1));
  select.addEventListener("change", () => {
    stepInput.value = "1";
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

document.querySelectorAll(".lab-form").forEach(setupLabForm);
setupPipelinePicker(document.querySelector('.lab-form[data-kind="pipeline"]'));
setupSpeculativeDraft(document.querySelector('.lab-form[data-kind="speculative"]'));
setupRunTree();
