"""Rendering chat templates from GGUF metadata or from a learner, safely and within bounds.

Templates are untrusted (CVE-2024-34359 came through GGUF metadata), so they
render in Jinja's ImmutableSandboxedEnvironment, with two layers of bounds:

1. Inside the renderer (`inference.template_bounds`), work a template can make
   expensive is checked before it allocates: integer results (`**`, `*`) by
   their bit length, every string that grows (repetition, `+`, `~`, `%` and `format` widths,
   center/ljust/rjust/zfill/expandtabs/replace/join and the filters center,
   indent, wordwrap, format, replace, join, tojson, batch, slice) by the size
   it would have, `range()` by its length; output is counted as it is
   produced; a timer stops a pure-Python loop and names its line.
2. The renderer runs in a helper process (inference.render_pool) with a hard
   wall-clock deadline and an address-space limit, because some work runs in
   C where no timer reaches it. The web or Celery process that asked only
   waits for a bounded reply.

`render_chat` is what callers use; `render_in_process` is the renderer itself
(the helper's job, and the baseline of bench/templates.py).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError, TemplateSyntaxError

from inference import render_pool
from inference.template_bounds import (
    MAX_OUTPUT_CHARS,
    TemplateRendererBusy,
    TemplateRenderError,
    bounded_environment,
)

__all__ = [
    "MAX_OUTPUT_CHARS",
    "MAX_TEMPLATE_CHARS",
    "ChatMessage",
    "TemplateRenderError",
    "TemplateRendererBusy",
    "chat_context",
    "render_chat",
    "render_in_process",
]

MAX_TEMPLATE_CHARS = 50_000
MAX_SECONDS = 1.0
MAX_ERROR_CHARS = 500


class _RenderTimeout(BaseException):
    # BaseException so that no `except Exception` inside Jinja swallows it.
    pass


_ENV = bounded_environment()


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


def _line_of(exc: BaseException, template: jinja2.Template | None = None) -> int | None:
    """The template line of the innermost traceback frame that belongs to the template.

    Jinja rewrites tracebacks of errors it sees to template lines; an exception
    raised by the timer is not rewritten, so its compiled line is mapped back.
    """
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = template.get_corresponding_lineno(tb.tb_lineno) if template is not None else tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_with_limits(template: jinja2.Template, context: dict[str, Any]) -> str:
    pieces: list[str] = []
    size = 0
    for piece in template.generate(**context):
        size += len(piece)
        if size > MAX_OUTPUT_CHARS:
            raise TemplateRenderError(f"the rendered prompt passed {MAX_OUTPUT_CHARS:,} characters")
        pieces.append(piece)
    return "".join(pieces)


def _short(message: str) -> str:
    return message if len(message) <= MAX_ERROR_CHARS else message[:MAX_ERROR_CHARS] + "…"


@lru_cache(maxsize=16)
def _compiled(template_source: str) -> jinja2.Template:
    # A live preview re-renders the same template on every pause in typing; compiling the
    # Qwen3 template is most of a render's time.
    return _ENV.from_string(template_source)


def _on_alarm(signum: int, frame: Any) -> None:
    raise _RenderTimeout


def render_in_process(template_source: str, context: dict[str, Any], *, timeout: float = MAX_SECONDS) -> str:
    """Render here, in this process's main thread: the helper's job (and the benchmark's baseline).

    The timer (SIGALRM) stops pure-Python loops and names their line; work in C is
    only stopped by the helper's caller, which kills the process.
    """
    if len(template_source) > MAX_TEMPLATE_CHARS:
        raise TemplateRenderError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    template = None
    try:
        template = _compiled(template_source)
        return _render_with_limits(template, context)
    except _RenderTimeout as exc:
        raise TemplateRenderError(
            f"rendering took longer than {timeout:g} s (a runaway loop?)", line=_line_of(exc, template)
        ) from None
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(_short(exc.message or "syntax error"), line=exc.lineno) from None
    except TemplateRenderError as exc:
        raise TemplateRenderError(_short(exc.detail), line=exc.line or _line_of(exc)) from None
    except SecurityError as exc:
        raise TemplateRenderError(_short(f"refused by the sandbox: {exc}"), line=_line_of(exc)) from None
    except OverflowError as exc:
        raise TemplateRenderError(_short(f"a number is too large ({exc})"), line=_line_of(exc)) from None
    except RecursionError:
        raise TemplateRenderError("the template recursed too deeply") from None
    except MemoryError:
        raise
    except Exception as exc:
        # Whatever a template triggers in Python (LookupError from a bad codec, TypeError,
        # ValueError...) is the template's error, told to the learner with its line.
        raise TemplateRenderError(_short(f"{type(exc).__name__}: {exc}"), line=_line_of(exc)) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    """One render in the helper process: a reply with `text`, or an `error` and its line."""
    try:
        text = render_in_process(request["template"], request["context"], timeout=request["timeout"])
    except TemplateRenderError as exc:
        # A timed-out render may have left the heap in any state: start a fresh helper.
        return {"error": exc.detail, "line": exc.line, "retire": "longer than" in exc.detail}
    return {"text": text}


def chat_context(
    messages: list[ChatMessage],
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos_token,
        "eos_token": eos_token,
        "tools": None,
    }
    if enable_thinking is not None:
        context["enable_thinking"] = enable_thinking
    return context


def render_chat(
    template_source: str,
    messages: list[ChatMessage],
    *,
    add_generation_prompt: bool = True,
    enable_thinking: bool | None = None,
    bos_token: str = "",
    eos_token: str = "",
    timeout: float = MAX_SECONDS,
) -> str:
    """The exact string the model will see for `messages`, rendered in a bounded helper process."""
    if not isinstance(template_source, str):
        raise TemplateRenderError("the template must be text")
    if len(template_source) > MAX_TEMPLATE_CHARS:
        raise TemplateRenderError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    context = chat_context(
        messages,
        add_generation_prompt=add_generation_prompt,
        enable_thinking=enable_thinking,
        bos_token=bos_token,
        eos_token=eos_token,
    )
    request = {"template": template_source, "context": context, "timeout": timeout}
    try:
        reply = render_pool.get_pool("inference.chat_templates").call(request, timeout=timeout)
    except render_pool.PoolError as exc:
        if exc.reason == "busy":
            raise TemplateRendererBusy(str(exc)) from None
        raise TemplateRenderError(str(exc)) from None
    if "error" in reply:
        raise TemplateRenderError(str(reply["error"]), line=reply.get("line"))
    return str(reply["text"])


if __name__ == "__main__":
    render_pool.serve(_handle)
