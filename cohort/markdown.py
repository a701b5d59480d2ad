"""Markdown to safe HTML, used for every text a person writes.

Markdown is rendered first, then the HTML is cleaned with an allow-list
(nh3): raw `<script>`, event-handler attributes, `javascript:` links and
iframes never reach a page, whoever wrote the text.
"""

from __future__ import annotations

import functools
import html
import re
import threading

import markdown as md
import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.extensions.fenced_code import FencedBlockPreprocessor
from markdown.preprocessors import Preprocessor

_MERMAID_FENCE = re.compile(r"^(?:`{3,}|~{3,})[ ]*\.?mermaid[ ]*$", re.MULTILINE)


def has_mermaid(text: str) -> bool:
    return bool(text) and _MERMAID_FENCE.search(text) is not None


class _MermaidPreprocessor(Preprocessor):
    """Turn ```mermaid fences into <pre class="mermaid"> for the browser to draw; other fences pass through.

    It runs just before fenced_code and walks the fences the same way, so a mermaid
    example quoted inside another fence stays code. The diagram source is escaped
    text and still goes through nh3 like everything else.
    """

    def run(self, lines: list[str]) -> list[str]:
        text = "\n".join(lines)
        index = 0
        while match := FencedBlockPreprocessor.FENCED_BLOCK_RE.search(text, index):
            if match.group("lang") != "mermaid":
                index = match.end()
                continue
            placeholder = self.md.htmlStash.store(f'<pre class="mermaid">{html.escape(match.group("code"))}</pre>')
            text = f"{text[: match.start()]}\n{placeholder}\n{text[match.end() :]}"
            index = match.start() + 1 + len(placeholder)
        return text.split("\n")


class _MermaidExtension(Extension):
    def extendMarkdown(self, md_instance: md.Markdown) -> None:
        md_instance.preprocessors.register(_MermaidPreprocessor(md_instance), "mermaid", 26)


_EXTENSIONS = [_MermaidExtension(), "fenced_code", "codehilite", "tables", "sane_lists", "smarty"]
_EXTENSION_CONFIGS = {"codehilite": {"guess_lang": False, "css_class": "codehilite"}}

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "div": {"class"},
    "pre": {"class"},
    "span": {"class"},
    "td": {"align"},
    "th": {"align"},
}


_parsers = threading.local()


def _parser() -> md.Markdown:
    # Building a parser (extensions, Pygments lexers) costs far more than converting a question;
    # one per thread because a Markdown instance keeps state while it converts.
    parser = getattr(_parsers, "markdown", None)
    if parser is None:
        parser = _parsers.markdown = md.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    return parser


def render_markdown(text: str) -> SafeString:
    return _render(text or "")


# A session page shows hundreds of questions that rarely change; the output depends on the text alone.
@functools.lru_cache(maxsize=2048)
def _render(text: str) -> SafeString:
    html = _parser().reset().convert(text)
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(cleaned)  # noqa: S308 - cleaned by nh3 above
