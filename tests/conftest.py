"""Shared fixtures: a cohort with a lead, two learners (alice, bob) and an outsider."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.test import Client

from cohort.models import Cohort, Membership, RoadmapStep, Role, User
from tests.factories import CohortFactory, MembershipFactory, StepFactory, UserFactory

pytest_plugins = ["tests.worker", "tests.inference.model_fixtures", "tests.browser"]

IN_CI = os.environ.get("CI", "").lower() == "true"


def skip_or_fail_in_ci(reason: str) -> None:
    """Skip a test whose tool is missing on a developer's machine; in CI a missing tool is a failure."""
    if IN_CI:
        pytest.fail(f"CI must run every test: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for attackers, not for the test suite.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate limits and heartbeats live in the cache; each test starts clean.
    cache.clear()
    yield


@dataclass
class World:
    cohort: Cohort
    steps: list[RoadmapStep]
    lead: User
    alice: User
    bob: User
    outsider: User
    alice_membership: Membership
    bob_membership: Membership

    def client_for(self, user: User | None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client


@pytest.fixture
def world(db) -> World:
    cohort = CohortFactory(slug="cohort-a", name="Cohort A")
    steps = [StepFactory(cohort=cohort, position=i, code=f"Step {i}", slug=f"step-{i}") for i in (1, 2, 3)]
    lead = MembershipFactory(cohort=cohort, role=Role.LEAD).user
    alice_m = MembershipFactory(cohort=cohort, user=UserFactory(email="alice@example.com", name="Alice"))
    bob_m = MembershipFactory(cohort=cohort, user=UserFactory(email="bob@example.com", name="Bob"))
    other_cohort = CohortFactory(slug="cohort-b")
    outsider = MembershipFactory(cohort=other_cohort).user
    return World(cohort, steps, lead, alice_m.user, bob_m.user, outsider, alice_m, bob_m)
