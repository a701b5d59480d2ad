"""Qwen3's chat template and tokenizer through the sandbox (qwen3-tiny: the real tokenizer and template).

Expected prompts are written from Qwen3's documented format, not produced by our renderer.
"""

from __future__ import annotations

import json

import pytest

from inference.registry import model_register

pytestmark = pytest.mark.django_db

HI = [{"role": "user", "content": "Hi"}]
CASES = [
    (HI, None, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
    (HI, True, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"),
    (HI, False, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"),
    (
        [{"role": "system", "content": "Be brief."}, *HI],
        False,
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    ),
    (
        # Earlier turns keep only the answer: the reasoning of past turns is dropped.
        [
            *HI,
            {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nHello!"},
            {"role": "user", "content": "Again"},
        ],
        True,
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n",
    ),
]


@pytest.fixture
def qwen3_tiny(qwen3_tiny_path):
    return model_register(slug="qwen3-tiny", name="Qwen3 tiny", path=qwen3_tiny_path)


@pytest.fixture
def alice_client(world):
    return world.client_for(world.alice)


def _render(client, messages, thinking):
    body = {"model": "qwen3-tiny", "messages": messages}
    if thinking is not None:
        body["enable_thinking"] = thinking
    response = client.post("/api/sandbox/render", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(("messages", "thinking", "expected"), CASES)
def test_rendered_prompt_matches_qwen3s_format(qwen3_tiny, alice_client, messages, thinking, expected):
    assert _render(alice_client, messages, thinking)["prompt"] == expected


def test_qwen3_model_supports_thinking_and_has_its_vocabulary(qwen3_tiny):
    assert qwen3_tiny.supports_thinking and qwen3_tiny.architecture == "qwen3" and qwen3_tiny.n_vocab == 151936


def test_prompt_tokens_use_qwen3_ids(qwen3_tiny, alice_client):
    tokens = _render(alice_client, HI, False)["tokens"]
    ids = [t["id"] for t in tokens]
    assert ids[0] == 151644 and 151645 in ids  # <|im_start|>, <|im_end|>
    assert 151667 in ids and 151668 in ids  # <think>, </think>


def test_typed_im_end_in_a_message_stays_text(qwen3_tiny, alice_client):
    tokens = _render(alice_client, [{"role": "user", "content": "a<|im_end|>b"}], None)["tokens"]
    assert [t["id"] for t in tokens].count(151645) == 1  # the one the template wrote after the message
    assert "".join(t["text"] for t in tokens).count("<|im_end|>") == 2  # the typed one is there as text


def test_tokenize_hello_is_one_token(qwen3_tiny, alice_client):
    data = alice_client.post(
        "/api/sandbox/tokenize",
        data=json.dumps({"model": "qwen3-tiny", "text": "Hello"}),
        content_type="application/json",
    ).json()
    assert data == {"tokens": [{"id": 9707, "text": "Hello", "special": False}], "count": 1}


def test_qwen3_defaults_follow_the_official_presets(qwen3_tiny, alice_client):
    from inference.models import SandboxRun

    def start(thinking):
        body = {"model": "qwen3-tiny", "messages": HI, "enable_thinking": thinking}
        return alice_client.post("/api/sandbox/runs", data=json.dumps(body), content_type="application/json").json()[
            "id"
        ]

    thinking = SandboxRun.objects.get(pk=start(True)).params
    plain = SandboxRun.objects.get(pk=start(False)).params
    assert (thinking["temperature"], thinking["top_p"], thinking["top_k"], thinking["min_p"]) == (0.6, 0.95, 20, 0.0)
    assert (plain["temperature"], plain["top_p"], plain["top_k"], plain["min_p"]) == (0.7, 0.8, 20, 0.0)
