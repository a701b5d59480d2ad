"""Reads for live cohort experiments: the results in one query over the small per-run rows, whatever the size.

Learners get the aggregate only; `runs` (who produced which output, with run
links) is added for the cohort's leads. The aggregate is cached under a key
derived from the rows themselves (see _results_key), so it is never stale; the
leads' per-run rows are cached by table stamps (lead_runs).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from django.core.cache import cache

from cohort.models import Membership, Role, User
from config import table_versions
from inference.models import Experiment, ExperimentRun, ExperimentStatus, RunStatus
from inference.stats import goodness_of_fit

MAX_OUTPUTS_SHOWN = 20
# Probability mass below this is rounding, not an "other tokens" category.
_NEGLIGIBLE = 1e-9
_PENDING = (RunStatus.QUEUED, RunStatus.RUNNING)


def experiment_for_member(*, user: User, experiment_id: int) -> tuple[Experiment, Membership] | None:
    """The experiment and the viewer's membership in its cohort; None outside the cohort (a 404). Two queries."""
    experiment = Experiment.objects.select_related("model", "session", "cohort").filter(pk=experiment_id).first()
    if experiment is None:
        return None
    membership = Membership.objects.filter(user=user, cohort_id=experiment.cohort_id).first()
    if membership is None:
        return None
    return experiment, membership


def open_experiments(*, membership: Membership, session_id: int | None = None) -> list[dict[str, Any]]:
    """The cohort's open experiments (of one session when given) and how many runs the viewer has left. One query."""
    from django.db.models import Count, Q

    experiments = Experiment.objects.filter(cohort_id=membership.cohort_id, status=ExperimentStatus.OPEN)
    if session_id is not None:
        experiments = experiments.filter(session_id=session_id)
    rows = experiments.annotate(mine=Count("entries", filter=Q(entries__membership=membership))).order_by(
        "-created_at"
    )[:5]
    return [{"experiment": e, "runs_left": max(0, e.runs_per_learner - e.mine)} for e in rows]


def attached_to_recap(*, session_id: int) -> list[Experiment]:
    """Experiments whose chart a lead attached to this session's recap. One query."""
    return list(
        Experiment.objects.filter(session_id=session_id, recap_attached_at__isnull=False)
        .only("pk", "title", "recap_svg", "recap_numbers", "recap_attached_at")
        .order_by("recap_attached_at")
    )


def _predicted(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """id -> {text, p} of the arm's first-step distribution.

    Every run of an arm read the same prompt with the same sampler, so the
    first step's `top_sampled` is the same for all of them and exact; a first
    token outside that top list still carries its own exact `p_sampled`.
    """
    predicted: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["first_top_sampled"]:
            for choice in row["first_top_sampled"]:
                predicted[choice["id"]] = {"text": choice["text"], "p": choice["p"]}
            break
    for row in rows:
        token_id = row["first_token_id"]
        if token_id is not None and token_id not in predicted and row["first_token_p"] is not None:
            predicted[token_id] = {"text": row["first_token_text"], "p": row["first_token_p"]}
    return predicted


def _arm(temperature: float, rows: list[dict[str, Any]]) -> dict[str, Any]:
    done = [row for row in rows if row["status"] == RunStatus.DONE]
    pending = sum(1 for row in rows if row["status"] in _PENDING)
    predicted = _predicted(done)
    counts = Counter(row["first_token_id"] for row in done if row["first_token_id"] is not None)
    first_token = [
        {"id": token_id, "text": choice["text"], "count": counts.get(token_id, 0), "p_predicted": choice["p"]}
        for token_id, choice in predicted.items()
    ]
    first_token.sort(key=lambda item: (-item["p_predicted"], -item["count"], item["id"]))
    other_p = max(0.0, 1.0 - sum(item["p_predicted"] for item in first_token))

    outputs: dict[str, dict[str, Any]] = {}
    for row in done:
        group = outputs.setdefault(row["output_hash"], {"text": row["output_text"], "count": 0})
        group["count"] += 1
    grouped = sorted(outputs.values(), key=lambda group: (-group["count"], group["text"]))

    entropies = [row["mean_entropy_bits"] for row in done if row["mean_entropy_bits"] is not None]
    greedy = temperature == 0
    fit: dict[str, float | str | None]
    if greedy:
        fit = {"p_value": None, "words": "Greedy: the model always takes its most likely token, so every run "
               "gives the same output." if done else "No samples yet."}  # fmt: skip
    else:
        observed = [item["count"] for item in first_token]
        expected = [item["p_predicted"] for item in first_token]
        if other_p > _NEGLIGIBLE:
            observed.append(0)
            expected.append(other_p)
        result = goodness_of_fit(observed, expected)
        fit = {"p_value": result.p_value, "words": result.words}
    return {
        "temperature": temperature,
        "greedy": greedy,
        "runs_done": len(done),
        "runs_pending": pending,
        "runs_failed": len(rows) - len(done) - pending,
        "first_token": first_token,
        "other_p": other_p,
        "outputs": grouped[:MAX_OUTPUTS_SHOWN],
        "distinct_outputs": len(grouped),
        "mean_entropy_bits": sum(entropies) / len(entropies) if entropies else None,
        "fit_p_value": fit["p_value"],
        "fit_words": fit["words"],
    }


_FIELDS = (
    "arm",
    "status",
    "first_token_id",
    "first_token_text",
    "first_token_p",
    "first_top_sampled",
    "output_hash",
    "output_text",
    "mean_entropy_bits",
)


# Bump when _arm or the shape of an arm changes: cached arms of the old shape are then never read.
RESULTS_VERSION = 1
_RESULTS_TIMEOUT = 60 * 60 * 24  # entries never go stale (see _results_key); this only bounds the cache's size
_LEAD_FIELDS = ("run_id", "arm", "status", "first_token_text", "output_text")
_NAME_FIELDS = ("membership__user__name", "membership__user__email")


def _results_key(experiment: Experiment) -> str:
    """A key that changes whenever the per-arm results can. One cheap aggregate query.

    An experiment's rows are only ever created (with a new, never reused pk: AUTOINCREMENT on
    SQLite, a sequence on Postgres), ended once (`ended_at` is written only while empty, in the
    same UPDATE as the facts: experiments.record_run_end), or deleted with their learner. So the
    row count, the highest pk and the number of ended rows together name the rows' contents: a
    deletion lowers the count, a creation raises the highest pk, an end raises the ended count.
    The arms' temperatures are part of the key; everything else shown comes from the experiment
    row itself and is never cached.
    """
    from django.db.models import Count, Max

    agg = ExperimentRun.objects.filter(experiment=experiment).aggregate(
        n=Count("pk"), last=Max("pk"), ended=Count("ended_at")
    )
    temperatures = ",".join(str(t) for t in experiment.temperatures)
    return (
        f"experiment-results:v{RESULTS_VERSION}:{experiment.pk}:{experiment.created_at.timestamp():.6f}:"
        f"{temperatures}:{agg['n']}:{agg['last']}:{agg['ended']}"
    )


def _learner_name(row: dict[str, Any]) -> str:
    return row["membership__user__name"] or (row["membership__user__email"] or "").split("@")[0]


def experiment_results(*, experiment: Experiment, for_lead: bool) -> dict[str, Any]:
    """The results per arm (and, for leads, every run with its learner: `lead_runs`).

    The arms (never who produced what) are cached under `_results_key`: one aggregate query when
    warm, plus the rows when cold. A lead's per-run rows come from `lead_runs`' cache.
    """
    key = _results_key(experiment)
    cached: dict[str, Any] | None = cache.get(key)
    if cached is None:
        rows = list(ExperimentRun.objects.filter(experiment=experiment).order_by("created_at", "pk").values(*_FIELDS))
        by_arm: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_arm[row["arm"]].append(row)
        cached = {
            "total_runs": len(rows),
            "arms": [_arm(float(t), by_arm.get(i, [])) for i, t in enumerate(experiment.temperatures)],
        }
        cache.set(key, cached, _RESULTS_TIMEOUT)
    results: dict[str, Any] = {
        "id": experiment.pk,
        "status": experiment.status,
        "title": experiment.title,
        "model": experiment.model.slug,
        "runs_per_learner": experiment.runs_per_learner,
        "total_runs": cached["total_runs"],
        "arms": cached["arms"],
    }
    if for_lead:
        results["runs"] = lead_runs(experiment=experiment)
    return results


# Every table `lead_runs` reads: the runs, and each learner's name through their membership.
LEAD_RUNS_TABLES = (ExperimentRun, Membership, User)
# Bump when the shape of a run in `lead_runs` changes (the lead's table in templatetags/experiments.py too).
LEAD_RUNS_VERSION = 2


def lead_key(experiment: Experiment) -> list[object]:
    """What a lead's per-run rows depend on besides the tables: which experiment, and its arms' temperatures."""
    return [experiment.pk, f"{experiment.created_at.timestamp():.6f}", [float(t) for t in experiment.temperatures]]


def lead_runs(*, experiment: Experiment) -> list[dict[str, Any]]:
    """Each run of the experiment with its learner, in the order they started (for the cohort's leads only).

    Cached by table stamps (config.table_versions): a run that starts or ends, a
    learner renamed or removed, moves a stamp of LEAD_RUNS_TABLES and the next read
    queries again; otherwise the lead's poll every second reads no names. One
    query when cold, none when warm.
    """

    def read() -> list[dict[str, Any]]:
        temperatures = [float(t) for t in experiment.temperatures]
        rows = (
            ExperimentRun.objects.filter(experiment=experiment)
            .order_by("created_at", "pk")
            .values(*_LEAD_FIELDS, *_NAME_FIELDS)
        )
        return [
            {
                "run": row["run_id"],
                "learner": _learner_name(row),
                "temperature": temperatures[row["arm"]],
                "status": row["status"],
                "first_token": row["first_token_text"],
                "output": row["output_text"][:200],
            }
            for row in rows
        ]

    return table_versions.cached(
        f"experiment-lead-runs:v{LEAD_RUNS_VERSION}", tables=LEAD_RUNS_TABLES, key=lead_key(experiment), compute=read
    )


def is_lead(membership: Membership) -> bool:
    return membership.role == Role.LEAD
