"""Glue between a stored run request and the engine: prompt ids and sampler parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.models import SandboxModel
from inference.prompts import BuiltPrompt, raw_prompt, render_messages, tokenize_segments
from inference.sampling import SamplerParams


@dataclass(frozen=True)
class PromptIds:
    text: str
    ids: list[int]
    token_dicts: list[dict[str, Any]]


def build_prompt(engine: Any, model: SandboxModel, request: dict[str, Any]) -> BuiltPrompt:
    if request.get("messages") is not None:
        return render_messages(
            model,
            request["messages"],
            template=request.get("template"),
            enable_thinking=request.get("enable_thinking"),
            add_generation_prompt=request.get("add_generation_prompt", True),
            bos_token=engine.token_text(model.bos_token_id) if model.bos_token_id is not None else "",
            eos_token=engine.token_text(model.eos_token_id) if model.eos_token_id is not None else "",
        )
    return raw_prompt(request.get("prompt", ""), parse_special=bool(request.get("parse_special", False)))


def build_prompt_ids(engine: Any, model: SandboxModel, request: dict[str, Any]) -> PromptIds:
    prompt = build_prompt(engine, model, request)
    # A chat template writes its own BOS when the model wants one.
    add_bos = model.add_bos and request.get("messages") is None
    ids = tokenize_segments(engine, prompt, add_bos=add_bos)
    return PromptIds(text=prompt.text, ids=ids, token_dicts=token_dicts(engine, ids))


def token_dicts(engine: Any, ids: list[int]) -> list[dict[str, Any]]:
    return [{"id": i, "text": engine.token_text(i), "special": engine.is_special(i)} for i in ids]


def sampler_params(params: dict[str, Any]) -> SamplerParams:
    return SamplerParams(
        temperature=float(params["temperature"]),
        top_k=int(params["top_k"]),
        top_p=float(params["top_p"]),
        min_p=float(params["min_p"]),
        repeat_penalty=float(params["repeat_penalty"]),
        presence_penalty=float(params["presence_penalty"]),
        frequency_penalty=float(params["frequency_penalty"]),
    )
