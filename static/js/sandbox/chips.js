// Token chips: one tab stop per list, arrow keys inside it, and the special tokens marked in a text.

import { el } from "../lib/dom.js";

export function bucket(p) {
  if (p < 0.1) return "p0";
  if (p < 0.3) return "p1";
  if (p < 0.6) return "p2";
  if (p < 0.9) return "p3";
  return "p4";
}

function setActiveChip(list, chip) {
  for (const other of list.querySelectorAll('.chip[tabindex="0"]')) other.tabIndex = -1;
  chip.tabIndex = 0;
}

// One tab stop per token list; arrow keys, Home and End move inside it.
export function rovingChips(list, onFocus) {
  list.addEventListener("keydown", (event) => {
    const chips = [...list.querySelectorAll(".chip")];
    const index = chips.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowDown: index + 1, ArrowLeft: index - 1, ArrowUp: index - 1, Home: 0, End: chips.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = chips[Math.max(0, Math.min(chips.length - 1, moves[event.key]))];
    setActiveChip(list, next);
    next.focus();
  });
  list.addEventListener("focusin", (event) => {
    const chip = event.target.closest(".chip");
    if (!chip) return;
    setActiveChip(list, chip);
    if (onFocus) onFocus(chip);
  });
}

export function chipItems(chip, text) {
  // A newline token ends its line, as it does in the text.
  return text.includes("\n") ? [el("li", {}, chip), el("li", { class: "break", "aria-hidden": "true" })] : [el("li", {}, chip)];
}

// The prompt text with each special token (found in order) wrapped in <mark>.
export function renderPromptText(pre, text, tokens) {
  pre.replaceChildren();
  let cursor = 0;
  for (const token of tokens) {
    if (!token.special || !token.text) continue;
    const at = text.indexOf(token.text, cursor);
    if (at < 0) continue;
    if (at > cursor) pre.append(text.slice(cursor, at));
    pre.append(el("mark", { class: "special-token", title: `special token, id ${token.id}`, text: token.text }));
    cursor = at + token.text.length;
  }
  pre.append(text.slice(cursor));
}
