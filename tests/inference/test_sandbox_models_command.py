from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from inference import provision
from inference.models import SandboxModel
from inference.registry import model_register

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("sandbox_models", *args, stdout=out)
    return out.getvalue()


def test_list_without_models_says_how_to_provision():
    assert "provision-offline" in run("list")


def test_list_shows_a_table_with_the_default_marked(smollm2_file, qwen3_tiny_path):
    model_register(slug="smollm2-135m", name="SmolLM2 135M Instruct", path=smollm2_file)
    model_register(slug="qwen3-tiny", name="Qwen3 tiny", path=qwen3_tiny_path)

    lines = run("list").splitlines()

    assert lines[0].split() == ["slug", "name", "arch", "vocab", "ctx", "quant", "size", "available"]
    qwen, smollm2 = lines[1], lines[2]
    assert qwen.split()[:7] == ["qwen3-tiny", "Qwen3", "tiny", "qwen3", "151,936", "4,096", "Q8_0"]
    assert qwen.endswith("yes") and not qwen.startswith("*")
    assert smollm2.startswith("*")
    assert smollm2.split()[1:9] == ["smollm2-135m", "SmolLM2", "135M", "Instruct", "llama", "49,152", "8,192", "Q4_1"]


def test_add_registers_a_file(tmp_path, smollm2_file):
    path = Path(shutil.copy(smollm2_file, tmp_path / "My-Model.Q4_1.gguf"))

    output = run("add", str(path), "--name", "Mine", "--sha256", provision.SMOLLM2_SHA256)

    model = SandboxModel.objects.get()
    assert (model.slug, model.name, model.path) == ("my-modelq4_1", "Mine", str(path))
    size_mb = path.stat().st_size / 1_000_000
    assert f"Registered my-modelq4_1: Mine (llama, Q4_1, {size_mb:.1f} MB) at {path}" in output


def test_add_with_slug_and_name_from_the_file(qwen3_tiny_path):
    run("add", str(qwen3_tiny_path), "--slug", "qwen3-0.6b")

    assert SandboxModel.objects.get().name == "Qwen3 tiny (random weights)"


def test_add_wrong_checksum_is_a_command_error(smollm2_file):
    with pytest.raises(CommandError, match="damaged or not the one meant"):
        run("add", str(smollm2_file), "--sha256", "f" * 64)

    assert not SandboxModel.objects.exists()


def test_add_not_a_gguf_is_a_command_error(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_text("hello")

    with pytest.raises(CommandError, match="is not a GGUF model file"):
        run("add", str(path))


def test_provision_offline_reports_the_models(models_dir, qwen3_tiny_path, smollm2_q8_path):
    models_dir.mkdir(parents=True)
    shutil.copy(qwen3_tiny_path, models_dir / provision.QWEN3_TINY_FILE)
    shutil.copy(smollm2_q8_path, models_dir / provision.SMOLLM2_BATCH_FILE)

    output = run("provision-offline")

    assert "Registered smollm2-135m: SmolLM2 135M Instruct (llama, Q4_1," in output
    assert "Registered qwen3-tiny: Qwen3 tiny (random weights, real tokenizer) (qwen3, Q8_0," in output
    assert "Registered smollm2-135m-q8: SmolLM2 135M Instruct (Q8_0, faster for a whole room) (llama, Q8_0," in output
    assert SandboxModel.objects.count() == 3


def test_pull_unknown_model_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        run("pull", "llama-70b")
