"""From what a learner typed to the token ids the model reads.

Chat mode renders the model's chat template (or the learner's edited one),
then tokenizes: template text with special tokens parsed, message contents as
plain text, so a learner who types `<|im_end|>` gets those characters, not the
control token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.chat_templates import ChatMessage, render_chat
from inference.models import SandboxModel

PRESETS: dict[str, dict[str, float | int]] = {
    # Qwen3's published recommendations; it is never meant to run greedy in thinking mode.
    "qwen3-thinking": {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0},
    "qwen3-non-thinking": {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0.0},
    "greedy": {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0},
    # llama.cpp's defaults, for models without published presets.
    "default": {"temperature": 0.8, "top_p": 0.95, "top_k": 40, "min_p": 0.05},
}


def default_params(model: SandboxModel, *, enable_thinking: bool | None) -> dict[str, float | int]:
    if model.supports_thinking:
        thinking = True if enable_thinking is None else enable_thinking
        preset = PRESETS["qwen3-thinking" if thinking else "qwen3-non-thinking"]
    else:
        preset = PRESETS["default"]
    return {**preset, "repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}


@dataclass(frozen=True)
class Segment:
    text: str
    special: bool  # parse special tokens in this text


@dataclass(frozen=True)
class BuiltPrompt:
    text: str
    segments: list[Segment]


def render_messages(
    model: SandboxModel,
    messages: list[dict[str, str]],
    *,
    template: str | None = None,
    enable_thinking: bool | None = None,
    add_generation_prompt: bool = True,
    bos_token: str = "",
    eos_token: str = "",
) -> BuiltPrompt:
    chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
    source = template if template is not None else model.chat_template
    text = render_chat(
        source,
        chat,
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking if model.supports_thinking or template is not None else None,
        bos_token=bos_token,
        eos_token=eos_token,
    )
    return BuiltPrompt(text=text, segments=split_contents(text, [m.content for m in chat]))


def split_contents(rendered: str, contents: list[str]) -> list[Segment]:
    """Mark each message content (found in order) as plain text; the rest is template text."""
    segments: list[Segment] = []
    cursor = 0
    for content in contents:
        if not content:
            continue
        at = rendered.find(content, cursor)
        if at < 0:
            continue  # the template transformed it; that text stays template text
        if at > cursor:
            segments.append(Segment(rendered[cursor:at], special=True))
        segments.append(Segment(content, special=False))
        cursor = at + len(content)
    if cursor < len(rendered):
        segments.append(Segment(rendered[cursor:], special=True))
    return segments


def raw_prompt(text: str, *, parse_special: bool) -> BuiltPrompt:
    return BuiltPrompt(text=text, segments=[Segment(text, special=parse_special)])


def tokenize_segments(engine: Any, prompt: BuiltPrompt, *, add_bos: bool) -> list[int]:
    ids: list[int] = []
    for index, segment in enumerate(prompt.segments):
        ids.extend(engine.tokenize(segment.text, special=segment.special, add_bos=add_bos and index == 0))
    return ids
