"""OpenAPI 3.1 description of the sandbox API, served at /api/openapi.json."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

_token = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "text": {"type": "string"}, "special": {"type": "boolean"}},
}
_choice = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "text": {"type": "string"}, "p": {"type": "number"}},
}
_message = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {"role": {"enum": ["system", "user", "assistant", "tool"]}, "content": {"type": "string"}},
}
_errors = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
}
_sampler = {
    "temperature": {"type": "number", "minimum": 0, "maximum": 2, "description": "0 is greedy"},
    "top_k": {"type": "integer", "minimum": 0, "description": "0 turns it off"},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "min_p": {"type": "number", "minimum": 0, "maximum": 1},
    "repeat_penalty": {"type": "number", "minimum": 0.5, "maximum": 2},
    "presence_penalty": {"type": "number", "minimum": -2, "maximum": 2},
    "frequency_penalty": {"type": "number", "minimum": -2, "maximum": 2},
    "max_tokens": {"type": "integer", "minimum": 1},
    "seed": {"type": "integer", "minimum": 0, "description": "chosen and recorded when left out"},
    "top_n": {"type": "integer", "minimum": 1, "maximum": 20},
}
_run = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
        "queue_position": {"type": ["integer", "null"]},
        "model": {"type": "string"},
        "params": {"type": "object"},
        "rendered_prompt": {"type": "string"},
        "prompt_tokens": {"type": "array", "items": _token},
        "output_text": {"type": "string"},
        "tokens": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "text": {"type": "string"},
                    "p_model": {"type": "number", "description": "softmax of the raw logits"},
                    "p_sampled": {"type": "number", "description": "probability in the distribution drawn from"},
                    "top_model": {"type": "array", "items": _choice},
                    "top_sampled": {"type": "array", "items": _choice},
                },
            },
        },
        "finish_reason": {"type": "string"},
        "timings": {"type": "object"},
        "error": {"type": "string"},
    },
}


def _op(summary: str, *, body: dict | None = None, response: dict | None = None, status: str = "200") -> dict:
    op: dict = {"summary": summary, "responses": {status: {"description": "OK", "content": {"application/json": {"schema": response or {}}}},
                                                  "400": {"description": "Invalid parameters", "content": {"application/json": {"schema": _errors}}},
                                                  "401": {"description": "Not signed in"}}}  # fmt: skip
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


SCHEMA = {
    "openapi": "3.1.0",
    "info": {"title": "First Break AI sandbox API", "version": "1"},
    "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "sessionid"}}},
    "security": [{"session": []}],
    "paths": {
        "/api/sandbox/models": {"get": _op("Models the sandbox can run", response={"type": "object"})},
        "/api/sandbox/tokenize": {
            "post": _op(
                "Tokenize text",
                body={
                    "type": "object",
                    "required": ["model", "text"],
                    "properties": {
                        "model": {"type": "string"},
                        "text": {"type": "string"},
                        "special": {"type": "boolean", "default": False},
                    },
                },
                response={
                    "type": "object",
                    "properties": {"tokens": {"type": "array", "items": _token}, "count": {"type": "integer"}},
                },
            )
        },
        "/api/sandbox/render": {
            "post": _op(
                "Render a conversation with the chat template: the exact prompt the model sees",
                body={
                    "type": "object",
                    "required": ["model", "messages"],
                    "properties": {
                        "model": {"type": "string"},
                        "messages": {"type": "array", "items": _message},
                        "enable_thinking": {"type": "boolean"},
                        "template": {"type": "string"},
                        "add_generation_prompt": {"type": "boolean", "default": True},
                    },
                },
                response={
                    "type": "object",
                    "properties": {"prompt": {"type": "string"}, "tokens": {"type": "array", "items": _token}},
                },
            )
        },
        "/api/sandbox/runs": {
            "get": _op("Your runs, newest first", response={"type": "object"}),
            "post": {
                **_op(
                    "Start a run (chat mode with messages, or raw mode with prompt)",
                    body={
                        "type": "object",
                        "required": ["model"],
                        "properties": {
                            "model": {"type": "string"},
                            "messages": {"type": "array", "items": _message},
                            "prompt": {"type": "string"},
                            "enable_thinking": {"type": "boolean"},
                            "template": {"type": "string"},
                            **_sampler,
                        },
                    },
                    response={
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "status": {"type": "string"},
                            "seed": {"type": "integer"},
                        },
                    },
                    status="201",
                ),
            },
        },
        "/api/sandbox/runs/{id}": {
            "get": {
                **_op("A run, with tokens as they are generated", response=_run),
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            }
        },
        "/api/sandbox/runs/{id}/cancel": {
            "post": {
                **_op("Cancel a run", response=_run),
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            }
        },
    },
}
_id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
SCHEMA["paths"]["/api/sandbox/runs/{id}/branch"] = {
    "post": {
        **_op(
            "Continue a finished run from `step` with `token_id` there (same parameters and seed)",
            body={
                "type": "object",
                "required": ["step", "token_id"],
                "properties": {
                    "step": {"type": "integer", "minimum": 0},
                    "token_id": {"type": "integer", "minimum": 0},
                },
            },
            response={
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "status": {"type": "string"},
                    "seed": {"type": "integer"},
                    "parent": {"type": "integer"},
                },
            },
            status="201",
        ),
        "parameters": _id_param,
    }
}
SCHEMA["paths"]["/api/sandbox/runs/{id}/tree"] = {
    "get": {
        **_op("The run's family: its root and every branch, nested", response={"type": "object"}),
        "parameters": _id_param,
    }
}
_lab_created = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "status": {"type": "string"}},
}
SCHEMA["paths"]["/api/sandbox/labs/pipeline"] = {
    "post": _op(
        "Sampler pipeline lab: the candidate set after each stage at one step of a finished run",
        body={
            "type": "object",
            "required": ["run", "step"],
            "properties": {"run": {"type": "integer"}, "step": {"type": "integer", "minimum": 0}},
        },
        response=_lab_created,
        status="201",
    )
}
SCHEMA["paths"]["/api/sandbox/labs/sweep"] = {
    "post": _op(
        "Temperature sweep lab: distinct outputs and entropy per temperature, and one step's distribution under each",
        body={
            "type": "object",
            "required": ["model"],
            "properties": {
                "model": {"type": "string"},
                "messages": {"type": "array", "items": _message},
                "prompt": {"type": "string"},
                "temperatures": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 2}},
                "seeds": {"type": "integer", "minimum": 1, "maximum": 8},
                "max_tokens": {"type": "integer", "minimum": 1, "maximum": 64},
                "step": {"type": "integer", "minimum": 0},
            },
        },  # fmt: skip
        response=_lab_created,
        status="201",
    )
}
SCHEMA["paths"]["/api/sandbox/labs/speculative"] = {
    "post": _op(
        "Speculative decoding lab: drafted and accepted tokens per step, acceptance by position, speed-up over plain decoding",
        body={
            "type": "object",
            "required": ["model"],
            "properties": {
                "model": {"type": "string"},
                "draft": {"enum": ["prompt_lookup", "model"]},
                "draft_model": {"type": "string"},
                "k": {"type": "integer", "minimum": 1, "maximum": 8},
                "messages": {"type": "array", "items": _message},
                "prompt": {"type": "string"},
                **_sampler,
            },
        },  # fmt: skip
        response=_lab_created,
        status="201",
    )
}
SCHEMA["paths"]["/api/sandbox/labs/quantization"] = {
    "post": _op(
        "Quantization lab: make variants (F16, Q8_0, Q4_K_M, Q4_0) and compare size, load time, speed, greedy and top-1 agreement, mean KL",
        body={
            "type": "object",
            "required": ["model"],
            "properties": {
                "model": {"type": "string"},
                "types": {"type": "array", "items": {"enum": ["F16", "Q8_0", "Q4_K_M", "Q4_0"]}},
            },
        },
        response=_lab_created,
        status="201",
    )
}
SCHEMA["paths"]["/api/sandbox/labs/{id}"] = {
    "get": {
        **_op("A lab job and its result (yours, or shared in your cohort)", response={"type": "object"}),
        "parameters": _id_param,
    }
}
SCHEMA["paths"]["/api/sandbox/labs/{id}/share"] = {
    "post": {**_op("Share a lab with your cohort", response={"type": "object"}), "parameters": _id_param}
}
SCHEMA["paths"]["/api/sandbox/models/{slug}/inspect"] = {
    "get": {
        **_op(
            "GGUF inspector: metadata, tokenizer, tensor table, bits per weight, SafeTensors F32/BF16 sizes",
            response={"type": "object"},
        ),
        "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
    }
}
SCHEMA["paths"]["/api/sandbox/runs"]["post"]["responses"]["429"] = {"description": "Rate limited; see Retry-After"}


@require_GET
def schema(request: HttpRequest) -> JsonResponse:
    return JsonResponse(SCHEMA)


SCHEMA["paths"]["/api/sandbox/runs/{id}"]["get"]["parameters"].append(
    {
        "name": "since",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
        "description": "Only tokens from this index on; `token_count` tells how many there are in all.",
    }  # fmt: skip
)
_run["properties"]["since"] = {"type": "integer"}
_run["properties"]["token_count"] = {"type": "integer", "description": "tokens generated so far, in all"}
