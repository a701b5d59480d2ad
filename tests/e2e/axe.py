"""Accessibility and Content-Security-Policy checks for any page a browser test has open.

`assert_no_axe_violations(page)` runs the vendored axe-core (static/vendor, pinned, never shipped in a
template) against the page as it is now, with the WCAG 2.0 / 2.1 / 2.2 A and AA rules, and fails listing
each violation by rule and element. axe is put into the page through the DevTools protocol
(`page.evaluate`), which the page's own Content-Security-Policy does not apply to: a `<script>` tag added
by the test (`add_script_tag`) would be refused by it, as it should be.

`watch_csp(context)` records every Content-Security-Policy violation a page reports;
`assert_no_csp_violations(page)` fails on any.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from playwright.sync_api import BrowserContext, Page

AXE_VERSION = "4.14.1"
AXE_SCRIPT = Path(settings.BASE_DIR) / "static" / "vendor" / f"axe-core-{AXE_VERSION}.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def watch_csp(context: BrowserContext) -> None:
    context.add_init_script(_WATCH_CSP)


def assert_no_csp_violations(page: Page, where: str = "") -> None:
    violations = page.evaluate("window.__cspViolations || []")
    assert not violations, f"{where or page.url}: Content-Security-Policy violations:\n" + "\n".join(violations)


def axe_violations(page: Page) -> list[str]:
    """One line per violation and element: rule id (impact): what is wrong -> the element's selector."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source() + "\n;undefined")
    results = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
            return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map((n) => `${n.target.join(" ")}  ${n.failureSummary.replace(/\\s+/g, " ").slice(0, 240)}`) }));
        }""",
        WCAG_TAGS,
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} -> {node}"
        for violation in results
        for node in violation["nodes"]
    ]


def assert_no_axe_violations(page: Page, where: str = "") -> None:
    """axe's WCAG A/AA rules, plus reflow (1.4.10), which axe does not check: nothing scrolls sideways."""
    violations = axe_violations(page)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        # Text that does not wrap widens the page without any box reaching past the edge: find the deepest
        # element whose removal ends the overflow.
        wide = page.evaluate(
            """() => {
                const fits = () => document.documentElement.scrollWidth <= document.documentElement.clientWidth;
                let found = "";
                for (const el of document.body.querySelectorAll("*")) {
                    const display = el.style.display;
                    el.style.display = "none";
                    if (fits()) found = el.outerHTML.slice(0, 160);
                    el.style.display = display;
                }
                return found;
            }"""
        )
        violations.append(f"reflow (WCAG 1.4.10): the page is {overflow}px wider than the viewport: {wide}")
    width = page.viewport_size["width"] if page.viewport_size else "?"
    assert not violations, f"{where or page.url} at {width}px:\n" + "\n".join(violations)
