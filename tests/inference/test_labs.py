from __future__ import annotations

import numpy as np
import pytest

from inference.labs import lab_execute, stored_logits, temperature_distribution
from inference.models import LabJob, RunStatus, SandboxRun
from inference.services import run_execute
from tests.helpers import post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(world, smollm2):
    return world.client_for(world.alice)


def test_sweep_distributions_equal_softmax_of_the_stored_logits(alice):
    body = {
        "model": "smollm2-135m",
        "prompt": "My favourite colour is",
        "temperatures": [0, 0.5, 1.0, 1.5],
        "seeds": 3,
        "max_tokens": 6,
        "step": 1,
    }
    response = post_json(alice, "/api/sandbox/labs/sweep", body)
    assert response.status_code == 201
    job_id = response.json()["id"]

    assert lab_execute(job_id=job_id) == RunStatus.DONE

    job = LabJob.objects.get(pk=job_id)
    logits = stored_logits(job)
    assert len(logits) == 49152
    for entry in job.result["distributions"]:
        t = entry["temperature"]
        expected = (
            np.exp(logits / t - np.max(logits / t)) / np.exp(logits / t - np.max(logits / t)).sum() if t > 0 else None
        )
        for choice in entry["top"]:
            want = expected[choice["id"]] if expected is not None else float(choice["id"] == int(np.argmax(logits)))
            assert choice["p"] == pytest.approx(want, rel=1e-6, abs=1e-12)
    rows = {row["temperature"]: row for row in job.result["rows"]}
    assert rows[0.0]["distinct_outputs"] == 1 and rows[0.0]["mean_entropy_bits"] == 0.0
    assert rows[1.5]["mean_entropy_bits"] > rows[0.5]["mean_entropy_bits"] > 0


def test_temperature_distribution_helper_is_the_definition():
    logits = np.array([1.0, 3.0, 2.0])
    assert np.allclose(temperature_distribution(logits, 2.0), np.exp(logits / 2) / np.exp(logits / 2).sum())
    assert temperature_distribution(logits, 0).tolist() == [0.0, 1.0, 0.0]


def test_pipeline_reports_every_stage_and_where_the_token_sat(alice):
    run_id = post_json(
        alice,
        "/api/sandbox/runs",
        {
            "model": "smollm2-135m",
            "prompt": "The sky is",
            "temperature": 0.8,
            "top_k": 30,
            "top_p": 0.9,
            "min_p": 0.05,
            "max_tokens": 5,
            "seed": 3,
        },
    ).json()["id"]
    assert run_execute(run_id=run_id) == RunStatus.DONE
    run = SandboxRun.objects.get(pk=run_id)

    job_id = post_json(alice, "/api/sandbox/labs/pipeline", {"run": run_id, "step": 2}).json()["id"]
    assert lab_execute(job_id=job_id) == RunStatus.DONE

    result = LabJob.objects.get(pk=job_id).result
    stages = {s["name"]: s for s in result["stages"]}
    assert list(stages) == ["penalties", "top_k", "top_p", "min_p", "temperature"]
    assert stages["penalties"]["size"] == 49152 and stages["top_k"]["size"] == 30
    assert stages["top_k"]["removed"] == 49152 - 30
    assert stages["top_p"]["size"] <= 30 and 0.9 <= stages["top_p"]["mass_kept"] <= 1.0
    assert result["chosen"]["id"] == run.tokens[2]["id"]
    final = stages["temperature"]
    assert final["chosen"]["p"] == pytest.approx(run.tokens[2]["p_sampled"], rel=1e-4)
    assert stages["penalties"]["chosen"]["p"] == pytest.approx(run.tokens[2]["p_model"], rel=1e-4)


@pytest.mark.parametrize(
    "payload",
    [
        {"temperatures": [3.0]},
        {"seeds": 20},
        {"max_tokens": 500},
        {"step": 50, "max_tokens": 10},
        {"temperatures": "hot"},
    ],
)
def test_bad_sweeps_are_400(alice, payload):
    response = post_json(alice, "/api/sandbox/labs/sweep", {"model": "smollm2-135m", "prompt": "x", **payload})
    assert response.status_code == 400
    assert not LabJob.objects.exists()


def test_labs_are_private_until_shared_then_open_to_the_cohort_only(alice, world):
    job_id = post_json(
        alice, "/api/sandbox/labs/sweep", {"model": "smollm2-135m", "prompt": "x", "seeds": 1, "max_tokens": 2}
    ).json()["id"]
    bob, outsider = world.client_for(world.bob), world.client_for(world.outsider)
    assert bob.get(f"/api/sandbox/labs/{job_id}").status_code == 404
    assert post_json(bob, f"/api/sandbox/labs/{job_id}/share", {}).status_code == 404

    assert post_json(alice, f"/api/sandbox/labs/{job_id}/share", {}).json()["shared"] is True

    assert bob.get(f"/api/sandbox/labs/{job_id}").status_code == 200
    assert outsider.get(f"/api/sandbox/labs/{job_id}").status_code == 404
    assert post_json(bob, f"/api/sandbox/labs/{job_id}/share", {}).status_code == 404


def test_pipeline_of_another_learners_run_is_404(alice, world):
    run_id = post_json(alice, "/api/sandbox/runs", {"model": "smollm2-135m", "prompt": "x", "max_tokens": 2}).json()[
        "id"
    ]
    assert (
        post_json(world.client_for(world.bob), "/api/sandbox/labs/pipeline", {"run": run_id, "step": 0}).status_code
        == 404
    )


def test_speculative_lab_greedy_matches_plain_and_reports_steps(alice):
    body = {
        "model": "smollm2-135m",
        "draft": "model",
        "draft_model": "smollm2-135m",
        "prompt": "The days of the week are Monday,",
        "temperature": 0,
        "k": 3,
        "max_tokens": 16,
        "seed": 1,
    }
    response = post_json(alice, "/api/sandbox/labs/speculative", body)
    assert response.status_code == 201, response.content

    assert lab_execute(job_id=response.json()["id"]) == RunStatus.DONE

    result = LabJob.objects.get(pk=response.json()["id"]).result
    assert result["same_as_plain"] is True and result["tokens"] == 16
    assert result["acceptance_rate"] > 0.8 and result["target_calls"] < 16
    assert len(result["acceptance_by_position"]) == 3 and result["speed_up"] > 0
    assert all(step["drafted"] for step in result["steps"][:-1])


def test_speculative_lab_prompt_lookup(alice):
    body = {
        "model": "smollm2-135m",
        "draft": "prompt_lookup",
        "prompt": "x y z x y z x y z x y",
        "temperature": 0,
        "k": 4,
        "max_tokens": 12,
    }
    job_id = post_json(alice, "/api/sandbox/labs/speculative", body).json()["id"]

    assert lab_execute(job_id=job_id) == RunStatus.DONE
    assert LabJob.objects.get(pk=job_id).result["same_as_plain"] is True


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"draft": "psychic"}, 400),
        ({"draft": "model"}, 400),
        ({"draft": "model", "draft_model": "nope"}, 400),
        ({"k": 50}, 400),
    ],
)
def test_bad_speculative_requests(alice, payload, status):
    response = post_json(alice, "/api/sandbox/labs/speculative", {"model": "smollm2-135m", "prompt": "x", **payload})
    assert response.status_code == status
