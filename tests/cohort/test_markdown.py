"""Markdown anyone writes renders inert: no script, handler, javascript: link or frame reaches a page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from cohort.markdown import render_markdown
from tests.factories import StepFactory

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


def _problems(html: str) -> list[str]:
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


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_render_markdown_attack_is_inert(source):
    html = render_markdown(source)

    assert _problems(html) == []


def test_problems_finder_sees_raw_attacks():
    # The checker itself must catch what the sanitizer removes.
    found = [_problems(source) for source in ATTACKS.values() if source.startswith("<")]

    assert all(found)


def test_render_markdown_script_content_is_dropped():
    html = render_markdown("<script>alert('xss-script')</script>")

    assert "alert" not in html


def test_render_markdown_keeps_ordinary_formatting_and_safe_links():
    html = render_markdown("# Title\n\n**bold** and [docs](https://docs.github.com/en) and `code`\n\n- one\n- two")

    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://docs.github.com/en" rel="noopener noreferrer nofollow">docs</a>' in html
    assert "<code>code</code>" in html
    assert "<li>one</li>" in html


def test_render_markdown_img_keeps_src_without_handler():
    html = render_markdown('<img src="x.png" onerror="alert(1)" alt="pic">')

    assert '<img src="x.png" alt="pic">' in html


def test_render_markdown_code_block_is_highlighted():
    html = render_markdown("```python\ndef add(a, b):\n    return a + b\n```")

    assert '<div class="codehilite">' in html
    assert '<span class="k">def</span>' in html
    assert '<span class="nf">add</span>' in html


def test_render_markdown_html_inside_code_block_is_escaped_text():
    html = render_markdown("```html\n<script>alert(1)</script>\n```")

    assert "<script" not in html
    assert "&lt;" in html
    assert "script" in html


def test_render_markdown_empty_text_is_empty():
    assert render_markdown("") == ""
    assert render_markdown(None) == ""  # type: ignore[arg-type]


@pytest.mark.django_db
def test_step_page_renders_hostile_body_inert(world):
    step = world.steps[0]
    step.body = "\n\n".join([*ATTACKS.values(), "```python\nprint('hi')\n```"])
    step.save(update_fields=["body"])

    response = world.client_for(world.alice).get(reverse("cohort:step", args=[world.cohort.slug, step.slug]))

    assert response.status_code == 200
    page = response.content.decode()
    article = page.split('<article class="prose">', 1)[1].split("</article>", 1)[0]
    assert _problems(article) == []
    assert "xss-script" not in page
    assert 'src="https://evil.example' not in page
    assert '<div class="codehilite">' in article


@pytest.mark.django_db
def test_step_page_escapes_title_and_summary(world):
    step = StepFactory(
        cohort=world.cohort,
        position=9,
        slug="hostile",
        title="<script>alert('t')</script>",
        summary="<b onclick=x>s</b>",
    )

    response = world.client_for(world.alice).get(reverse("cohort:step", args=[world.cohort.slug, step.slug]))

    page = response.content.decode()
    assert "<script>alert('t')</script>" not in page
    assert "&lt;script&gt;" in page
    assert "<b onclick" not in page


def test_one_text_does_not_leak_into_the_next_with_the_reused_parser():
    # Reference-style link definitions live in the parser; reset() must clear them between texts.
    render_markdown("[docs]: https://evil.example/phish\n\nfirst text")

    second = render_markdown("see [the guide][docs]")

    assert "evil.example" not in second
    assert "<a" not in second


def test_a_repeated_text_comes_back_equally_sanitized():
    text = '<img src=x onerror="alert(1)"> [x](javascript:alert(2)) **bold**'

    first, again = render_markdown(text), render_markdown(text)

    assert first == again
    # The refused link stays visible as text (markdown-it), never as a link.
    assert "onerror" not in again and "href" not in again and _problems(again) == []
    assert "<strong>bold</strong>" in again
