// One vocabulary and one set of number formats for every sandbox page (the sandbox, the labs, the
// inspector, the compare page). Sizes are decimal (1 MB = 1,000,000 bytes), as the server's `si_size`
// filter writes them; tokens are numbered by their position in the output, from 1. Plain ES module.

export const DASH = "–";

// Whitespace a reader would otherwise not see inside a token.
export function visibleText(text) {
  if (text === "") return "∅";
  return text.replace(/\r/g, "␍").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

export const quoted = (text) => `“${visibleText(text)}”`;

export function pct(p) {
  if (p === null || p === undefined || Number.isNaN(p)) return DASH;
  const value = p * 100;
  if (value === 0) return "0%";
  if (value === 100) return "100%";
  if (value >= 99.95 && value < 100) return "99.9%";
  if (value >= 1) return `${value.toFixed(1)}%`;
  if (value < 0.001) return "<0.001%";
  return `${Number(value.toPrecision(2))}%`;
}

// A probability small enough to need an exponent (a whole path's probability).
export function sci(p) {
  if (p === 0) return "0";
  if (p >= 0.001) return pct(p);
  return p.toExponential(2);
}

export const num = (n) => (n === null || n === undefined ? DASH : Number(n).toLocaleString("en"));

export const plural = (n, word, many = `${word}s`) => `${num(n)} ${n === 1 ? word : many}`;

export function bytes(size) {
  if (!size) return DASH;
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  let value = size;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return `${value.toFixed(value < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function ms(value) {
  if (value === null || value === undefined) return DASH;
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export const seconds = (s) => (s === null || s === undefined ? DASH : ms(s * 1000));

export const perSecond = (rate) => (rate === null || rate === undefined ? DASH : `${Number(rate).toFixed(1)} tokens/s`);

// The one name for a generated token: its position in the output, from 1 (the API's `step` is from 0).
export const tokenName = (step) => `token ${step + 1}`;
export const TokenName = (step) => `Token ${step + 1}`;
