"""The sandbox API's request and response shapes, declared once.

Request schemas validate (types, ranges, lengths, required fields; unknown
fields are refused) and document; response schemas document and check what the
selectors return. The OpenAPI document at /api/openapi.json is generated from
these classes, so it cannot drift from the code.

Requests are strict: JSON `"5"` is not a number, `1` is not `true`, a float is
not a whole number. Every text field refuses NUL characters (PostgreSQL cannot
store them) and lone surrogates such as `"\\ud800"` (they cannot be encoded to
the UTF-8 the tokenizer and the database need).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, model_validator

from inference.chat_templates import MAX_TEMPLATE_CHARS

ROLES = ("system", "user", "assistant", "tool")
MAX_MESSAGES = 50
MAX_TOKENIZE_CHARS = 100_000
MAX_SEED = 2**31 - 2
# Ids are 64-bit in the database; a larger number in a URL is a 404, not an overflow.
MAX_ID = 2**63 - 1
SWEEP_MAX_TEMPERATURES = 8
QUANT_TYPE_NAMES = Literal["F16", "Q8_0", "Q4_K_M", "Q4_0"]


class FieldError(ValueError):
    """A rule across fields that belongs to one of them, reported under `field` rather than the whole body.

    ninja hands the error on as text, so the field travels in it: `[field] message`
    (errors.field_errors reads it back).
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"[{field}] {message}")


def _clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("Text may not contain NUL characters (\\u0000).")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("Text may not contain lone surrogates such as \\ud800 (invalid Unicode).") from None
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=60, pattern=r"^[-a-zA-Z0-9_]+$")]
WholeNumber = Annotated[int, Field(ge=0, le=MAX_ID)]


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class Response(BaseModel):
    # What a selector returns passes through whole: the schema documents and checks
    # the fields it names, it never silently drops one the pages read.
    model_config = ConfigDict(extra="allow")


# --- Requests --------------------------------------------------------------------------


class Message(Request):
    role: Literal["system", "user", "assistant", "tool"]
    content: Annotated[Text, Field(max_length=settings.SANDBOX_MAX_PROMPT_CHARS)]


Messages = Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]


def _check_messages_length(messages: list[Message] | None) -> None:
    if messages is not None and sum(len(m.content) for m in messages) > settings.SANDBOX_MAX_PROMPT_CHARS:
        raise FieldError("messages", f"The messages are longer than {settings.SANDBOX_MAX_PROMPT_CHARS:,} characters.")


class TokenizeIn(Request):
    model: Slug
    text: Annotated[Text, Field(max_length=MAX_TOKENIZE_CHARS)]
    special: bool = Field(False, description="Parse control tokens such as `<|im_end|>` in the text.")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"model": "smollm2-135m", "text": "Hello <|im_end|>", "special": False}]}
    )


class RenderIn(Request):
    model: Slug
    messages: Messages
    template: Annotated[Text, Field(max_length=MAX_TEMPLATE_CHARS)] | None = Field(
        None, description="A chat template to use instead of the model's own (Jinja, sandboxed)."
    )
    enable_thinking: bool | None = None
    add_generation_prompt: bool | None = Field(None, description="Defaults to true.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "smollm2-135m",
                    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                    "enable_thinking": False,
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _length(self) -> RenderIn:
        _check_messages_length(self.messages)
        return self


class PromptIn(Request):
    """What a run reads: chat messages (rendered with a template) or a raw prompt."""

    model: Slug
    messages: Messages | None = Field(None, description="Chat mode: the conversation.")
    prompt: Annotated[Text, Field(max_length=settings.SANDBOX_MAX_PROMPT_CHARS)] | None = Field(
        None, description="Raw mode: the exact text, tokenized as is."
    )
    template: Annotated[Text, Field(max_length=MAX_TEMPLATE_CHARS)] | None = None
    enable_thinking: bool | None = None
    add_generation_prompt: bool | None = None
    parse_special: bool | None = Field(None, description="Raw mode: parse control tokens typed in the prompt.")

    @model_validator(mode="after")
    def _one_mode(self) -> PromptIn:
        if (self.messages is not None) == bool(self.prompt):
            raise FieldError("messages", "Send either messages (chat mode) or prompt (raw mode).")
        _check_messages_length(self.messages)
        return self

    def run_request(self) -> dict[str, Any]:
        """The request as stored on the run (and replayed by the page)."""
        if self.messages is not None:
            request: dict[str, Any] = {
                "messages": [m.model_dump() for m in self.messages],
                "enable_thinking": self.enable_thinking,
            }
            if self.template is not None:
                request["template"] = self.template
            if self.add_generation_prompt is not None:
                request["add_generation_prompt"] = self.add_generation_prompt
            return request
        return {"prompt": self.prompt, "parse_special": bool(self.parse_special)}


class SamplerKnobsIn(PromptIn):
    """The sampler settings a run and a live experiment share (the temperature and seed differ)."""

    top_k: int | None = Field(None, ge=0, le=1000, description="0 turns top-k off.")
    top_p: float | None = Field(None, ge=0.01, le=1)
    min_p: float | None = Field(None, ge=0, le=1)
    repeat_penalty: float | None = Field(None, ge=0.5, le=2)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)


class SamplerIn(SamplerKnobsIn):
    temperature: float | None = Field(None, ge=0, le=2, description="0 is greedy.")
    max_tokens: int | None = Field(None, ge=1, le=settings.SANDBOX_MAX_TOKENS, description="Defaults to 128.")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Chosen and recorded when left out.")


class RunIn(SamplerIn):
    top_n: int | None = Field(None, ge=1, le=20, description="Alternatives kept per token (default 10).")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "smollm2-135m",
                    "messages": [{"role": "user", "content": "What is the capital of France?"}],
                    "enable_thinking": False,
                    "temperature": 0.7,
                    "max_tokens": 64,
                    "seed": 42,
                },
                {"model": "smollm2-135m", "prompt": "Once upon a time", "temperature": 0, "max_tokens": 16},
            ]
        }
    )


class BranchIn(Request):
    step: WholeNumber = Field(description="Index of the token to replace.")
    token_id: WholeNumber = Field(description="The token to put there instead.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"step": 1, "token_id": 13}]})


class PipelineIn(Request):
    run: Annotated[int, Field(ge=1, le=MAX_ID)] = Field(description="A finished run of yours.")
    step: WholeNumber

    model_config = ConfigDict(json_schema_extra={"examples": [{"run": 1, "step": 0}]})


class SweepIn(PromptIn):
    temperatures: Annotated[
        list[Annotated[float, Field(ge=0, le=2)]], Field(min_length=1, max_length=SWEEP_MAX_TEMPERATURES)
    ] = Field(default_factory=lambda: [0.0, 0.3, 0.7, 1.0, 1.5])
    seeds: int = Field(3, ge=1, le=8, description="Seeds per temperature.")
    max_tokens: int = Field(24, ge=1, le=64)
    step: int = Field(0, ge=0, le=63, description="The step whose distribution is shown; below max_tokens.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model": "smollm2-135m", "prompt": "My favourite colour is", "temperatures": [0, 0.7, 1.5]}]
        }
    )

    @model_validator(mode="after")
    def _step_below_max(self) -> SweepIn:
        if self.step >= self.max_tokens:
            raise FieldError("step", "step must be below max_tokens.")
        return self


class SpeculativeIn(SamplerIn):
    draft: Literal["prompt_lookup", "model"] = "prompt_lookup"
    draft_model: Slug | None = Field(None, description="Needed when draft is `model`: a model sharing the vocabulary.")
    k: int = Field(4, ge=1, le=8, description="Tokens drafted per step.")
    max_tokens: int | None = Field(None, ge=1, le=256, description="Defaults to 128.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"model": "smollm2-135m", "prompt": "x y z x y z x y", "draft": "prompt_lookup", "k": 4},
                {
                    "model": "smollm2-135m",
                    "prompt": "Monday, Tuesday,",
                    "draft": "model",
                    "draft_model": "smollm2-135m",
                },
            ]
        }
    )

    @model_validator(mode="after")
    def _draft_model(self) -> SpeculativeIn:
        if self.draft == "model" and not self.draft_model:
            raise FieldError("draft_model", "A model draft needs draft_model.")
        return self


DEFAULT_QUANT_TYPES: tuple[QUANT_TYPE_NAMES, ...] = ("Q8_0", "Q4_K_M", "Q4_0")


class QuantizationIn(Request):
    model: Slug
    types: Annotated[list[QUANT_TYPE_NAMES], Field(min_length=1, max_length=4)] = Field(
        default_factory=lambda: list(DEFAULT_QUANT_TYPES)
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"model": "smollm2-135m", "types": ["Q8_0"]}]})


# --- Responses -----------------------------------------------------------------------------


class ErrorOut(Response):
    error: str
    fields: dict[str, list[str]] | None = Field(None, description="Messages per request field.")


class ModelOut(Response):
    slug: str
    name: str
    architecture: str
    n_vocab: int
    context_length: int
    quantization: str
    size_bytes: int
    available: bool
    supports_thinking: bool


class ModelsOut(Response):
    models: list[ModelOut]


class TokenOut(Response):
    id: int
    text: str
    special: bool


def items_documented_as(model: type[BaseModel]) -> WithJsonSchema:
    """Document a list's items as `model` while the response check takes them as plain objects.

    Long token lists (512 generated tokens with 2 x 10 alternatives each) validated
    item by item cost several times their JSON encoding on every poll; the
    documented item schema is still what the fuzz test holds each answer to.
    """
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return WithJsonSchema({"type": "array", "items": inline(schema)})


class TokensOut(Response):
    tokens: Annotated[list[dict[str, Any]], items_documented_as(TokenOut)]
    count: int


class RenderOut(TokensOut):
    prompt: str = Field(description="The exact text the model reads.")


class Choice(Response):
    id: int
    text: str
    p: float


class GeneratedToken(Response):
    id: int
    text: str | None = None
    p_model: float | None = Field(None, description="Softmax of the raw logits.")
    p_sampled: float | None = Field(None, description="Probability in the distribution the token was drawn from.")
    top_model: list[Choice] | None = None
    top_sampled: list[Choice] | None = None
    entropy_bits: float | None = None


RunStatusName = Literal["queued", "running", "done", "failed", "cancelled"]


class RunCreatedOut(Response):
    id: int
    status: RunStatusName
    seed: int


class BranchCreatedOut(RunCreatedOut):
    parent: int


class RunOut(Response):
    id: int
    status: RunStatusName
    since: int = Field(description="Tokens before this index were left out (`?since=`).")
    token_count: int
    queue_position: int | None
    model: str
    request: dict[str, Any]
    params: dict[str, Any]
    rendered_prompt: str
    prompt_tokens: Annotated[list[dict[str, Any]], items_documented_as(TokenOut)]
    output_text: str
    tokens: Annotated[list[dict[str, Any]], items_documented_as(GeneratedToken)]
    finish_reason: str
    timings: dict[str, Any]
    error: str
    created_at: str
    parent: int | None
    branch_step: int | None


class RunViewOut(RunOut):
    mine: bool = Field(description="The run is the caller's own (a shared run of someone else's is not).")


class MarkdownOut(Response):
    html: str = Field(description="The run's output rendered as Markdown and cleaned: no raw HTML, no scripts.")


class ChatTemplateOut(Response):
    model: str
    template: str = Field(description="The chat template stored in the model's GGUF file (Jinja).")


class RunSummaryOut(Response):
    id: int
    status: RunStatusName
    model: str
    seed: int
    temperature: float | None
    prompt_preview: str
    output_preview: str
    created_at: str


class RunsOut(Response):
    runs: list[RunSummaryOut]


class BranchToken(Response):
    id: int
    text: str
    p_model: float | None = None


class TreeNode(Response):
    id: int
    status: RunStatusName
    branch_step: int | None
    branch_token: BranchToken | None
    output_text: str
    branches: list[TreeNode]


class LabCreatedOut(Response):
    id: int
    kind: Literal["pipeline", "sweep", "speculative", "quantization"]
    status: RunStatusName


class LabOut(LabCreatedOut):
    model: str
    input: dict[str, Any]
    result: dict[str, Any]
    error: str
    shared: bool
    owner: str
    created_at: str


class InspectionOut(Response):
    file: str
    file_bytes: int
    architecture: str
    quantization: str | None = None
    metadata: dict[str, Any]
    tokenizer: dict[str, Any]
    chat_template: str | None = None
    tensors: list[dict[str, Any]]
    tensor_count: int
