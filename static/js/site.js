// Small behaviours every page shares. They live in a file rather than in onsubmit="..." attributes because
// the Content-Security-Policy lets no inline script or event handler run (config/settings.py, SECURE_CSP).

// A form with data-confirm="question" asks before it is sent.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);

// A wide table scrolls inside its .table-scroll box; a keyboard can scroll it only if the box takes focus
// (WCAG 2.1.1), and a focusable box needs a name: the table's caption or the heading before it.
function labelScrollBoxes(root) {
  for (const box of root.querySelectorAll(".table-scroll:not([tabindex])")) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    if (box.hasAttribute("aria-label") || box.hasAttribute("aria-labelledby")) continue;
    const caption = box.querySelector("caption");
    let heading = null;
    for (let node = box; node && !heading && node !== document.body; node = node.parentElement) {
      for (let sibling = node.previousElementSibling; sibling && !heading; sibling = sibling.previousElementSibling) {
        heading = sibling.matches("h1, h2, h3, h4") ? sibling : sibling.querySelector("h1, h2, h3, h4");
      }
    }
    const name = (caption || heading)?.textContent.trim();
    box.setAttribute("aria-label", name ? `Table: ${name}` : "Table");
  }
}

labelScrollBoxes(document);
document.addEventListener("htmx:afterSettle", () => labelScrollBoxes(document));
