"""Rendering chat templates from GGUF metadata or from a learner, safely and within bounds.

Templates are untrusted (CVE-2024-34359 came through GGUF metadata), so they
render in Jinja's ImmutableSandboxedEnvironment, and three bounds apply:
- string and list repetition (`'a' * 10**8`) is checked before it happens;
- output is counted as it is produced;
- a watchdog stops rendering after a time limit, which also ends nested loops
  that produce nothing (the sandbox alone only caps `range()`).
"""

from __future__ import annotations

import ctypes
import json
import operator
import threading
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_TEMPLATE_CHARS = 50_000
MAX_OUTPUT_CHARS = 200_000
MAX_SECONDS = 1.0


class TemplateRenderError(Exception):
    """A template that cannot be rendered; the message names the line when known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"Line {line}: {message}" if line else message)


class _RenderTimeout(BaseException):
    # BaseException so that no `except Exception` inside Jinja swallows it.
    pass


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+"})

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja's default prints an unsafe attribute as an empty string; a
        # template that reaches for `__class__` is refused outright instead.
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            size = _repeat_size(left, right)
            if size > MAX_OUTPUT_CHARS:
                raise TemplateRenderError(f"a repetition would make {size:,} items; the limit is {MAX_OUTPUT_CHARS:,}")
            return operator.mul(left, right)
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 1000:
                raise TemplateRenderError("an exponent above 1000 is not allowed")
            return operator.pow(left, right)
        result = operator.add(left, right)
        if isinstance(result, str | list) and len(result) > MAX_OUTPUT_CHARS:
            raise TemplateRenderError(f"a value grew past {MAX_OUTPUT_CHARS:,} characters")
        return result


def _repeat_size(left: Any, right: Any) -> int:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * count
    return 0


def _raise_exception(message: str) -> None:
    raise TemplateRenderError(f"the template raised: {message}")


def _tojson(value: Any, indent: int | None = None) -> str:
    # As transformers does: no ASCII escaping, so non-English text stays readable.
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _environment() -> _BoundedEnvironment:
    env = _BoundedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.Undefined)
    env.globals["raise_exception"] = _raise_exception
    env.filters["tojson"] = _tojson
    return env


_ENV = _environment()


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


def _line_of(exc: BaseException, template: jinja2.Template | None = None) -> int | None:
    """The template line of the innermost traceback frame that belongs to the template.

    Jinja rewrites tracebacks of errors it sees to template lines; an exception
    injected by the watchdog is not rewritten, so its compiled line is mapped back.
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
    """The exact string the model will see for `messages`."""
    if len(template_source) > MAX_TEMPLATE_CHARS:
        raise TemplateRenderError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    try:
        template = _ENV.from_string(template_source)
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(exc.message or "syntax error", line=exc.lineno) from None
    context: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos_token,
        "eos_token": eos_token,
        "tools": None,
    }
    if enable_thinking is not None:
        context["enable_thinking"] = enable_thinking
    return _run_bounded(template, context, timeout)


def _run_bounded(template: jinja2.Template, context: dict[str, Any], timeout: float) -> str:
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["text"] = _render_with_limits(template, context)
        except _RenderTimeout as exc:
            outcome["timeout_line"] = _line_of(exc, template)
        except BaseException as exc:  # reported to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="chat-template", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        # Raise inside the rendering thread: templates compile to Python, so a
        # pure-Python loop sees the exception at its next bytecode.
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_RenderTimeout))
        thread.join(2.0)
        raise TemplateRenderError(
            f"rendering took longer than {timeout:g} s (a runaway loop?)", line=outcome.get("timeout_line")
        )
    if "error" in outcome:
        exc = outcome["error"]
        line = _line_of(exc)
        if isinstance(exc, TemplateRenderError):
            raise TemplateRenderError(str(exc), line=exc.line or line) from None
        if isinstance(exc, SecurityError):
            raise TemplateRenderError(f"refused by the sandbox: {exc}", line=line) from None
        if isinstance(
            exc, TemplateError | TypeError | ValueError | AttributeError | KeyError | IndexError | ZeroDivisionError
        ):
            raise TemplateRenderError(f"{type(exc).__name__}: {exc}", line=line) from None
        if isinstance(exc, MemoryError | RecursionError):
            raise TemplateRenderError(f"the template ran out of resources ({type(exc).__name__})", line=line) from None
        raise exc
    return outcome["text"]
