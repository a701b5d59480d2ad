"""A live experiment end to end: six learners run it through the API, a real worker and the real model."""

from __future__ import annotations

import json

import pytest

from inference.models import RunStatus, SandboxRun
from tests.factories import MembershipFactory, UserFactory
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_six_learners_two_arms_with_a_real_worker(celery_worker_process, world, smollm2):
    lead = world.client_for(world.lead)
    body = {"cohort": "cohort-a", "title": "Colours", "model": "smollm2-135m", "max_tokens": 6,
            "messages": [{"role": "user", "content": "Name one colour."}], "temperatures": [0, 1.0],
            "top_k": 0, "top_p": 1.0, "min_p": 0.0}  # fmt: skip
    created = lead.post("/api/sandbox/experiments", data=json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    url = f"/api/sandbox/experiments/{created.json()['id']}"
    learners = [MembershipFactory(cohort=world.cohort, user=UserFactory(email=f"r{i}@example.com")) for i in range(6)]
    for membership in learners:
        response = world.client_for(membership.user).post(f"{url}/runs", data="{}", content_type="application/json")
        assert response.status_code == 201, response.content

    results = wait_for(
        lambda: (data := lead.get(url).json()) and sum(a["runs_done"] + a["runs_failed"] for a in data["arms"]) == 6
        and data,
        timeout=180, interval=0.5, message="six runs to be counted",
    )  # fmt: skip
    greedy, sampled = results["arms"]
    assert greedy["runs_done"] == sampled["runs_done"] == 3, results
    # The greedy arm: one output, three times; the model put all of its first step on one token.
    assert greedy["distinct_outputs"] == 1 and greedy["outputs"][0]["count"] == 3
    assert [t["p_predicted"] for t in greedy["first_token"]] == [1.0]

    runs = list(SandboxRun.objects.filter(status=RunStatus.DONE, params__temperature=1.0))
    assert len(runs) == 3
    stored = {c["id"]: c["p"] for c in runs[0].tokens[0]["top_sampled"]}
    # Every run read the same prompt with the same sampler: the same first-step distribution.
    assert all({c["id"]: c["p"] for c in run.tokens[0]["top_sampled"]} == stored for run in runs)
    for run in runs:  # a first token outside the top list keeps its own exact probability
        stored.setdefault(run.tokens[0]["id"], run.tokens[0]["p_sampled"])
    assert {t["id"]: t["p_predicted"] for t in sampled["first_token"]} == stored
    counts = {t["id"]: t["count"] for t in sampled["first_token"] if t["count"]}
    expected: dict[int, int] = {}
    for run in runs:
        expected[run.tokens[0]["id"]] = expected.get(run.tokens[0]["id"], 0) + 1
    assert counts == expected
    assert sum(o["count"] for o in sampled["outputs"]) == 3
