from __future__ import annotations

import pytest

from inference.models import RunStatus, SandboxRun
from inference.services import run_execute
from tests.helpers import post_json

pytestmark = pytest.mark.django_db

PARAMS = {
    "prompt": "The weather today is",
    "temperature": 0.9,
    "top_k": 40,
    "top_p": 0.95,
    "max_tokens": 12,
    "seed": 21,
    "top_n": 5,
}


@pytest.fixture
def finished_run(world, smollm2):
    client = world.client_for(world.alice)
    run_id = post_json(client, "/api/sandbox/runs", {"model": "smollm2-135m", **PARAMS}).json()["id"]
    assert run_execute(run_id=run_id) == RunStatus.DONE
    return SandboxRun.objects.get(pk=run_id)


def test_branch_equals_a_fresh_run_forced_through_the_same_tokens(world, finished_run):
    client = world.client_for(world.alice)
    step = 3
    alternative = next(
        c["id"] for c in finished_run.tokens[step]["top_model"] if c["id"] != finished_run.tokens[step]["id"]
    )

    response = post_json(client, f"/api/sandbox/runs/{finished_run.pk}/branch", {"step": step, "token_id": alternative})
    assert response.status_code == 201
    branch_id = response.json()["id"]
    assert run_execute(run_id=branch_id) == RunStatus.DONE
    branch = SandboxRun.objects.get(pk=branch_id)

    forced = [t["id"] for t in finished_run.tokens[:step]] + [alternative]
    fresh = SandboxRun.objects.create(
        membership=finished_run.membership, model=finished_run.model, request={**finished_run.request, "forced_tokens": forced},
        params=finished_run.params, seed=finished_run.seed,
    )  # fmt: skip
    assert run_execute(run_id=fresh.pk) == RunStatus.DONE
    fresh.refresh_from_db()

    assert [t["id"] for t in branch.tokens] == [t["id"] for t in fresh.tokens]
    assert [t["id"] for t in branch.tokens[:step]] == [t["id"] for t in finished_run.tokens[:step]]
    assert branch.tokens[step]["id"] == alternative
    assert branch.tokens[step]["p_model"] == pytest.approx(
        next(c["p"] for c in finished_run.tokens[step]["top_model"] if c["id"] == alternative), rel=1e-4
    )
    assert (branch.parent_id, branch.branch_step, branch.seed, branch.params) == (
        finished_run.pk,
        step,
        finished_run.seed,
        finished_run.params,
    )


def test_tree_shows_branches_nested(world, finished_run):
    client = world.client_for(world.alice)
    first = post_json(
        client,
        f"/api/sandbox/runs/{finished_run.pk}/branch",
        {"step": 1, "token_id": finished_run.tokens[1]["top_model"][1]["id"]},
    ).json()["id"]
    run_execute(run_id=first)
    nested = post_json(client, f"/api/sandbox/runs/{first}/branch", {"step": 4, "token_id": 13}).json()["id"]

    tree = client.get(f"/api/sandbox/runs/{nested}/tree").json()

    assert tree["id"] == finished_run.pk
    assert [b["id"] for b in tree["branches"]] == [first]
    assert tree["branches"][0]["branches"][0]["id"] == nested and tree["branches"][0]["branch_step"] == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"step": 99, "token_id": 1}, "step must be"),
        ({"step": 0, "token_id": 10**9}, "token_id must be"),
        ({"step": "1", "token_id": 1}, "Invalid"),
    ],
)
def test_bad_branch_requests_are_400(world, finished_run, payload, message):
    response = post_json(world.client_for(world.alice), f"/api/sandbox/runs/{finished_run.pk}/branch", payload)
    assert response.status_code == 400 and message in response.json()["error"]


def test_unfinished_run_cannot_be_branched(world, smollm2):
    client = world.client_for(world.alice)
    run_id = post_json(client, "/api/sandbox/runs", {"model": "smollm2-135m", **PARAMS}).json()["id"]
    assert post_json(client, f"/api/sandbox/runs/{run_id}/branch", {"step": 0, "token_id": 1}).status_code == 400


def test_another_learners_run_cannot_be_branched_or_seen(world, finished_run):
    bob = world.client_for(world.bob)
    assert post_json(bob, f"/api/sandbox/runs/{finished_run.pk}/branch", {"step": 0, "token_id": 1}).status_code == 404
    assert bob.get(f"/api/sandbox/runs/{finished_run.pk}/tree").status_code == 404
