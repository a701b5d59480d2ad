"""factory_boy factories for every model the tests create: one place, imported by every test module."""

from __future__ import annotations

import datetime as dt

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from cohort.models import (
    CheckIn,
    CheckInStatus,
    Cohort,
    HelpRequest,
    Invitation,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    Role,
    SessionAnnouncement,
    SessionAttendance,
    SessionQuestion,
    SessionRSVP,
    SessionTopic,
    StepProgress,
    StepResource,
    User,
)
from exercises.models import (
    CheckResult,
    Exercise,
    ExerciseCompletion,
    PullRequestComment,
    Review,
    Submission,
    TimelineEvent,
    WebhookDelivery,
)
from inference.models import (
    Experiment,
    ExperimentRun,
    LabJob,
    LabKind,
    ModelVariant,
    RunTokenChunk,
    SandboxModel,
    SandboxRun,
)

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


class StepResourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StepResource

    step = factory.SubFactory(StepFactory)
    title = factory.Sequence(lambda n: f"Resource {n}")
    url = factory.Sequence(lambda n: f"https://example.com/resource-{n}")


class StepProgressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StepProgress

    membership = factory.SubFactory(MembershipFactory)
    step = factory.SubFactory(StepFactory, cohort=factory.SelfAttribute("..membership.cohort"))


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    cohort = factory.SubFactory(CohortFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")


# --- Office hours -----------------------------------------------------------------------


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OfficeHoursSession

    cohort = factory.SubFactory(CohortFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Office hours {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=2))
    duration_minutes = 60

    @factory.post_generation
    def leads(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.leads.set(extracted)


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionTopic

    session = factory.SubFactory(SessionFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Topic {n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionQuestion

    session = factory.SubFactory(SessionFactory)
    author = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..session.cohort"))
    body = factory.Sequence(lambda n: f"Question number {n}?")


class QuestionVoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QuestionVote

    question = factory.SubFactory(QuestionFactory)
    voter = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..question.session.cohort"))


class RsvpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionRSVP

    session = factory.SubFactory(SessionFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..session.cohort"))


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionAttendance

    session = factory.SubFactory(SessionFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..session.cohort"))


class HelpRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HelpRequest

    session = factory.SubFactory(SessionFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..session.cohort"))
    description = factory.Sequence(lambda n: f"My build fails ({n})")


class AnnouncementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionAnnouncement

    session = factory.SubFactory(SessionFactory)
    body = factory.Sequence(lambda n: f"Announcement {n}")


# --- Check-ins (status posts; attendance at a session is SessionAttendance) ----------------


class CheckInFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckIn

    membership = factory.SubFactory(MembershipFactory)
    step = factory.SubFactory(StepFactory, cohort=factory.SelfAttribute("..membership.cohort"))
    status = CheckInStatus.ON_TRACK
    done_text = "Read the step."


# --- Exercises --------------------------------------------------------------------------


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    cohort = factory.SubFactory(CohortFactory)
    step = factory.SubFactory(StepFactory, cohort=factory.SelfAttribute("..cohort"))
    title = factory.Sequence(lambda n: f"Exercise {n}")
    slug = factory.Sequence(lambda n: f"exercise-{n}")
    repository = "first-break-ai/practice"


class SubmissionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Submission

    exercise = factory.SubFactory(ExerciseFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..exercise.cohort"))
    repository = factory.SelfAttribute("exercise.repository")
    pr_number = factory.Sequence(lambda n: n + 1)
    pr_url = factory.LazyAttribute(lambda o: f"https://github.com/{o.repository}/pull/{o.pr_number}")


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    submission = factory.SubFactory(SubmissionFactory)
    github_id = factory.Sequence(lambda n: 9000 + n)
    reviewer_login = "a-lead"
    state = "approved"
    submitted_at = factory.LazyFunction(timezone.now)


class CheckResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckResult

    submission = factory.SubFactory(SubmissionFactory)
    github_id = factory.Sequence(lambda n: 7000 + n)
    kind = "check_run"
    head_sha = "a" * 40
    status = "completed"


class TimelineEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimelineEvent

    submission = factory.SubFactory(SubmissionFactory)
    kind = "linked"
    summary = "Pull request linked"
    occurred_at = factory.LazyFunction(timezone.now)


class PullRequestCommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PullRequestComment

    submission = factory.SubFactory(SubmissionFactory)
    kind = "linked"
    next_attempt_at = factory.LazyFunction(timezone.now)


class ExerciseCompletionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExerciseCompletion

    exercise = factory.SubFactory(ExerciseFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..exercise.cohort"))
    completed_at = factory.LazyFunction(timezone.now)


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    delivery_id = factory.Sequence(lambda n: f"delivery-{n}")
    event = "ping"
    payload = factory.LazyFunction(lambda: {"zen": "Keep it logically awesome."})


# --- Sandbox ----------------------------------------------------------------------------


class SandboxModelFactory(factory.django.DjangoModelFactory):
    """A registry row only: tests that generate use the provisioned models (tests/inference/model_fixtures.py)."""

    class Meta:
        model = SandboxModel

    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.Sequence(lambda n: f"Model {n}")
    path = factory.LazyAttribute(lambda o: f"/nonexistent/{o.slug}.gguf")


class SandboxRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SandboxRun

    membership = factory.SubFactory(MembershipFactory)
    model = factory.SubFactory(SandboxModelFactory)
    request = factory.LazyFunction(lambda: {"prompt": "The sky is"})
    seed = 3
    params = factory.LazyAttribute(lambda o: {"temperature": 0.0, "max_tokens": 4, "seed": o.seed})


class RunTokenChunkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RunTokenChunk

    run = factory.SubFactory(SandboxRunFactory)
    start = 0
    tokens = factory.LazyFunction(lambda: [{"id": 1, "text": "a"}])
    output_text = "a"


class LabJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LabJob

    membership = factory.SubFactory(MembershipFactory)
    model = factory.SubFactory(SandboxModelFactory)
    kind = LabKind.SWEEP
    input = factory.LazyFunction(lambda: {"prompt": "The sky is", "temperatures": [0.5, 1.0]})


class ModelVariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVariant

    lab = factory.SubFactory(LabJobFactory, kind=LabKind.QUANTIZATION)
    source = factory.SelfAttribute("lab.model")
    quantization = "Q8_0"
    path = factory.LazyAttribute(lambda o: f"/nonexistent/{o.source.slug}-{o.quantization}.gguf")


class ExperimentFactory(factory.django.DjangoModelFactory):
    """A lead's open experiment with two arms (temperatures 0 and 1)."""

    class Meta:
        model = Experiment

    cohort = factory.SubFactory(CohortFactory)
    created_by = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..cohort"), role=Role.LEAD)
    title = factory.Sequence(lambda n: f"Experiment {n}")
    model = factory.SubFactory(SandboxModelFactory)
    request = factory.LazyFunction(lambda: {"prompt": "The sky is"})
    params = factory.LazyFunction(lambda: {"max_tokens": 4})
    temperatures = factory.LazyFunction(lambda: [0.0, 1.0])


class ExperimentRunFactory(factory.django.DjangoModelFactory):
    """One learner's run of an experiment, in arm 0, still queued."""

    class Meta:
        model = ExperimentRun

    experiment = factory.SubFactory(ExperimentFactory)
    membership = factory.SubFactory(MembershipFactory, cohort=factory.SelfAttribute("..experiment.cohort"))
    run = factory.SubFactory(
        SandboxRunFactory,
        membership=factory.SelfAttribute("..membership"),
        model=factory.SelfAttribute("..experiment.model"),
    )
    arm = 0
