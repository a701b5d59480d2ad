"""Step 1 pull-request exercises for the demo cohort (idempotent)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cohort.models import Cohort
from exercises.models import CompletionRule, Exercise, ExerciseKind, SandboxRule
from exercises.services import exercise_complete

EXERCISES = (
    (
        "github-collaboration",
        "first-pr",
        "Open your first pull request",
        """Make a small, real change in the practice repository and take it all the way through review.

1. Create a branch whose name contains `first-pr`, e.g. `git checkout -b first-pr-yourname`.
2. Add yourself to `LEARNERS.md` and commit with a message that says what and why.
3. Push and open a pull request against `main`, with a description.
4. Answer the review. When it is merged, this exercise is done.
""",
    ),
    (
        "github-collaboration",
        "merge-conflict",
        "Resolve a merge conflict",
        """Two people changed the same line of `train.py`. Resolve it the way we do in this cohort:

```bash
git checkout main && git pull origin main
git checkout merge-conflict-yourname
git merge main        # edit the marked lines, remove the markers
git add train.py && git commit -m "resolve merge conflict in learning_rate"
git push
```

Use a branch name containing `merge-conflict`. Merge rather than rebase on a shared branch. It is done when the pull request is merged.
""",
    ),
)


# (step slug, exercise slug, title, rule, rule config, instructions)
SANDBOX_EXERCISES: tuple[tuple[str, str, str, SandboxRule, dict[str, Any], str], ...] = (
    ("run-qwen3-locally", "greedy-is-deterministic", "Temperature 0 repeats itself", SandboxRule.GREEDY_REPEATS, {},
     "Run the same prompt twice in the sandbox at temperature 0. Greedy decoding always takes the most likely token, "
     "so both runs give the same output, whatever the seed."),
    ("run-qwen3-locally", "temperature-changes-output", "Sampling is a draw", SandboxRule.SAMPLING_VARIES, {"min_temperature": 1.0},
     "Run one prompt twice at temperature 1.0 or higher with different seeds until the outputs differ. Then open a "
     "token and compare the distribution before and after sampling."),
    ("run-qwen3-locally", "chat-template-thinking-off", "What the model really sees", SandboxRule.THINKING_OFF_PROMPT, {},
     "Run a chat with a Qwen3 model with thinking switched off, and find the empty `<think>` block the chat template "
     "adds to the prompt."),
    ("inference-engines", "speculative-acceptance", "Draft and verify", SandboxRule.SPECULATIVE_ACCEPTANCE, {"min_acceptance": 0.5},
     "Run the speculative decoding lab with a prompt where the draft is right at least half of the time. Which "
     "prompts make prompt lookup shine?"),
)  # fmt: skip


def seed_exercises(cohort: Cohort) -> None:
    steps = {step.slug: step for step in cohort.steps.all()}
    for position, (step_slug, slug, title, instructions) in enumerate(EXERCISES):
        values = {
            "step": steps[step_slug],
            "position": position,
            "title": title,
            "instructions": instructions,
            "kind": ExerciseKind.PULL_REQUEST,
            "repository": cohort.practice_repository,
            "completion_rule": CompletionRule.MERGED,
        }
        _upsert(cohort, slug, values)
    for position, (step_slug, slug, title, rule, config, instructions) in enumerate(
        SANDBOX_EXERCISES, start=len(EXERCISES)
    ):
        values = {
            "step": steps[step_slug],
            "position": position,
            "title": title,
            "instructions": instructions,
            "kind": ExerciseKind.SANDBOX,
            "sandbox_rule": rule,
            "sandbox_config": config,
        }
        _upsert(cohort, slug, values)


def _upsert(cohort: Cohort, slug: str, values: dict[str, Any]) -> None:
    """Create the exercise, or write only the fields that differ (a rerun changes nothing)."""
    exercise = Exercise.objects.filter(cohort=cohort, slug=slug).first()
    if exercise is None:
        Exercise.objects.create(cohort=cohort, slug=slug, **values)
        return
    changed = [k for k, v in values.items() if getattr(exercise, k) != v]
    for k in changed:
        setattr(exercise, k, values[k])
    if changed:
        exercise.save(update_fields=changed)


def seed_demo_completions(cohort: Cohort) -> None:
    """Learner 1 finished Step 1's exercises, as their progress says."""
    membership = cohort.memberships.filter(user__email="learner1@example.com").first()
    if membership is None:
        return
    for exercise, day in zip(
        Exercise.objects.filter(cohort=cohort, slug__in=["first-pr", "merge-conflict"]).order_by("position"),
        (5, 9),
        strict=False,
    ):
        exercise_complete(membership=membership, exercise=exercise, at=dt.datetime(2026, 3, day, 17, 0, tzinfo=dt.UTC))
