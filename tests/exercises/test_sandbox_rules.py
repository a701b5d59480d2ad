"""Each sandbox exercise rule, with a case that passes and one that does not."""

from __future__ import annotations

import pytest

from exercises.models import Exercise, ExerciseCompletion, ExerciseKind, SandboxRule
from exercises.sandbox_rules import sandbox_exercises_check
from inference.models import LabJob, LabKind, RunStatus, SandboxRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_exercise(world):
    def make(rule, config=None):
        return Exercise.objects.create(
            cohort=world.cohort, step=world.steps[1], title=rule, slug=rule.replace("_", "-"), kind=ExerciseKind.SANDBOX,
            sandbox_rule=rule, sandbox_config=config or {},
        )  # fmt: skip

    return make


@pytest.fixture
def run(world, smollm2):
    def make(*, output, temperature, request=None, rendered="", membership=None, status=RunStatus.DONE):
        return SandboxRun.objects.create(
            membership=membership or world.alice_membership, model=smollm2, status=status, request=request or {"prompt": "Hi"},
            params={"temperature": temperature}, seed=1, output_text=output, rendered_prompt=rendered,
        )  # fmt: skip

    return make


def _done(world, exercise, membership=None):
    return ExerciseCompletion.objects.filter(membership=membership or world.alice_membership, exercise=exercise).first()


def test_greedy_repeats_passes_with_two_identical_greedy_runs(world, make_exercise, run):
    exercise = make_exercise(SandboxRule.GREEDY_REPEATS)
    run(output="Paris.", temperature=0)
    second = run(output="Paris.", temperature=0)

    sandbox_exercises_check(membership=world.alice_membership)

    assert _done(world, exercise).evidence == {"run": second.pk}


def test_greedy_repeats_fails_with_different_prompts_or_sampling(world, make_exercise, run):
    exercise = make_exercise(SandboxRule.GREEDY_REPEATS)
    run(output="Paris.", temperature=0, request={"prompt": "A"})
    run(output="Paris.", temperature=0, request={"prompt": "B"})
    run(output="Paris.", temperature=0.7)
    run(output="Paris.", temperature=0, status=RunStatus.FAILED)

    sandbox_exercises_check(membership=world.alice_membership)

    assert _done(world, exercise) is None


def test_sampling_varies_needs_the_temperature_and_different_outputs(world, make_exercise, run):
    exercise = make_exercise(SandboxRule.SAMPLING_VARIES, {"min_temperature": 1.0})
    run(output="one", temperature=0.5)
    run(output="two", temperature=0.5)
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise) is None

    run(output="three", temperature=1.2)
    run(output="four", temperature=1.5)
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise) is not None


def test_thinking_off_prompt(world, make_exercise, run):
    exercise = make_exercise(SandboxRule.THINKING_OFF_PROMPT)
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    run(output="x", temperature=0.7, request={**chat, "enable_thinking": True}, rendered="<|im_start|>assistant\n")
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise) is None

    run(
        output="x",
        temperature=0.7,
        request={**chat, "enable_thinking": False},
        rendered="<|im_start|>assistant\n<think>\n\n</think>\n\n",
    )
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise) is not None


def test_speculative_acceptance_threshold(world, make_exercise, smollm2):
    exercise = make_exercise(SandboxRule.SPECULATIVE_ACCEPTANCE, {"min_acceptance": 0.6})
    lab = {
        "membership": world.alice_membership,
        "model": smollm2,
        "kind": LabKind.SPECULATIVE,
        "input": {},
        "status": RunStatus.DONE,
    }
    LabJob.objects.create(**lab, result={"acceptance_rate": 0.4})
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise) is None

    good = LabJob.objects.create(**lab, result={"acceptance_rate": 0.75})
    sandbox_exercises_check(membership=world.alice_membership)
    assert _done(world, exercise).evidence == {"lab": good.pk}


def test_another_learners_runs_never_count(world, make_exercise, run):
    exercise = make_exercise(SandboxRule.GREEDY_REPEATS)
    run(output="Paris.", temperature=0, membership=world.bob_membership)
    run(output="Paris.", temperature=0, membership=world.bob_membership)

    sandbox_exercises_check(membership=world.alice_membership)

    assert _done(world, exercise) is None and _done(world, exercise, world.bob_membership) is None


def test_completing_the_steps_only_exercise_marks_the_step_done(world, make_exercise, run):
    from cohort.models import ProgressStatus, StepProgress

    make_exercise(SandboxRule.GREEDY_REPEATS)
    run(output="Paris.", temperature=0)
    run(output="Paris.", temperature=0)

    sandbox_exercises_check(membership=world.alice_membership)

    assert (
        StepProgress.objects.get(membership=world.alice_membership, step=world.steps[1]).status == ProgressStatus.DONE
    )


# Transactional: the worker announces in autocommit, where the task is published at once.
@pytest.mark.django_db(transaction=True)
def test_finished_sandbox_work_queues_the_exercise_check_through_the_signal(world, monkeypatch):
    from exercises import tasks
    from inference.services import announce_finished_work

    published = []
    monkeypatch.setattr(tasks.check_sandbox_exercises, "apply_async", lambda kwargs, **kw: published.append(kwargs))
    announce_finished_work(membership_id=world.alice_membership.pk)
    assert published == [{"membership_id": world.alice_membership.pk}]


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_after_sandbox_work_is_logged_and_does_not_fail_the_run(world, monkeypatch, caplog):
    from exercises import tasks
    from inference.services import announce_finished_work

    def broker_down(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(tasks.check_sandbox_exercises, "apply_async", broker_down)
    announce_finished_work(membership_id=world.alice_membership.pk)
    assert "check_sandbox_exercises_after_work failed" in caplog.text
