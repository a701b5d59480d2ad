from __future__ import annotations

import pytest
from gguf import GGUFReader

from inference.inspector import inspect_gguf
from tests.inference.model_fixtures import SMOLLM2_PATH

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def smollm2_report():
    return inspect_gguf(SMOLLM2_PATH)


def test_tensor_table_equals_the_files_own(smollm2_report):
    reader = GGUFReader(str(SMOLLM2_PATH))
    expected = {t.name: (list(map(int, t.shape)), t.tensor_type.name, int(t.n_bytes)) for t in reader.tensors}

    ours = {row["name"]: (row["shape"], row["type"], row["bytes"]) for row in smollm2_report["tensors"]}

    assert smollm2_report["tensor_count"] == len(reader.tensors) == 272
    assert ours == expected
    assert smollm2_report["total_tensor_bytes"] == sum(int(t.n_bytes) for t in reader.tensors)


def test_sizes_add_up_to_the_file(smollm2_report):
    header_and_padding = smollm2_report["file_bytes"] - smollm2_report["total_tensor_bytes"]
    assert 0 < header_and_padding < 2_000_000  # the vocabulary and merges live in the header


def test_quantization_facts_and_safetensors_comparison(smollm2_report):
    by_type = {row["type"]: row for row in smollm2_report["by_type"]}
    assert "Q4_1" in by_type and by_type["Q4_1"]["bits_per_weight"] == 5.0  # 4-bit values + scale and min per 32
    assert 4.5 < smollm2_report["bits_per_weight"] < 8
    total = smollm2_report["total_weights"]
    assert 130e6 < total < 140e6
    assert (
        smollm2_report["safetensors_f32_bytes"] == 4 * total and smollm2_report["safetensors_bf16_bytes"] == 2 * total
    )
    assert smollm2_report["tokenizer"]["n_vocab"] == 49152 and smollm2_report["architecture"] == "llama"
    assert smollm2_report["hyperparameters"]["block_count"] == 30


def test_inspect_api_for_members_only(world, smollm2):
    response = world.client_for(world.alice).get("/api/sandbox/models/smollm2-135m/inspect")
    assert response.status_code == 200 and response.json()["tensor_count"] == 272
    assert world.client_for(None).get("/api/sandbox/models/smollm2-135m/inspect").status_code == 401
    assert world.client_for(world.alice).get("/api/sandbox/models/nope/inspect").status_code == 404
