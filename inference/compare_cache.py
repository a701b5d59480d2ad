"""The compare page's body, cached for finished runs.

A finished run (done, failed or cancelled) never changes its tokens or settings,
so the comparison of two finished runs is the same HTML for every viewer allowed
to see both. Decoding two 512-token JSON columns, aligning them and rendering the
rows was most of the page's time. The caller checks permission first with a light
query (`selectors.runs_visible_to`); this module only ever sees runs the
viewer may see. The key holds each run's pk, status and creation time (so a reset
database that reuses a pk cannot hit an old entry) and a version to bump whenever
the body's template or the comparison code changes.
"""

from __future__ import annotations

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from inference import selectors
from inference.models import RunStatus, SandboxRun

# Bump when templates/inference/_compare_body.html or selectors.run_comparison changes.
VERSION = 1
FINISHED = frozenset({RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED})
TIMEOUT = 60 * 60 * 24  # a day; entries never go stale, this only bounds the cache's size


def cache_key(a: SandboxRun, b: SandboxRun) -> str | None:
    """None while either run may still change (queued or running): those are never cached."""
    if a.status not in FINISHED or b.status not in FINISHED:
        return None
    parts = [f"{run.pk}.{run.status}.{run.created_at.timestamp():.6f}" for run in (a, b)]
    return f"compare:v{VERSION}:{parts[0]}:{parts[1]}"


def comparison_body(a: SandboxRun, b: SandboxRun) -> SafeString:
    """The rendered comparison of two runs the viewer may see (checked by the caller)."""
    key = cache_key(a, b)
    if key is not None:
        cached: str | None = cache.get(key)
        if cached is not None:
            return mark_safe(cached)  # noqa: S308 - our own rendered template, stored as rendered
    full = selectors.runs_by_id(run_ids=[a.pk, b.pk])
    body = render_to_string(
        "inference/_compare_body.html", {"comparison": selectors.run_comparison(a=full[a.pk], b=full[b.pk])}
    )
    # A run can finish between the light query and this one; the key names the statuses read
    # first, so only cache when the full rows still have them.
    if key is not None and cache_key(full[a.pk], full[b.pk]) == key:
        cache.set(key, str(body), TIMEOUT)
    return mark_safe(body)  # noqa: S308 - render_to_string's output is already escaped
