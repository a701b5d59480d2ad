"""The first layer of chat-template bounds: a Jinja sandbox that checks work before it allocates.

Integer results (`**`, `*`) are checked by their bit length, every string that grows (repetition,
`+`, `~`, `%` and `format` widths, the growing str methods and filters, `join`, `tojson`, `batch`,
`slice`) by the size it would have, `range()` by its length. `inference.chat_templates` renders
with `bounded_environment()` and adds the second layer (the output count, the timer, the helper
process); see its docstring.
"""

from __future__ import annotations

import json
import re
import string
from functools import wraps
from typing import Any

import jinja2
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import soft_str

from inference.errors import Refused

MAX_OUTPUT_CHARS = 200_000
# Any one string or list a template builds; the rendered prompt has the same bound.
MAX_VALUE_SIZE = MAX_OUTPUT_CHARS
# 10**1000 fits (3,322 bits); ((10**1000)**1000) does not.
MAX_INT_BITS = 4_096
MAX_RANGE = 100_000
MAX_JSON_INDENT = 64


class TemplateRenderError(Refused):
    """A template that cannot be rendered; the message names the line when known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        self.detail = message
        super().__init__(f"Line {line}: {message}" if line else message)


class TemplateRendererBusy(TemplateRenderError):
    """Every helper stayed busy for the whole time budget: not the template's fault (an API may answer 503)."""


def _too_big(what: str, size: int) -> TemplateRenderError:
    return TemplateRenderError(f"{what} would make {size:,} characters or items; the limit is {MAX_VALUE_SIZE:,}")


def _check_size(what: str, size: int) -> None:
    if size > MAX_VALUE_SIZE:
        raise _too_big(what, size)


def _check_width(what: str, width: Any) -> None:
    if isinstance(width, int) and width > MAX_VALUE_SIZE:
        raise _too_big(what, width)


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


# --- Formatting ----------------------------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def _check_percent(fmt: str | bytes, args: Any) -> None:
    """`fmt % args` bounded before it runs: widths, precisions, and what the arguments add."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    values = list(args.values()) if isinstance(args, dict) else list(args) if isinstance(args, tuple) else [args]
    fields = 0
    for match in _PERCENT_SPEC.finditer(text):
        fields += 1
        for number in match.groups():
            if number == "*":
                for value in values:
                    _check_width("a '*' width or precision", value)
            elif number is not None:
                _check_width("a '%' width or precision", int(number))
    _check_size("%-formatting", len(text) + fields * max([_sized(v) for v in values] or [0]))


def _check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`fmt.format(...)` bounded before it runs, including `{:{width}}` fields."""
    values = [*args, *kwargs.values()]
    fields = 0
    pending = [fmt]
    while pending:
        for _literal, name, spec, _conversion in string.Formatter().parse(pending.pop()):
            if name is None:
                continue
            fields += 1
            if spec:
                if "{" in spec:
                    pending.append(spec)
                    for value in values:
                        _check_width("a nested format width", value)
                for number in re.findall(r"\d+", spec):
                    _check_width("a format width or precision", int(number))
    _check_size("str.format", len(fmt) + fields * max([_sized(v) for v in values] or [0]))


# --- Methods and filters that make strings -------------------------------------------------


def _check_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Bound a str or bytes method before it runs; returns the (possibly materialised) args."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str | bytes):
        return args
    name = getattr(obj, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(f"str.{name}()", args[0])
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            _check_size("str.expandtabs()", len(owner) + tabs * tabsize)
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        items = list(args[0])
        _check_size("join()", sum(_sized(i) for i in items) + max(len(items) - 1, 0) * len(owner))
        return (items, *args[1:])
    return args


def _check_replace(s: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(s, str | bytes) or not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return
    try:
        found = s.count(old) if old else len(s) + 1  # type: ignore[arg-type]  # str with bytes: TypeError, caught below
    except TypeError:
        return
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _check_size("replace()", len(s) + found * (len(new) - len(old)))


def _bounded_filter(name: str, original: Any, check: Any) -> Any:
    """Wrap a Jinja filter with `check(*args, **kwargs)` run first; Jinja's pass_* marker is kept."""

    @wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        check(*args, **kwargs)
        result = original(*args, **kwargs)
        if isinstance(result, str) and len(result) > MAX_VALUE_SIZE:
            raise _too_big(f"the {name} filter", len(result))
        return result

    return bounded


def _check_center(value: Any, width: Any = 80) -> None:
    _check_width("the center filter", width)


def _check_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
    pad = width if isinstance(width, int) else len(width) if isinstance(width, str) else 0
    _check_size("the indent filter", len(str(s)) + (str(s).count("\n") + 1) * pad)


def _check_wordwrap(env: Any, s: Any, width: int = 79, break_long_words: bool = True, wrapstring: Any = None, *_a: Any, **_k: Any) -> None:  # fmt: skip
    # At worst every character ends a line (width 1) and gets a wrapstring.
    if isinstance(wrapstring, str) and len(wrapstring) > 2:
        _check_size("the wordwrap filter", len(str(s)) * (1 + len(wrapstring)))


def _check_format_filter(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_percent(str(value), kwargs or args)


def _check_replace_filter(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> None:
    _check_replace(str(s), str(old), str(new), -1 if count is None else count)


@jinja2.pass_eval_context  # as sync_do_join, which it wraps
def _join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> str:
    # A generator (`messages|map(attribute='content')|join`) is read once here, so it can be measured.
    items = value if isinstance(value, str) else list(value)
    if attribute is None:
        _check_size("the join filter", sum(_sized(i) for i in items) + max(len(items) - 1, 0) * len(str(d)))
    return jinja_filters.sync_do_join(eval_ctx, items, d, attribute)


def _check_batch(value: Any, linecount: Any, fill_with: Any = None) -> None:
    if isinstance(linecount, int) and linecount > MAX_RANGE:
        raise TemplateRenderError(f"batch() of {linecount:,}; the limit is {MAX_RANGE:,}")


def _check_slice(value: Any, slices: Any, fill_with: Any = None) -> None:
    if isinstance(slices, int) and slices > MAX_RANGE:
        raise TemplateRenderError(f"slice() into {slices:,} parts; the limit is {MAX_RANGE:,}")


def _tojson(value: Any, indent: int | str | None = None) -> str:
    # As transformers does: no ASCII escaping, so non-English text stays readable.
    if (isinstance(indent, int) and indent > MAX_JSON_INDENT) or (
        isinstance(indent, str) and len(indent) > MAX_JSON_INDENT
    ):
        raise TemplateRenderError(f"tojson indent above {MAX_JSON_INDENT} is not allowed")
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    _check_size("tojson", len(text))
    return text


def _range(*args: Any) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateRenderError(f"range() of {len(numbers):,} numbers; the limit is {MAX_RANGE:,}")
    return numbers


def _raise_exception(message: str) -> None:
    raise TemplateRenderError(f"the template raised: {message}")


# --- The environment -----------------------------------------------------------------------


def _bounded_concat(values: tuple[Any, ...]) -> str:
    pieces = [str(v) for v in values]
    _check_size("a '~' concatenation", sum(len(p) for p in pieces))
    return "".join(pieces)


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: Any, frame: Any) -> None:
        # `a ~ b` compiles to a plain join that no sandbox hook sees; route it through a bounded one.
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _BoundedCodeGenerator
    # Every arithmetic operator goes through call_binop; intercepting also stops Jinja from
    # folding `10**10**10` at compile time.
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    @staticmethod
    def bounded_concat(values: tuple[Any, ...]) -> str:
        return _bounded_concat(values)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # Jinja's default prints an unsafe attribute as an empty string; a
        # template that reaches for `__class__` is refused outright instead.
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "*":
            _check_multiply(left, right)
        elif operator_name == "**":
            _check_power(left, right)
        elif operator_name == "+":
            if isinstance(left, str | list | tuple | bytes) and isinstance(right, str | list | tuple | bytes):
                _check_size("'+'", len(left) + len(right))
        elif operator_name == "%" and isinstance(left, str | bytes):
            _check_percent(left, right)
        return self.binop_table[operator_name](left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        args = _check_method(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        # Jinja hands out `str.format` / `format_map` already wrapped in its sandboxed formatter;
        # this wraps that once more with a check of the widths and fields before it runs.
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt, is_map = value.__self__, value.__name__ == "format_map"

        @wraps(wrapper)
        def bounded(*args: Any, **kwargs: Any) -> str:
            if is_map:
                _check_format(fmt, (), args[0] if len(args) == 1 and isinstance(args[0], dict) else {})
            else:
                _check_format(fmt, args, kwargs)
            return wrapper(*args, **kwargs)

        return bounded


def _check_multiply(left: Any, right: Any) -> None:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple | bytes) and isinstance(count, int):
            _check_size("a repetition", len(seq) * count)
            return
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise TemplateRenderError(f"a product of more than {MAX_INT_BITS:,} bits is not allowed")


def _check_power(base: Any, exponent: Any) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > MAX_INT_BITS + exponent:
            raise TemplateRenderError(f"a power of more than {MAX_INT_BITS:,} bits is not allowed")
    elif isinstance(exponent, int) and abs(exponent) > MAX_INT_BITS * 64:
        raise TemplateRenderError("an exponent this large is not allowed")


_BOUNDED_FILTERS = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format_filter,
    "replace": _check_replace_filter,
    "batch": _check_batch,
}


def bounded_environment() -> _BoundedEnvironment:
    env = _BoundedEnvironment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.Undefined)
    env.globals["raise_exception"] = _raise_exception
    env.globals["range"] = _range
    env.globals.pop("lipsum", None)  # lipsum(n=10**7) writes ten million paragraphs
    env.filters["tojson"] = _tojson
    env.filters["join"] = _bounded_filter("join", _join, lambda *a, **k: None)
    # Jinja's `slice` is an async-capable wrapper that takes the eval context first; the
    # environment is never async, so the plain function is used, checked.
    env.filters["slice"] = _bounded_filter("slice", jinja_filters.sync_do_slice, _check_slice)
    for name, check in _BOUNDED_FILTERS.items():
        env.filters[name] = _bounded_filter(name, getattr(jinja_filters, f"do_{name}"), check)
    # Anything that turns a value into text post-checks: `|string` of a huge nested list.
    env.filters["string"] = _bounded_filter("string", soft_str, lambda *a, **k: None)
    return env
