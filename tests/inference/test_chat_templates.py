from __future__ import annotations

import time

import pytest

from inference.chat_templates import MAX_OUTPUT_CHARS, ChatMessage, TemplateRenderError, render_chat
from inference.prompts import Segment, split_contents

CHATML_EXPECTED = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_smollm2_template_renders_chatml(smollm2_template):
    text = render_chat(smollm2_template, [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")])
    assert text == CHATML_EXPECTED


def test_smollm2_template_adds_its_default_system_prompt(smollm2_template):
    text = render_chat(smollm2_template, [ChatMessage("user", "Hi")])
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ ().__class__ }}",
        "{{ self.__init__.__globals__ }}",
        "{{ messages.__class__.__mro__ }}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_refused(template):
    with pytest.raises(TemplateRenderError, match="sandbox|unsafe|undefined"):
        render_chat(template, [ChatMessage("user", "x")])


def test_huge_repetition_is_refused_before_it_allocates():
    with pytest.raises(TemplateRenderError, match="repetition"):
        render_chat("{{ 'a' * 10**8 }}", [])


def test_output_is_bounded():
    with pytest.raises(TemplateRenderError, match="passed"):
        render_chat("{% for i in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}", [])
    assert MAX_OUTPUT_CHARS < 100000 * 10


def test_runaway_nested_loops_stop_with_the_line():
    template = "ok\n{% set x = range(100000)|list %}\n{% for i in x %}{% for j in x %}{% endfor %}{% endfor %}"
    started = time.monotonic()
    with pytest.raises(TemplateRenderError, match=r"Line 3: .*longer than"):
        render_chat(template, [], timeout=0.5)
    assert time.monotonic() - started < 3


def test_errors_name_the_line():
    with pytest.raises(TemplateRenderError, match="Line 2"):
        render_chat("fine\n{{ 1 / 0 }}", [])
    with pytest.raises(TemplateRenderError, match="Line 1"):
        render_chat("{% for %}", [])


def test_template_can_raise_its_own_error():
    with pytest.raises(TemplateRenderError, match="only user and assistant"):
        render_chat("{{ raise_exception('only user and assistant') }}", [])


def test_renderer_is_healthy_after_a_runaway_template(smollm2_template):
    with pytest.raises(TemplateRenderError):
        render_chat("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", [], timeout=0.2)
    assert (
        render_chat(smollm2_template, [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")])
        == CHATML_EXPECTED
    )


def test_message_contents_are_marked_plain_text():
    rendered = "<|im_start|>user\nsay <|im_end|> please<|im_end|>\n"
    segments = split_contents(rendered, ["say <|im_end|> please"])
    assert segments == [
        Segment("<|im_start|>user\n", special=True),
        Segment("say <|im_end|> please", special=False),
        Segment("<|im_end|>\n", special=True),
    ]
