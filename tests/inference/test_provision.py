from __future__ import annotations

import shutil
import sys
from pathlib import Path

import huggingface_hub
import pytest
from llama_cpp import Llama
from tokenizers import Tokenizer

from inference import provision
from inference.models import SandboxModel
from inference.provision import build_qwen3_tiny, build_smollm2_batch, provision_offline, pull_qwen3_06b
from inference.registry import ChecksumMismatch, ModelFileError, read_gguf_metadata, sha256_file

# NFC text on purpose: Hugging Face normalizes to NFC first, llama.cpp does not (see the test below).
MULTILINGUAL_TEXTS = {
    "english": "Hello, world! The quick brown fox jumps over the lazy dog; it's 3.14159 o'clock.",
    "german": "Größenwahn und Überraschung: Die Straße führt über die Brücke. Äpfel, Öl, Übermaß.",
    "chinese": "你好，世界！今天天气很好，我们去公园散步吧。机器学习模型需要大量数据。",
    "japanese": "こんにちは、世界。東京タワーは高いです。カタカナとひらがなと漢字を混ぜます。",
    "arabic": "مرحبا بالعالم! اللغة العربية تكتب من اليمين إلى اليسار.",
    "code": 'def greet(name: str) -> str:\n    if not name:\n        return "hi"\n\treturn f"Hello, {name}!"  # tab-indented\n',
    "emoji": "Launch 🚀🚀 done ✅ family 👨‍👩‍👧‍👦 flags 🇩🇪🇯🇵 skin 👍🏽",
    "whitespace": "a  b   c    d\n\n\nnew lines\t\ttabs \t mixed   \n  trailing   ",
    "mixed": "Qwen3 (通义千问) говорит: «Привет!» — 12,345.67 €; x**2 + y_1 == z<=3",
    "think_tag": "Before <think> inside </think> after",
}


@pytest.fixture(scope="module")
def hf_tokenizer(qwen3_tokenizer_json: Path) -> Tokenizer:
    return Tokenizer.from_file(str(qwen3_tokenizer_json))


def test_qwen3_tiny_has_qwen3_shape(qwen3_tiny_llm):
    assert qwen3_tiny_llm.n_vocab() == 151_936
    assert qwen3_tiny_llm.token_bos() == 151_643
    assert qwen3_tiny_llm.token_eos() == 151_645
    assert qwen3_tiny_llm.metadata["general.architecture"] == "qwen3"


def test_qwen3_tiny_tokenizes_special_tokens_like_qwen3(qwen3_tiny_llm):
    assert qwen3_tiny_llm.tokenize(b"Hello", add_bos=False, special=False) == [9707]
    assert qwen3_tiny_llm.tokenize(b"<|im_start|>", add_bos=False, special=True) == [151_644]
    assert qwen3_tiny_llm.tokenize(b"<|im_end|>", add_bos=False, special=True) == [151_645]
    assert qwen3_tiny_llm.tokenize(b"<think>", add_bos=False, special=False) == [151_667]
    # Learner text must not smuggle in control tokens: without special parsing they are plain text.
    assert 151_644 not in qwen3_tiny_llm.tokenize(b"<|im_start|>", add_bos=False, special=False)


@pytest.mark.parametrize("text", MULTILINGUAL_TEXTS.values(), ids=MULTILINGUAL_TEXTS.keys())
def test_qwen3_tiny_tokenizes_like_hf_tokenizers(qwen3_tiny_llm, hf_tokenizer, text):
    ours = qwen3_tiny_llm.tokenize(text.encode(), add_bos=False, special=False)

    assert ours == hf_tokenizer.encode(text, add_special_tokens=False).ids
    assert qwen3_tiny_llm.detokenize(ours).decode() == text


def test_qwen3_tiny_does_not_normalize_unicode_unlike_hf(qwen3_tiny_llm, hf_tokenizer):
    # A known llama.cpp difference, pinned so nobody is surprised: "é" written as e + U+0301
    # is NFC-normalized by Hugging Face but tokenized byte for byte by llama.cpp.
    decomposed = "Cafe\u0301"

    ours = qwen3_tiny_llm.tokenize(decomposed.encode(), add_bos=False, special=False)

    assert ours != hf_tokenizer.encode(decomposed, add_special_tokens=False).ids
    assert qwen3_tiny_llm.detokenize(ours).decode() == decomposed


def test_qwen3_tiny_generates_deterministically_with_a_seed(qwen3_tiny_llm):
    prompt = qwen3_tiny_llm.tokenize(b"<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", special=True)

    def run(seed: int) -> tuple[str, int]:
        out = qwen3_tiny_llm.create_completion(prompt, max_tokens=8, temperature=0.8, top_k=0, top_p=1.0, seed=seed)
        return out["choices"][0]["text"], out["usage"]["completion_tokens"]

    first, again, other = run(7), run(7), run(8)

    assert first[1] >= 4
    assert first == again
    assert first[0] != other[0]


def test_smollm2_generates_with_quantized_weights(smollm2_file):
    # Q4_1 matmuls are the path that crashed on AMX CPUs with a native llama.cpp build.
    llm = Llama(str(smollm2_file), n_ctx=256, n_threads=2, seed=0, verbose=False)
    prompt = llm.tokenize(
        b"<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n", special=True
    )

    out = llm.create_completion(prompt, max_tokens=12, temperature=0.0, seed=1)

    assert out["usage"]["completion_tokens"] > 0
    assert "Paris" in out["choices"][0]["text"]


def test_build_qwen3_tiny_keeps_a_current_file(qwen3_tiny_path, tmp_path):
    dest = Path(shutil.copy(qwen3_tiny_path, tmp_path / "qwen3-tiny.gguf"))
    before = dest.stat()

    build_qwen3_tiny(dest)

    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_build_qwen3_tiny_replaces_a_stale_file_atomically(tmp_path):
    dest = tmp_path / "qwen3-tiny.gguf"
    dest.write_bytes(b"left over from an older build")

    build_qwen3_tiny(dest)

    assert read_gguf_metadata(dest).version == provision.QWEN3_TINY_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["qwen3-tiny.gguf"]  # no temp file left behind


def test_build_qwen3_tiny_is_deterministic(qwen3_tiny_path, tmp_path):
    rebuilt = build_qwen3_tiny(tmp_path / "again.gguf")

    assert rebuilt.read_bytes() == qwen3_tiny_path.read_bytes()


def test_smollm2_q8_is_derived_deterministically(tmp_path, smollm2_q8_path):
    rebuilt = build_smollm2_batch(tmp_path / "again.gguf")

    assert sha256_file(rebuilt) == sha256_file(smollm2_q8_path)
    assert read_gguf_metadata(rebuilt).quantization == "Q8_0"


@pytest.mark.django_db
def test_provision_offline_registers_the_models_and_is_idempotent(models_dir, qwen3_tiny_path, smollm2_q8_path):
    # Seed the folder with the session's builds so this test checks reuse, not the builds.
    models_dir.mkdir(parents=True)
    tiny = Path(shutil.copy(qwen3_tiny_path, models_dir / provision.QWEN3_TINY_FILE))
    q8 = Path(shutil.copy(smollm2_q8_path, models_dir / provision.SMOLLM2_BATCH_FILE))
    built_at = (tiny.stat().st_mtime_ns, q8.stat().st_mtime_ns)

    first = provision_offline()
    second = provision_offline()

    assert [m.slug for m in first] == ["smollm2-135m", "qwen3-tiny", "smollm2-135m-q8"]
    assert [m.pk for m in second] == [m.pk for m in first]
    assert SandboxModel.objects.count() == 3
    assert (tiny.stat().st_mtime_ns, q8.stat().st_mtime_ns) == built_at
    batch = SandboxModel.objects.get(slug="smollm2-135m-q8")
    assert (batch.name, batch.architecture, batch.n_vocab, batch.quantization) == (
        "SmolLM2 135M Instruct (Q8_0, faster for a whole room)",
        "llama",
        49_152,
        "Q8_0",
    )
    assert batch.sha256 == sha256_file(q8)
    smollm2, qwen = (SandboxModel.objects.get(slug=s) for s in ("smollm2-135m", "qwen3-tiny"))
    assert (smollm2.architecture, smollm2.n_vocab, smollm2.quantization, smollm2.supports_thinking) == (
        "llama",
        49_152,
        "Q4_1",
        False,
    )
    assert (qwen.architecture, qwen.n_vocab, qwen.quantization, qwen.supports_thinking) == (
        "qwen3",
        151_936,
        "Q8_0",
        True,
    )
    assert qwen.path == str(tiny.resolve())


@pytest.fixture
def fake_hub_download(monkeypatch, tmp_path):
    """Replace the network call only: hf_hub_download 'downloads' a small wrong file."""
    fake = tmp_path / "download" / provision.QWEN3_06B_FILE

    def download(*, repo_id: str, filename: str, revision: str, local_dir: Path) -> str:
        assert (repo_id, filename) == (provision.QWEN3_06B_REPO, provision.QWEN3_06B_FILE)
        fake.parent.mkdir(exist_ok=True)
        fake.write_bytes(b"GGUF not really the model")
        return str(fake)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return fake


@pytest.mark.django_db
def test_pull_qwen3_06b_rejects_wrong_size_and_deletes_it(fake_hub_download):
    with pytest.raises(ModelFileError, match="has 25 bytes, expected 639,446,688"):
        pull_qwen3_06b()

    assert not fake_hub_download.exists()
    assert not SandboxModel.objects.exists()


@pytest.mark.django_db
def test_pull_qwen3_06b_rejects_wrong_checksum_and_deletes_it(fake_hub_download, monkeypatch, qwen3_tiny_path):
    # A file of the right size but other content: the tiny model, with the size check aligned to it.
    def download(**kwargs: object) -> str:
        fake_hub_download.parent.mkdir(exist_ok=True)
        return shutil.copy(qwen3_tiny_path, fake_hub_download)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(provision, "QWEN3_06B_SIZE", qwen3_tiny_path.stat().st_size)

    with pytest.raises(ChecksumMismatch, match="expected 9465e63a"):
        pull_qwen3_06b()

    assert not fake_hub_download.exists()
    assert not SandboxModel.objects.exists()


def test_pull_qwen3_06b_explains_a_failed_download(monkeypatch):
    def offline(**kwargs: object) -> str:
        raise OSError("Network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)

    with pytest.raises(ModelFileError, match="Could not download Qwen3-0.6B-Q8_0.gguf .*Network is unreachable"):
        pull_qwen3_06b()


def test_pull_qwen3_06b_without_huggingface_hub_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes the import fail

    with pytest.raises(ModelFileError, match="pip install huggingface_hub"):
        pull_qwen3_06b()
