from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.urls import reverse

from inference.models import SandboxRun
from inference.registry import model_register
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_model_changelist_lists_models(admin_client_, smollm2_file, django_assert_max_num_queries):
    model_register(slug="smollm2-135m", name="SmolLM2", path=smollm2_file)

    with django_assert_max_num_queries(8):
        response = admin_client_.get(reverse("admin:inference_sandboxmodel_changelist"))

    assert response.status_code == 200
    assert b"smollm2-135m" in response.content


def test_reread_metadata_action_marks_missing_file_unavailable(admin_client_, tmp_path, smollm2_file):
    path = Path(shutil.copy(smollm2_file, tmp_path / "m.gguf"))
    model = model_register(slug="gone", name="Gone", path=path)
    path.unlink()

    response = admin_client_.post(
        reverse("admin:inference_sandboxmodel_changelist"),
        {"action": "reread_metadata", "_selected_action": [model.pk]},
        follow=True,
    )

    assert "No model file at" in response.content.decode()
    model.refresh_from_db()
    assert model.available is False


def test_run_changelist_and_detail_are_read_only(admin_client_, world, smollm2_file):
    model = model_register(slug="smollm2-135m", name="SmolLM2", path=smollm2_file)
    run = SandboxRun.objects.create(membership=world.alice_membership, model=model, request={}, params={}, seed=1)

    alice = admin_client_.get(reverse("admin:inference_sandboxrun_changelist"), {"q": "alice@"})
    bob = admin_client_.get(reverse("admin:inference_sandboxrun_changelist"), {"q": "bob@"})
    detail = admin_client_.get(reverse("admin:inference_sandboxrun_change", args=[run.pk]))

    assert [r.pk for r in alice.context["cl"].result_list] == [run.pk]
    assert list(bob.context["cl"].result_list) == []
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
