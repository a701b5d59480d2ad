from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.db import transaction

from cohort.models import Invitation
from cohort.tasks import ping, send_invitations
from tests.factories import CohortFactory
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_worker_runs_task_published_by_web_side(celery_worker_process):
    token = uuid.uuid4().hex

    ping.delay(token=token)

    assert wait_for(lambda: cache.get(f"ping:{token}"), message="the ping task") == "pong"


def test_worker_reads_and_writes_the_same_database(celery_worker_process):
    cohort = CohortFactory()
    invitation = Invitation.objects.create(cohort=cohort, email="new@example.com")

    send_invitations.delay(invitation_ids=[invitation.pk])

    wait_for(
        lambda: Invitation.objects.filter(pk=invitation.pk, emailed_at__isnull=False).exists(),
        message="the worker to mark the invitation emailed",
    )


def test_task_published_in_rolled_back_transaction_never_runs(celery_worker_process):
    token = uuid.uuid4().hex
    marker = uuid.uuid4().hex

    with pytest.raises(RuntimeError), transaction.atomic():
        ping.delay_on_commit(token=token)
        raise RuntimeError("roll back")
    ping.delay(token=marker)  # queued after: once it has run, the first would have too

    wait_for(lambda: cache.get(f"ping:{marker}"), message="the marker task")
    assert cache.get(f"ping:{token}") is None
