"""Quantization-lab variants are owned by their lab, counted against quotas, cleaned up, and never
join the registry's public model list (issue 10, item 2)."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from inference.labs import lab_execute
from inference.models import LabJob, LabKind, ModelVariant, RunStatus, SandboxModel
from inference.quantization import estimated_variant_bytes, variants_dir, variants_sweep

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def _quantize(client, model="smollm2-135m", types=("Q4_0",)):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/sandbox/labs/quantization",
        data=json.dumps({"model": model, "types": list(types)}),
        content_type="application/json",
    )


@pytest.fixture
def alice_lab(world, smollm2) -> LabJob:
    response = _quantize(world.client_for(world.alice))
    assert response.status_code == 201
    assert lab_execute(job_id=response.json()["id"]) == RunStatus.DONE
    return LabJob.objects.get(pk=response.json()["id"])


def test_a_variant_belongs_to_its_lab_and_stays_out_of_every_model_list(world, alice_lab):
    (variant,) = ModelVariant.objects.filter(lab=alice_lab)
    assert Path(variant.path).is_file() and Path(variant.path).parent == variants_dir() / f"lab-{alice_lab.pk}"
    assert variant.size_bytes == Path(variant.path).stat().st_size
    assert list(SandboxModel.objects.values_list("slug", flat=True)) == ["smollm2-135m"]
    for user in (world.alice, world.bob, world.lead, world.outsider):
        client = world.client_for(user)
        slugs = [m["slug"] for m in client.get("/api/sandbox/models").json()["models"]]
        assert slugs == ["smollm2-135m"]
    page = world.client_for(world.bob).get("/sandbox/")
    assert page.status_code == 200 and b"q4-0" not in page.content.lower()


def test_a_variant_cannot_be_quantized_again_or_run(world, alice_lab):
    client = world.client_for(world.alice)
    response = _quantize(client, model="smollm2-135m-q4-0", types=["Q8_0"])
    assert response.status_code == 400 and "model" in response.json()["fields"]
    run = client.post(
        "/api/sandbox/runs",
        data=json.dumps({"model": "smollm2-135m-q4-0", "prompt": "x"}),
        content_type="application/json",
    )
    assert run.status_code == 400


@pytest.mark.parametrize(
    ("who", "status_before", "status_shared"),
    [("alice", 200, 200), ("bob", 404, 200), ("lead", 404, 200), ("outsider", 404, 404), (None, 401, 401)],
)
def test_the_variant_table_is_seen_where_the_lab_is_shared(world, alice_lab, who, status_before, status_shared):
    client = world.client_for(getattr(world, who) if who else None)
    url = f"/api/sandbox/labs/{alice_lab.pk}"
    response = client.get(url)
    assert response.status_code == status_before
    if status_before == 200:
        assert {r["quantization"] for r in response.json()["result"]["rows"]} == {"Q4_1", "Q4_0"}
    world.client_for(world.alice).post(f"{url}/share")
    assert client.get(url).status_code == status_shared


def test_the_learner_quota_refuses_with_a_clear_message(world, smollm2, settings):
    settings.SANDBOX_VARIANT_QUOTA_MB = 50  # one Q4_0 of SmolLM2 is ~80 MB
    response = _quantize(world.client_for(world.alice))
    assert response.status_code == 400
    assert "each learner may use 50 MB" in response.json()["error"]
    assert not LabJob.objects.exists()


def test_queued_labs_count_against_the_quota(world, smollm2, settings):
    settings.SANDBOX_VARIANT_QUOTA_MB = int(estimated_variant_bytes(smollm2, "Q4_0") * 1.5 / MB)
    client = world.client_for(world.alice)
    assert _quantize(client).status_code == 201  # queued, not made yet
    second = _quantize(client)
    assert second.status_code == 400 and "each learner may use" in second.json()["error"]
    # Another learner has a quota of their own.
    assert _quantize(world.client_for(world.bob)).status_code == 201


def test_the_site_quota_refuses_when_the_disk_for_variants_is_full(world, alice_lab, settings):
    settings.SANDBOX_VARIANTS_TOTAL_QUOTA_MB = 100  # alice's ~80 MB variant is there
    response = _quantize(world.client_for(world.bob))
    assert response.status_code == 400 and "disk for quantized variants is full" in response.json()["error"]


def test_a_lab_past_the_quota_when_it_runs_fails_with_the_message_and_writes_nothing(world, smollm2, settings):
    job_id = _quantize(world.client_for(world.alice)).json()["id"]
    settings.SANDBOX_VARIANT_QUOTA_MB = 10

    assert lab_execute(job_id=job_id) == RunStatus.FAILED

    job = LabJob.objects.get(pk=job_id)
    assert job.error.startswith("Your quantized variants would take") and "QuantizationError" not in job.error
    assert not ModelVariant.objects.exists()
    assert not any(variants_dir().glob("lab-*/*"))


def test_the_same_type_twice_is_made_once(world, smollm2):
    job_id = _quantize(world.client_for(world.alice), types=["Q4_0", "Q4_0"]).json()["id"]
    assert LabJob.objects.get(pk=job_id).input["types"] == ["Q4_0"]


def test_sweep_deletes_variants_past_retention_and_keeps_the_lab_result(world, alice_lab, settings):
    (variant,) = ModelVariant.objects.filter(lab=alice_lab)
    assert variants_sweep() == 0  # fresh: kept
    later = timezone.now() + timedelta(days=settings.SANDBOX_VARIANT_RETENTION_DAYS, minutes=1)

    assert variants_sweep(now=later) == 1

    assert not Path(variant.path).exists() and not ModelVariant.objects.exists()
    assert LabJob.objects.get(pk=alice_lab.pk).result["rows"]  # the table stays as the record
    assert variants_sweep(now=later) == 0  # safe to run twice


def test_sweep_deletes_files_of_deleted_labs_but_not_a_quantization_in_progress(world, alice_lab, smollm2):
    (variant,) = ModelVariant.objects.filter(lab=alice_lab)
    in_progress = variants_dir() / "lab-999" / "smollm2-135m-q8-0.gguf.partial"
    in_progress.parent.mkdir(parents=True)
    in_progress.write_bytes(b"GGUF")
    alice_lab.delete()  # e.g. from the admin: rows go, the file stays behind
    old = time.time() - 3600
    os.utime(variant.path, (old, old))

    assert variants_sweep() == 1

    assert not Path(variant.path).exists() and not (variants_dir() / f"lab-{alice_lab.pk}").exists()
    assert in_progress.exists()


def test_the_beat_runs_the_variant_sweep():
    from config.celery import app
    from inference.tasks import sweep_lab_variants

    app.loader.import_default_modules()
    assert app.conf.beat_schedule["sweep-lab-variants"]["task"] == sweep_lab_variants.name
    assert sweep_lab_variants.run() == 0


def test_estimates_scale_with_bits(smollm2):
    assert estimated_variant_bytes(smollm2, "F16") > estimated_variant_bytes(smollm2, "Q8_0")
    assert estimated_variant_bytes(smollm2, "Q4_0") < smollm2.size_bytes


def test_a_lab_of_another_kind_is_not_counted(world, smollm2, settings):
    LabJob.objects.create(membership=world.alice_membership, model=smollm2, kind=LabKind.SWEEP, input={})
    settings.SANDBOX_VARIANT_QUOTA_MB = 100
    assert _quantize(world.client_for(world.alice)).status_code == 201


def test_migration_retires_variants_the_old_lab_registered(world, smollm2, settings, tmp_path):
    import importlib

    from django.apps import apps

    retire = importlib.import_module("inference.migrations.0008_retire_legacy_lab_variants").retire
    folder = Path(settings.SANDBOX_MODELS_DIR)
    folder.mkdir(parents=True, exist_ok=True)

    def legacy(slug: str, path: Path) -> SandboxModel:
        path.write_bytes(b"GGUF")
        return SandboxModel.objects.create(slug=slug, name=slug, path=str(path))

    unused = legacy("smollm2-135m-q4-0", folder / "smollm2-135m-q4-0.gguf")
    used = legacy("smollm2-135m-f16", folder / "smollm2-135m-f16.gguf")
    LabJob.objects.create(membership=world.alice_membership, model=used, kind=LabKind.SWEEP, input={})
    added_by_a_lead = legacy("smollm2-135m-q8-0", tmp_path / "downloaded.gguf")

    retire(apps, None)

    assert not SandboxModel.objects.filter(pk=unused.pk).exists() and not Path(unused.path).exists()
    used.refresh_from_db()
    assert not used.available and Path(used.path).exists()
    added_by_a_lead.refresh_from_db()
    assert added_by_a_lead.available


def test_admin_lists_variants_with_their_learner_and_size(world, alice_lab, client, django_assert_max_num_queries):
    from django.urls import reverse

    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("admin:inference_modelvariant_changelist"))
    assert response.status_code == 200
    assert b"alice@example.com" in response.content and b"MB" in response.content
    learner = world.client_for(world.alice)
    assert learner.get(reverse("admin:inference_modelvariant_changelist")).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_two_labs_at_once_cannot_both_pass_the_quota(world, smollm2, settings):
    import threading

    from django.db import connection, connections

    from inference.labs import LabError, lab_quantization_create

    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serializes writers with IMMEDIATE transactions")
    settings.SANDBOX_VARIANT_QUOTA_MB = int(estimated_variant_bytes(smollm2, "Q4_0") * 1.5 / MB)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def create() -> None:
        start.wait()
        try:
            lab_quantization_create(membership=world.alice_membership, model=smollm2, types=["Q4_0"])
            outcomes.append("created")
        except LabError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created", "refused"]
    assert LabJob.objects.filter(kind=LabKind.QUANTIZATION).count() == 1
