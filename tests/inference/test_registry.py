from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter, TokenType

from inference.models import SandboxModel
from inference.registry import (
    ChecksumMismatch,
    ModelFileError,
    default_model,
    model_refresh_metadata,
    model_register,
    read_gguf_metadata,
    sha256_file,
)


def write_fake_gguf(path: Path, *, arch: str = "llama", file_type: int | None = None) -> Path:
    """A small, well-formed GGUF: a few tokens, one F16 matrix, one F32 norm."""
    writer = GGUFWriter(path, arch)
    writer.add_name("Fake")
    writer.add_context_length(256)
    if file_type is not None:
        writer.add_file_type(file_type)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["a", "b", "<s>", "</s>"])
    writer.add_token_types([TokenType.NORMAL, TokenType.NORMAL, TokenType.CONTROL, TokenType.CONTROL])
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(3)
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), dtype=np.float16))
    writer.add_tensor("output_norm.weight", np.ones(32, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_read_gguf_metadata_smollm2(smollm2_file):
    info = read_gguf_metadata(smollm2_file)

    assert info.architecture == "llama"
    assert info.n_vocab == 49_152
    assert info.context_length == 8192
    assert info.quantization == "Q4_1"
    assert (info.bos_token_id, info.eos_token_id, info.add_bos) == (1, 2, False)
    assert "<|im_start|>" in info.chat_template and "add_generation_prompt" in info.chat_template
    assert info.name == "Smollm2 135M 8k Lc100K Mix1 Ep2"


def test_read_gguf_metadata_qwen3_tiny(qwen3_tiny_path):
    info = read_gguf_metadata(qwen3_tiny_path)

    assert info.architecture == "qwen3"
    assert info.n_vocab == 151_936
    assert info.context_length == 4096
    assert info.quantization == "Q8_0"
    assert (info.bos_token_id, info.eos_token_id, info.add_bos) == (151_643, 151_645, False)
    assert "enable_thinking" in info.chat_template


def test_read_gguf_metadata_agrees_with_gguf_reader(tmp_path):
    path = write_fake_gguf(tmp_path / "fake.gguf")

    info = read_gguf_metadata(path)
    reader = GGUFReader(path)

    assert info.architecture == reader.fields["general.architecture"].contents()
    assert info.n_vocab == len(reader.fields["tokenizer.ggml.tokens"].contents())
    assert info.context_length == reader.fields["llama.context_length"].contents()
    assert info.bos_token_id == reader.fields["tokenizer.ggml.bos_token_id"].contents()
    assert info.name == reader.fields["general.name"].contents()


def test_read_gguf_metadata_quantization_falls_back_to_dominant_tensor_type(tmp_path):
    path = write_fake_gguf(tmp_path / "no-file-type.gguf")

    assert read_gguf_metadata(path).quantization == GGMLQuantizationType.F16.name


def test_read_gguf_metadata_quantization_from_file_type(tmp_path):
    path = write_fake_gguf(tmp_path / "f32.gguf", file_type=0)

    assert read_gguf_metadata(path).quantization == "F32"


def test_read_gguf_metadata_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="No model file at"):
        read_gguf_metadata(tmp_path / "nope.gguf")


def test_read_gguf_metadata_not_gguf(tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_bytes(b"# just some text, not a model\n")

    with pytest.raises(ModelFileError, match="is not a GGUF model file"):
        read_gguf_metadata(path)


def test_read_gguf_metadata_truncated(tmp_path, smollm2_file):
    path = tmp_path / "truncated.gguf"
    path.write_bytes(smollm2_file.read_bytes()[:100_000])

    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        read_gguf_metadata(path)


def test_read_gguf_metadata_unsupported_architecture(tmp_path):
    path = write_fake_gguf(tmp_path / "made-up.gguf", arch="made-up")

    with pytest.raises(ModelFileError, match="'made-up' model, which the sandbox cannot run"):
        read_gguf_metadata(path)


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * 3_000_000)

    assert sha256_file(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


@pytest.mark.django_db
def test_model_register_stores_file_metadata(qwen3_tiny_path):
    model = model_register(slug="qwen3-tiny", name="Qwen3 tiny", path=qwen3_tiny_path)

    model.refresh_from_db()
    assert model.path == str(qwen3_tiny_path.resolve())
    assert model.size_bytes == qwen3_tiny_path.stat().st_size
    assert model.sha256 == sha256_file(qwen3_tiny_path)
    assert (model.architecture, model.n_vocab, model.context_length, model.quantization) == (
        "qwen3",
        151_936,
        4096,
        "Q8_0",
    )
    assert (model.bos_token_id, model.eos_token_id, model.add_bos) == (151_643, 151_645, False)
    assert model.supports_thinking is True
    assert model.available is True


@pytest.mark.django_db
def test_model_register_twice_updates_the_same_row(smollm2_file):
    first = model_register(slug="smollm2-135m", name="Old name", path=smollm2_file)
    SandboxModel.objects.filter(pk=first.pk).update(available=False)

    second = model_register(slug="smollm2-135m", name="SmolLM2", path=smollm2_file)

    assert SandboxModel.objects.count() == 1
    assert second.pk == first.pk
    second.refresh_from_db()
    assert (second.name, second.available, second.supports_thinking) == ("SmolLM2", True, False)


@pytest.mark.django_db
def test_model_register_name_defaults_to_file_name(tmp_path):
    path = write_fake_gguf(tmp_path / "fake.gguf")

    assert model_register(slug="fake", path=path).name == "Fake"


@pytest.mark.django_db
def test_model_register_wrong_checksum_writes_nothing(smollm2_file):
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        model_register(slug="smollm2-135m", name="SmolLM2", path=smollm2_file, expected_sha256="0" * 64)

    assert not SandboxModel.objects.exists()


@pytest.mark.django_db
def test_model_register_rejects_bad_slug_and_bad_checksum_format(smollm2_file):
    with pytest.raises(ModelFileError, match="not a usable slug"):
        model_register(slug="Has Spaces", path=smollm2_file)
    with pytest.raises(ModelFileError, match="not a sha256 checksum"):
        model_register(slug="ok", path=smollm2_file, expected_sha256="abc")


@pytest.mark.django_db
def test_model_refresh_metadata_marks_a_missing_file_unavailable(tmp_path, smollm2_file):
    copy = Path(shutil.copy(smollm2_file, tmp_path / "smollm2.gguf"))
    model = model_register(slug="smollm2-135m", name="SmolLM2", path=copy)
    copy.unlink()

    with pytest.raises(ModelFileError, match="No model file"):
        model_refresh_metadata(model=model)

    model.refresh_from_db()
    assert model.available is False


@pytest.mark.django_db
def test_model_refresh_metadata_picks_up_a_replaced_file(tmp_path, smollm2_file, qwen3_tiny_path):
    path = Path(shutil.copy(smollm2_file, tmp_path / "model.gguf"))
    model = model_register(slug="swapped", name="Swapped", path=path)
    shutil.copy(qwen3_tiny_path, path)

    model_refresh_metadata(model=model)

    model.refresh_from_db()
    assert (model.architecture, model.n_vocab, model.sha256) == ("qwen3", 151_936, sha256_file(qwen3_tiny_path))


@pytest.mark.django_db
def test_default_model_prefers_qwen3_then_smollm2_then_any(smollm2_file, qwen3_tiny_path):
    assert default_model() is None

    other = model_register(slug="another", name="A model", path=qwen3_tiny_path)
    assert default_model() == other

    smollm2 = model_register(slug="smollm2-135m", name="SmolLM2", path=smollm2_file)
    assert default_model() == smollm2

    qwen = model_register(slug="qwen3-0.6b", name="Qwen3 0.6B", path=qwen3_tiny_path)
    assert default_model() == qwen

    SandboxModel.objects.filter(pk=qwen.pk).update(available=False)
    assert default_model() == smollm2
