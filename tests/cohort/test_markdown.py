"""Markdown anyone writes renders inert: no script, handler, javascript: link or frame reaches a page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cohort.markdown import render_markdown
from tests.factories import StepFactory
from tests.markup import ATTACKS, problems


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_render_markdown_attack_is_inert(source):
    html = render_markdown(source)

    assert problems(html) == []


def test_problems_finder_sees_raw_attacks():
    # The checker itself must catch what the sanitizer removes.
    found = [problems(source) for source in ATTACKS.values() if source.startswith("<")]

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
    assert problems(article) == []
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
    assert "onerror" not in again and "href" not in again and problems(again) == []
    assert "<strong>bold</strong>" in again
