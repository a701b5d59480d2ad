"""The data bench/pages.py and bench/profile_pages.py measure: one cohort seeded into a fresh database.

seed() migrates, collects static files and creates the cohort (learners, steps, progress, office hours,
check-ins, pull requests, attendance, a compare page's runs, an experiment); the seed_* helpers fill in
one area each. Call it with the bench's environment set (bench.pages.bench_env).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

COHORT_SLUG = "bench"


@dataclass(frozen=True)
class Seeded:
    learner_cookie: str
    lead_cookie: str
    progress_rows: int
    session_number: int  # the upcoming session that holds the questions
    questions: int
    votes: int
    check_ins: int
    submissions: int
    ended_sessions: int
    learner_membership_id: int = 0  # the learner whose per-learner page is measured
    compare_path: str = ""  # /sandbox/compare/ over two 512-token runs of the learner
    experiment_id: int = 0  # a live experiment with 200 finished runs


def seed_compare(*, membership) -> str:  # type: ignore[no-untyped-def]
    """Two stored 512-token runs (no model file is read: the compare page works from stored tokens)."""
    from inference.models import RunStatus, SandboxModel, SandboxRun

    model = SandboxModel.objects.create(slug="bench-model", name="Bench model", path="/nonexistent.gguf")
    runs = []
    for seed in (1, 2):
        tokens = [
            {"id": (i * seed) % 5000, "text": f" w{(i * seed) % 97}", "p_model": 0.3, "p_sampled": 0.4}
            | {"top_model": [], "top_sampled": []}
            for i in range(512)
        ]
        runs.append(
            SandboxRun.objects.create(
                membership=membership,
                model=model,
                status=RunStatus.DONE,
                request={"messages": [{"role": "user", "content": "Tell me a story."}]},
                params={"temperature": 0.7 * seed, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed},
                seed=seed,
                tokens=tokens,
                output_text="".join(t["text"] for t in tokens),
            )
        )
    return f"/sandbox/compare/?a={runs[0].pk}&b={runs[1].pk}"


def seed_experiment(*, lead, memberships: list, runs: int = 200) -> int:  # type: ignore[no-untyped-def]
    """A live experiment (3 arms) with `runs` finished runs, counted as the worker counts them when runs end."""
    import random

    from inference.experiments import record_run_end
    from inference.models import Experiment, ExperimentRun, RunStatus, SandboxModel, SandboxRun

    model = SandboxModel.objects.get_or_create(slug="bench-model", defaults={"name": "Bench", "path": "/none.gguf"})[0]
    temperatures = [0.0, 0.7, 1.5]
    experiment = Experiment.objects.create(
        cohort=lead.cohort, created_by=lead, title="Name a colour", model=model,
        request={"messages": [{"role": "user", "content": "Name one colour."}]},
        params={"top_k": 0, "top_p": 1.0, "min_p": 0.0, "max_tokens": 8}, temperatures=temperatures,
    )  # fmt: skip
    rng = random.Random(1)
    words = [" red", " blue", " green", " yellow", " purple", " orange", " black", " white", " pink", " grey"]
    top = [{"id": i, "text": w, "p": p} for i, (w, p) in enumerate(zip(words, [0.3, 0.2, 0.12, 0.1, 0.08, 0.06, 0.05,
                                                                              0.04, 0.03, 0.02], strict=True))]  # fmt: skip
    for i in range(runs):
        arm = i % 3
        first = 0 if arm == 0 else rng.choices(range(10), weights=[c["p"] for c in top])[0]
        tokens = [
            {"id": first, "text": words[first], "p_model": 0.3, "p_sampled": top[first]["p"], "top_model": top,
             "top_sampled": top, "entropy_bits": 2.9}
        ] + [{"id": j, "text": words[(first + j) % 10], "p_model": 0.2, "p_sampled": 0.2, "top_model": top,
              "top_sampled": top, "entropy_bits": 2.5} for j in range(1, 8)]  # fmt: skip
        membership = memberships[i % len(memberships)]
        run = SandboxRun.objects.create(
            membership=membership, model=model, request=experiment.request, status=RunStatus.DONE,
            params={**experiment.params, "temperature": temperatures[arm], "seed": i}, seed=i, tokens=tokens,
            output_text="".join(t["text"] for t in tokens),
        )  # fmt: skip
        ExperimentRun.objects.create(experiment=experiment, run=run, membership=membership, arm=arm)
        record_run_end(run_id=run.pk, status=RunStatus.DONE, tokens=tokens, output_text=run.output_text)
    return experiment.pk


def seed_office_hours(*, cohort, memberships: list, steps: list, lead, questions: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the session page and the who-is-stuck page read, in bulk inserts.

    Four ended sessions that most learners attended, an upcoming one with
    `questions` questions (a third answered, each upvoted by up to 20 others),
    two check-ins per learner (every third one blocked), and a pull request for
    every fourth learner (half of them with changes requested).
    """
    from django.utils import timezone

    from cohort.markdown import render_markdown
    from cohort.models import (
        CheckIn,
        CheckInStatus,
        OfficeHoursSession,
        QuestionVote,
        SessionAttendance,
        SessionQuestion,
        SessionRSVP,
        SessionStatus,
        SessionTopic,
    )
    from exercises.models import Exercise, Review, Submission, SubmissionState

    now = timezone.now()
    sessions = OfficeHoursSession.objects.bulk_create(
        OfficeHoursSession(
            cohort=cohort,
            number=n,
            title=f"Office hours {n}",
            starts_at=now + dt.timedelta(days=7 * (n - 5)) + dt.timedelta(hours=2),
            status=SessionStatus.ENDED if n < 5 else SessionStatus.SCHEDULED,
        )
        for n in range(1, 6)
    )
    upcoming = sessions[-1]
    upcoming.leads.set([lead])
    topics = SessionTopic.objects.bulk_create(
        SessionTopic(session=upcoming, position=i, title=f"Topic {i}", step=steps[i - 1]) for i in (1, 2, 3)
    )

    def question_body(i: int) -> str:
        return f"Question {i}: why does **temperature** {i / 10:.1f} change the `top-p` output?\n\nI tried it."

    question_rows = SessionQuestion.objects.bulk_create(
        SessionQuestion(
            session=upcoming,
            author=memberships[i % len(memberships)],
            body=question_body(i),
            body_html=render_markdown(question_body(i)),  # bulk_create skips save(), where the HTML is rendered
            created_at=now - dt.timedelta(minutes=i),
            answered_at=now if i % 3 == 0 else None,
            answered_topic=topics[i % 3] if i % 3 == 0 else None,
        )
        for i in range(questions)
    )
    votes = QuestionVote.objects.bulk_create(
        QuestionVote(question=q, voter=memberships[(i + j + 1) % len(memberships)])
        for i, q in enumerate(question_rows)
        for j in range(i % 20)
    )
    SessionAttendance.objects.bulk_create(
        SessionAttendance(session=s, membership=m) for s in sessions[:4] for i, m in enumerate(memberships) if i % 5
    )
    SessionRSVP.objects.bulk_create(SessionRSVP(session=s, membership=m) for s in sessions for m in memberships[::4])
    check_ins = CheckIn.objects.bulk_create(
        CheckIn(
            membership=m,
            step=steps[i % len(steps)],
            status=CheckInStatus.BLOCKED if (i + k) % 3 == 0 else CheckInStatus.ON_TRACK,
            done_text="Read the chapter and ran the notebook.",
            next_text="Open the pull request.",
            blocker_text="pip install llama-cpp-python fails: cmake not found." if (i + k) % 3 == 0 else "",
            created_at=now - dt.timedelta(hours=i + 24 * k),
        )
        for i, m in enumerate(memberships)
        for k in range(2)
    )
    exercise = Exercise.objects.create(cohort=cohort, step=steps[0], title="First pull request", slug="first-pr")
    submissions = Submission.objects.bulk_create(
        Submission(
            membership=m,
            exercise=exercise,
            repository=cohort.practice_repository,
            pr_number=i + 1,
            pr_url=f"https://github.com/{cohort.practice_repository}/pull/{i + 1}",
            state=SubmissionState.CHANGES_REQUESTED if i % 8 else SubmissionState.OPEN,
            opened_at=now - dt.timedelta(days=i % 10),
        )
        for i, m in enumerate(memberships)
        if i % 4 == 0
    )
    Review.objects.bulk_create(
        Review(
            submission=s,
            github_id=s.pk,
            reviewer_login="bench-lead",
            state="changes_requested",
            submitted_at=now - dt.timedelta(days=s.pr_number % 6),
        )
        for s in submissions
        if s.state == SubmissionState.CHANGES_REQUESTED
    )
    return {
        "session_number": upcoming.number,
        "questions": len(question_rows),
        "votes": len(votes),
        "check_ins": len(check_ins),
        "submissions": len(submissions),
        "ended_sessions": 4,
    }


def seed(*, learners: int, steps: int, questions: int) -> Seeded:
    """Migrate, collect static files, create the cohort; return the learner's and the lead's cookies and the sizes."""
    # Django reads its settings from the environment at import, which main() has just set.
    import django

    # config/__init__.py configures Celery from django.conf.settings as it is
    # imported. Imported first (as gunicorn does through config.wsgi), that
    # loads bench.settings_bench in one go; left to django.setup(), the
    # settings module would re-enter itself half-imported and lose every setting.
    import config  # noqa: F401

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from cohort.models import Cohort, Membership, RoadmapStep, Role, StepProgress, User

    call_command("migrate", interactive=False, verbosity=0)
    # DEBUG off serves static files from whitenoise's manifest, which pages need to render.
    call_command("collectstatic", interactive=False, verbosity=0)

    now = timezone.now()
    cohort = Cohort.objects.create(
        name="Bench cohort",
        slug=COHORT_SLUG,
        starts_on=dt.date(2026, 3, 2),
        ends_on=dt.date(2026, 6, 26),
        practice_repository="first-break-ai/practice",
    )
    step_rows = RoadmapStep.objects.bulk_create(
        RoadmapStep(
            cohort=cohort,
            position=i,
            code=f"Step {i}",
            slug=f"step-{i}",
            title=f"Step {i} of the roadmap",
            summary="What this step is about, in one sentence.",
            body="Some **markdown**.",
        )
        for i in range(1, steps + 1)
    )
    unusable = make_password(None)
    lead, *learner_users = User.objects.bulk_create(
        [User(email="lead@bench.test", name="Lead", github_username="bench-lead", password=unusable)]
        + [
            User(email=f"learner{i}@bench.test", name=f"Learner {i:03d}", github_username=f"l-{i}", password=unusable)
            for i in range(learners)
        ]
    )
    _, *memberships = Membership.objects.bulk_create(
        [Membership(user=lead, cohort=cohort, role=Role.LEAD)]
        + [
            Membership(user=u, cohort=cohort, role=Role.LEARNER, last_activity_at=now - dt.timedelta(hours=i))
            for i, u in enumerate(learner_users)
        ]
    )
    progress = []
    for i, membership in enumerate(memberships):
        # Learner i has touched the first i % (steps + 1) steps and finished all but the last of them.
        touched = step_rows[: i % (steps + 1)]
        for j, step in enumerate(touched):
            done = j < len(touched) - 1
            progress.append(
                StepProgress(
                    membership=membership,
                    step=step,
                    started_at=now - dt.timedelta(days=7),
                    completed_at=now - dt.timedelta(days=1) if done else None,
                    focused_at=None if done else now - dt.timedelta(days=2),
                    last_activity_at=now - dt.timedelta(days=1),
                )
            )
    StepProgress.objects.bulk_create(progress)
    office_hours = seed_office_hours(
        cohort=cohort, memberships=memberships, steps=step_rows, lead=lead, questions=questions
    )

    def cookie(user: User) -> str:
        # What django.contrib.auth.login() stores, without a password round trip.
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"

    # A learner with some progress: the third one has finished one step and is on the next.
    cookies = cookie(learner_users[2]), cookie(lead)
    connections.close_all()  # gunicorn's workers open their own
    # The first learner has a pull request, check-ins and attendance: their page is the one measured.
    compare_path = seed_compare(membership=memberships[2])
    lead_membership = Membership.objects.select_related("cohort").get(user=lead, cohort=cohort)
    experiment_id = seed_experiment(lead=lead_membership, memberships=memberships)
    return Seeded(
        *cookies,
        progress_rows=len(progress),
        learner_membership_id=memberships[0].pk,
        **office_hours,
        compare_path=compare_path,
        experiment_id=experiment_id,
    )
