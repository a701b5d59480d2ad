"""A qwen3-tiny GGUF and SmolLM2's Q8_0 copy built once per session, and a models folder that is never var/."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_cpp import Llama

from inference import provision
from inference.provision import build_qwen3_tiny, build_smollm2_batch, qwen3_tokenizer_dir, smollm2_path


@pytest.fixture(autouse=True)
def models_dir(settings, tmp_path: Path) -> Path:
    # Provisioning writes into SANDBOX_MODELS_DIR; tests must not touch the developer's var/.
    settings.SANDBOX_MODELS_DIR = tmp_path / "models"
    return settings.SANDBOX_MODELS_DIR


@pytest.fixture(scope="session")
def qwen3_tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_qwen3_tiny(tmp_path_factory.mktemp("qwen3-tiny") / "qwen3-tiny.gguf")


@pytest.fixture(scope="session")
def smollm2_q8_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_smollm2_batch(tmp_path_factory.mktemp("smollm2-q8") / provision.SMOLLM2_BATCH_FILE)


@pytest.fixture(scope="session")
def qwen3_tiny_llm(qwen3_tiny_path: Path) -> Llama:
    return Llama(str(qwen3_tiny_path), n_ctx=512, n_threads=2, seed=0, verbose=False)


@pytest.fixture(scope="session")
def qwen3_tokenizer_json() -> Path:
    return qwen3_tokenizer_dir() / "tokenizer.json"


@pytest.fixture(scope="session")
def smollm2_file() -> Path:
    return smollm2_path()


@pytest.fixture
def generous_run_limits(settings) -> None:  # type: ignore[no-untyped-def]
    """A whole room's runs from one test: the per-learner run limits out of the way."""
    settings.SANDBOX_CONCURRENT_RUNS = 50
    settings.SANDBOX_RUNS_PER_MINUTE = 1000
