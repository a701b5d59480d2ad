"""Lab pages: the hub, one lab's page (owner, cohort once shared, never outsiders) and the GGUF inspector."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from inference.models import LabJob, LabKind, RunStatus, SandboxRun
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("account_login")
SWEEP_RESULT = {
    "rows": [{"temperature": 0.0, "distinct_outputs": 1, "outputs": ["Blue."], "mean_entropy_bits": 0.0}],
    "step": 0,
    "step_context_tail": "",
    "distributions": [{"temperature": 0.0, "top": [{"id": 1, "text": "Blue", "p": 1.0}]}],
}


def _job(membership, model, *, shared: bool = False, kind: str = LabKind.SWEEP) -> LabJob:
    return LabJob.objects.create(
        membership=membership,
        model=model,
        kind=kind,
        input={"request": {"prompt": "My favourite colour is"}, "temperatures": [0.0], "seeds": 1, "max_tokens": 4},
        status=RunStatus.DONE,
        result=SWEEP_RESULT,
        shared=shared,
    )


def _pages(job_id: int) -> list[str]:
    return [
        reverse("inference:labs"),
        reverse("inference:lab_detail", args=[job_id]),
        reverse("inference:inspector", args=["smollm2-135m"]),
    ]


def test_lab_pages_anonymous_redirect_to_login(world, smollm2):
    job = _job(world.alice_membership, smollm2, shared=True)

    responses = [Client().get(url) for url in _pages(job.pk)]

    for response in responses:
        assert response.status_code == 302
        assert response.url.startswith(f"{LOGIN_URL}?next=")


def test_lab_pages_learner_without_cohort_goes_to_join(world, smollm2):
    job = _job(world.alice_membership, smollm2, shared=True)
    client = world.client_for(UserFactory())

    responses = [client.get(url) for url in _pages(job.pk)]

    assert all(r.status_code == 302 and r.url == reverse("cohort:join") for r in responses)


def test_labs_index_learner_sees_the_labs_their_jobs_and_runs(world, smollm2):
    own = _job(world.alice_membership, smollm2)
    other = _job(world.bob_membership, smollm2, shared=True)
    run = SandboxRun.objects.create(
        membership=world.alice_membership,
        model=smollm2,
        request={"prompt": "The sky is"},
        params={"temperature": 0.7},
        seed=1,
        status=RunStatus.DONE,
    )

    response = world.client_for(world.alice).get(reverse("inference:labs"))

    assert response.status_code == 200
    page = response.content.decode()
    for title in ("Sampler pipeline", "Temperature sweep", "Speculative decoding", "Quantization", "GGUF inspector"):
        assert title in page
    assert reverse("inference:lab_detail", args=[own.pk]) in page
    assert reverse("inference:lab_detail", args=[other.pk]) not in page
    assert f'<option value="{run.pk}">#{run.pk} · smollm2-135m' in page
    assert reverse("inference:inspector", args=["smollm2-135m"]) in page


@pytest.mark.parametrize("jobs", [1, 8])
def test_labs_index_query_count_constant(world, smollm2, jobs, django_assert_num_queries):
    for _ in range(jobs):
        _job(world.alice_membership, smollm2)
    client = world.client_for(world.alice)

    # session, user, membership, models, runs, lab jobs (with their models)
    with django_assert_num_queries(6):
        response = client.get(reverse("inference:labs"))

    assert response.status_code == 200
    assert len(response.context["jobs"]) == jobs


def test_lab_detail_owner_sees_their_lab(world, smollm2):
    job = _job(world.alice_membership, smollm2)

    response = world.client_for(world.alice).get(reverse("inference:lab_detail", args=[job.pk]))

    assert response.status_code == 200
    assert response.context["is_owner"] is True
    assert response.context["lab"]["result"] == SWEEP_RESULT
    assert response.context["share_url"] == f"http://testserver/sandbox/labs/{job.pk}/"
    assert b'id="lab-job"' in response.content


@pytest.mark.parametrize("viewer", ["bob", "lead"])
def test_lab_detail_cohort_member_404_until_shared_then_200(world, smollm2, viewer):
    job = _job(world.alice_membership, smollm2)
    client = world.client_for(getattr(world, viewer))
    url = reverse("inference:lab_detail", args=[job.pk])

    before = client.get(url)
    job.shared = True
    job.save(update_fields=["shared"])
    after = client.get(url)

    assert before.status_code == 404
    assert after.status_code == 200
    assert after.context["is_owner"] is False


def test_lab_detail_outsider_404_even_when_shared(world, smollm2):
    job = _job(world.alice_membership, smollm2, shared=True)

    response = world.client_for(world.outsider).get(reverse("inference:lab_detail", args=[job.pk]))

    assert response.status_code == 404


def test_lab_detail_unknown_lab_404(world):
    response = world.client_for(world.alice).get(reverse("inference:lab_detail", args=[999]))

    assert response.status_code == 404


def test_inspector_page_shows_the_tensor_table(world, smollm2):
    response = world.client_for(world.alice).get(reverse("inference:inspector", args=["smollm2-135m"]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "272 tensors" in page
    assert page.count('<tr><th scope="row"><code>') == 272 + len(response.context["report"]["metadata"])
    assert "<code>token_embd.weight</code>" in page
    assert "GGUF vs SafeTensors" in page
    assert "&lt;|im_start|&gt;" in page  # the chat template, escaped inside <pre>
    assert [row["label"] for row in response.context["sizes"]] == ["GGUF file", "SafeTensors BF16", "SafeTensors F32"]


def test_inspector_unknown_or_unavailable_model_404(world, smollm2):
    smollm2.available = False
    smollm2.save(update_fields=["available"])
    client = world.client_for(world.alice)

    assert client.get(reverse("inference:inspector", args=["smollm2-135m"])).status_code == 404
    assert client.get(reverse("inference:inspector", args=["nope"])).status_code == 404
