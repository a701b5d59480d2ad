"""Markdown to safe HTML, used for every text a person writes; the one place Markdown is rendered.

- Parsed with markdown-it-py (CommonMark), whose time grows linearly with the text: python-markdown took
  ~0.44 s for a 2,000-character question of `[`, and 30 of them stalled a page for 13 s.
- The HTML is cleaned with an allow-list (nh3): raw `<script>`, event-handler attributes, `javascript:`
  links, iframes and `class` attributes never reach a page, whoever wrote the text. Images load only from
  this site (a relative address): a tracking pixel from another host is dropped.
- Highlighted code and mermaid diagrams are the renderer's own markup: they are built from escaped text
  after the cleaning, behind a per-render random placeholder, so a learner's raw HTML can neither fake a
  site notice (`<span class="notice">`) nor ask mermaid to draw (`<pre class="mermaid">`). Diagrams are
  drawn only where the caller asks for them (recaps).
- Models keep the rendered HTML next to the source (`MarkdownFields`), rendered once when saved, so a page
  with hundreds of questions renders none of them.
"""

from __future__ import annotations

import functools
import html
import re
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

_MERMAID_FENCE = re.compile(r"^(?:`{3,}|~{3,})[ ]*\.?mermaid[ ]*$", re.MULTILINE)


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR (what browsers' textareas submit) become LF, as every Markdown field is stored."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def has_mermaid(text: str) -> bool:
    return bool(text) and _MERMAID_FENCE.search(normalize_newlines(text)) is not None


_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
# No `class` and no `style` anywhere: what carries a class is inserted after cleaning (see module docstring).
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"align"},
    "th": {"align"},
}
_FORMATTER = HtmlFormatter(cssclass="codehilite", wrapcode=True)


def _same_site_only(element: str, attribute: str, value: str) -> str | None:
    # An image from another host would tell it who opened the page; only relative addresses stay.
    if element == "img" and attribute == "src":
        parts = urlsplit(value.strip())
        if parts.scheme or parts.netloc or value.strip().startswith(("//", "\\")):
            return None
    return value


def _highlighted(code: str, lang: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else TextLexer()
    except ClassNotFound:
        lexer = TextLexer()
    # A long line scrolls the block sideways: tabindex lets a keyboard scroll it too (WCAG 2.1.1).
    return highlight(code, lexer, _FORMATTER).replace("<pre>", '<pre tabindex="0">', 1)


def _fence(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: dict[str, Any]) -> str:
    """Render a fenced block as a placeholder; its HTML is put back after nh3 has cleaned the rest."""
    token = tokens[idx]
    lang = token.info.strip().split(maxsplit=1)[0].lower() if token.info.strip() else ""
    if lang == "mermaid" and env["diagrams"]:
        block = f'<pre class="mermaid">{html.escape(token.content, quote=False)}</pre>\n'
    else:
        block = _highlighted(token.content, lang)
    env["blocks"].append(block)
    return f"{env['nonce']}b{len(env['blocks']) - 1}e\n"


def _cell_alignment(state: Any) -> None:
    # markdown-it aligns table cells with style="text-align:…", which nh3 drops with every style: keep it as align.
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and (style := token.attrGet("style")):
            token.attrs.pop("style", None)
            if style.startswith("text-align:"):
                token.attrSet("align", style.removeprefix("text-align:"))


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"typographer": True, "html": True}).enable(
        ["table", "strikethrough", "replacements", "smartquotes"]
    )
    parser.add_render_rule("fence", _fence)
    parser.core.ruler.push("cell_alignment", _cell_alignment)
    parser.add_render_rule("code_block", _fence)  # indented code: token.info is empty, plain highlighted text
    return parser


_PARSER = _parser()  # stateless between renders: everything per text lives in `env`


def render_markdown(text: str, *, diagrams: bool = False) -> SafeString:
    """Safe HTML for `text`; `diagrams=True` turns ```mermaid fences into diagrams (recaps only)."""
    return _render(normalize_newlines(text), diagrams)


# Step and exercise pages render on view (few, written by leads); the result depends on the text alone.
@functools.lru_cache(maxsize=512)
def _render(text: str, diagrams: bool) -> SafeString:
    if not text.strip():
        return mark_safe("")
    env: dict[str, Any] = {"nonce": f"fbmd{secrets.token_hex(8)}", "blocks": [], "diagrams": diagrams}
    rendered = _PARSER.render(text, env)
    cleaned = nh3.clean(
        rendered,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_same_site_only,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    # A wide table scrolls sideways in its own box, which static/js/site.js makes focusable and names.
    cleaned = cleaned.replace("<table>", '<div class="table-scroll prose-table"><table>').replace(
        "</table>", "</table></div>"
    )
    for number, block in enumerate(env["blocks"]):
        # The placeholder ends a paragraph of its own or stands alone; either way swap the whole thing.
        placeholder = f"{env['nonce']}b{number}e"
        cleaned = cleaned.replace(f"<p>{placeholder}</p>", block).replace(placeholder, block)
    return mark_safe(cleaned)  # noqa: S308 - cleaned by nh3 above; the blocks are built from escaped text


class MarkdownFields:
    """Model mixin: on save, each Markdown field is stored with LF line endings and its HTML rendered once.

    `MARKDOWN_FIELDS` maps the source field to (HTML field, draw diagrams). The HTML is data derived from
    the same row, so it is written with it; a save with `update_fields` naming the source writes the HTML too.
    """

    MARKDOWN_FIELDS: dict[str, tuple[str, bool]] = {}

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        for source, (target, diagrams) in self.MARKDOWN_FIELDS.items():
            if update_fields is not None and source not in update_fields:
                continue
            text = normalize_newlines(getattr(self, source))
            setattr(self, source, text)
            setattr(self, target, str(render_markdown(text, diagrams=diagrams)))
            if update_fields is not None:
                update_fields = [*update_fields, target]
        if update_fields is not None:
            kwargs["update_fields"] = update_fields
        super().save(*args, **kwargs)  # type: ignore[misc]  # a mixin: save() is the model's it is mixed into

    def rendered(self, source: str) -> SafeString:
        """The stored HTML of `source`; rows written around save() (bulk_create, update()) render here."""
        target, diagrams = self.MARKDOWN_FIELDS[source]
        stored: str = getattr(self, target)
        if stored or not getattr(self, source):
            return mark_safe(stored)  # noqa: S308 - rendered and cleaned by render_markdown on save
        return render_markdown(getattr(self, source), diagrams=diagrams)
