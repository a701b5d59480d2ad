from __future__ import annotations

import datetime as dt

import factory
from allauth.account.models import EmailAddress

from cohort.models import Cohort, Membership, RoadmapStep, Role, User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    github_username = factory.Sequence(lambda n: f"gh-user-{n}")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort

    name = factory.Sequence(lambda n: f"Cohort {n}")
    slug = factory.Sequence(lambda n: f"cohort-{n}")
    starts_on = dt.date(2026, 3, 2)
    ends_on = dt.date(2026, 6, 26)
    practice_repository = "first-break-ai/practice"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    cohort = factory.SubFactory(CohortFactory)
    role = Role.LEARNER


class StepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoadmapStep

    cohort = factory.SubFactory(CohortFactory)
    position = factory.Sequence(lambda n: n + 1)
    code = factory.LazyAttribute(lambda o: f"Step {o.position}")
    slug = factory.LazyAttribute(lambda o: f"step-{o.position}")
    title = factory.Sequence(lambda n: f"Step title {n}")
    summary = "A summary"
    body = "Some **markdown**."
