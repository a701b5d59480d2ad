// Building and showing DOM nodes without innerHTML: text always goes in as text. Plain ES module.

export const $ = (id) => document.getElementById(id);

// The JSON a template put in a <script type="application/json" id=…> (Django's json_script).
export const readJSON = (id) => JSON.parse($(id).textContent);

// el("button", {class, text, style, onclick, disabled: true, "aria-label": …}, ...children)
// Strings are attributes; booleans and numbers set the element's property when it has one (selected,
// disabled); children may be nested arrays, and null/undefined/false are skipped.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") node.style.cssText = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

// Text that hides its node when empty (error lines, notes).
export function setText(node, text) {
  node.textContent = text;
  show(node, Boolean(text));
}

// Copy text to the clipboard and say so on the button for two seconds.
export async function copyText(button, text, { done = "Copied", idle = button.textContent } = {}) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = done;
  } catch {
    button.textContent = "Press Ctrl+C to copy";
  }
  setTimeout(() => (button.textContent = idle), 2000);
}
