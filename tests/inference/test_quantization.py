from __future__ import annotations

import json

import pytest

from inference.engine import Engine, load_model
from inference.labs import lab_execute
from inference.models import LabJob, LabKind, ModelVariant, RunStatus
from inference.quantization import quantize_variant
from inference.sampling import SamplerParams

pytestmark = pytest.mark.django_db


def _lab(membership, model, types=("Q4_0",)) -> LabJob:
    return LabJob.objects.create(
        membership=membership, model=model, kind=LabKind.QUANTIZATION, input={"types": list(types)}
    )


def test_quantized_variants_load_and_generate(world, smollm2):
    lab = _lab(world.alice_membership, smollm2, ("Q8_0", "Q4_0"))
    for qtype in ("Q8_0", "Q4_0"):
        variant = quantize_variant(lab=lab, model=smollm2, qtype=qtype)
        assert variant.quantization == qtype and variant.n_vocab == smollm2.n_vocab
        engine = Engine(load_model(variant.path, n_ctx=512)[0])
        out = engine.generate(
            engine.tokenize("Hello", special=False),
            params=SamplerParams(temperature=0),
            seed=0,
            max_tokens=4,
            top_n_count=1,
        )
        assert len(out.tokens) >= 1


def test_variant_is_reused_not_rebuilt_within_its_lab(world, smollm2):
    lab = _lab(world.alice_membership, smollm2)
    first = quantize_variant(lab=lab, model=smollm2, qtype="Q4_0")
    second = quantize_variant(lab=lab, model=smollm2, qtype="Q4_0")
    assert first.path == second.path and ModelVariant.objects.filter(lab=lab).count() == 1


def test_quantization_lab_table(world, smollm2):
    client = world.client_for(world.alice)
    response = client.post(
        "/api/sandbox/labs/quantization",
        data=json.dumps({"model": "smollm2-135m", "types": ["F16", "Q4_0"]}),
        content_type="application/json",
    )
    assert response.status_code == 201

    assert lab_execute(job_id=response.json()["id"]) == RunStatus.DONE

    rows = {r["quantization"]: r for r in LabJob.objects.get(pk=response.json()["id"]).result["rows"]}
    assert set(rows) == {"F16", "Q4_1", "Q4_0"}
    assert rows["F16"]["reference"] and rows["F16"]["mean_kl"] == 0.0
    assert rows["F16"]["size_bytes"] > rows["Q4_1"]["size_bytes"] > rows["Q4_0"]["size_bytes"]
    assert rows["Q4_0"]["mean_kl"] > 0 and 0 <= rows["Q4_0"]["top1_agreement"] <= 1
    assert all(r["tokens_per_second"] > 0 for r in rows.values())
    # Where each variant came from: the installed Q4_1 file, requantized.
    assert {q: r["origin"] for q, r in rows.items()} == {
        "F16": "requantized",
        "Q4_1": "installed",
        "Q4_0": "requantized",
    }
    assert LabJob.objects.get(pk=response.json()["id"]).result["source"] == {
        "slug": "smollm2-135m",
        "quantization": "Q4_1",
    }


def test_unknown_type_is_400(world, smollm2):
    client = world.client_for(world.alice)
    response = client.post(
        "/api/sandbox/labs/quantization",
        data=json.dumps({"model": "smollm2-135m", "types": ["Q1_MAGIC"]}),
        content_type="application/json",
    )
    assert response.status_code == 400
