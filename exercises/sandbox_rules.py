"""Sandbox exercises complete themselves when the learner's own runs meet the exercise's rule.

The platform checks the runs it stored (never a claim from the browser) and
links the run that satisfied the rule as evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from cohort.models import Membership
from exercises.models import Exercise, ExerciseCompletion, ExerciseKind, SandboxRule
from exercises.services import exercise_complete
from inference.models import LabJob, LabKind, RunStatus, SandboxRun


def _prompt_key(run: SandboxRun) -> str:
    request = dict(run.request)
    request.pop("forced_tokens", None)
    return repr(sorted(request.items()))


def _greedy_repeats(runs: list[SandboxRun], config: dict[str, Any]) -> SandboxRun | None:
    groups: dict[tuple[object, ...], list[SandboxRun]] = defaultdict(list)
    for run in runs:
        if float(run.params.get("temperature", 1)) == 0 and run.output_text:
            groups[(run.model_id, _prompt_key(run), run.output_text)].append(run)
    return next((group[-1] for group in groups.values() if len(group) >= 2), None)


def _sampling_varies(runs: list[SandboxRun], config: dict[str, Any]) -> SandboxRun | None:
    minimum = float(config.get("min_temperature", 1.0))
    outputs: dict[tuple[object, ...], dict[str, SandboxRun]] = defaultdict(dict)
    for run in runs:
        if float(run.params.get("temperature", 0)) >= minimum and run.output_text:
            outputs[(run.model_id, _prompt_key(run))][run.output_text] = run
    return next((list(group.values())[-1] for group in outputs.values() if len(group) >= 2), None)


def _thinking_off_prompt(runs: list[SandboxRun], config: dict[str, Any]) -> SandboxRun | None:
    wanted = config.get("messages")
    for run in runs:
        messages = run.request.get("messages")
        if messages is None or run.request.get("enable_thinking") is not False:
            continue
        if wanted is not None and messages != wanted:
            continue
        if "<think>\n\n</think>" in run.rendered_prompt:
            return run
    return None


# Keyed by the stored rule (a str); SandboxRule members are str.
_RUN_RULES: dict[str, Callable[[list[SandboxRun], dict[str, Any]], SandboxRun | None]] = {
    SandboxRule.GREEDY_REPEATS: _greedy_repeats,
    SandboxRule.SAMPLING_VARIES: _sampling_varies,
    SandboxRule.THINKING_OFF_PROMPT: _thinking_off_prompt,
}


def sandbox_exercises_check(*, membership: Membership) -> list[ExerciseCompletion]:
    """Complete every sandbox exercise of the learner's cohort whose rule their stored work now meets."""
    exercises = list(
        Exercise.objects.filter(cohort_id=membership.cohort_id, kind=ExerciseKind.SANDBOX)
        .exclude(completions__membership=membership)
        .select_related("step")
    )
    if not exercises:
        return []
    runs = list(SandboxRun.objects.filter(membership=membership, status=RunStatus.DONE).order_by("created_at"))
    completed = []
    for exercise in exercises:
        evidence: dict[str, Any] | None = None
        if exercise.sandbox_rule == SandboxRule.SPECULATIVE_ACCEPTANCE:
            threshold = float(exercise.sandbox_config.get("min_acceptance", 0.5))
            job = next(
                (j for j in LabJob.objects.filter(membership=membership, kind=LabKind.SPECULATIVE, status=RunStatus.DONE)
                 if j.result.get("acceptance_rate", 0) >= threshold),
                None,
            )  # fmt: skip
            evidence = {"lab": job.pk} if job else None
        elif exercise.sandbox_rule in _RUN_RULES:
            run = _RUN_RULES[exercise.sandbox_rule](runs, exercise.sandbox_config)
            evidence = {"run": run.pk} if run else None
        if evidence is not None:
            completed.append(exercise_complete(membership=membership, exercise=exercise, evidence=evidence))
    return completed
