"""A version stamp per database table, moved by every write Django sends, for cache keys.

A cached fragment's key holds the stamps of the tables it reads (`fragment`):
any INSERT, UPDATE or DELETE on one of them moves that table's stamp, so the
next request renders the fragment anew. Invalidation by model signals misses
`QuerySet.update()`, `bulk_create` and raw SQL, and a forgotten signal is a
page that silently lies; this watches every statement on Django's
connections instead (`connection.execute_wrappers`), in the web server and in
the Celery workers alike, so no write path can forget to invalidate.

Each write moves the stamp twice: at once, so a later read in the same
transaction (a view that writes and then renders, a test) misses the cache,
and again after the commit, so a fragment that another request rendered from
the not-yet-committed state in between is never served afterwards. A
rolled-back write has moved the stamp once, which only costs a render.

A stamp is a random 62-bit value, new at every write, rather than a count: a
count evicted from the cache and restarted could meet an old key.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.crypto import salted_hmac
from django.utils.safestring import SafeString, mark_safe

logger = logging.getLogger(__name__)

PREFIX = "tablever:"
# Fragments are evicted by their key moving, not by time. The timeout bounds the cache's size
# and how long a fragment can outlive a write whose stamp the cache missed (see bump).
FRAGMENT_TIMEOUT = 60 * 30
# Tables whose writes say nothing about what pages show: the session store and
# the database cache, written on most requests.
IGNORED = frozenset({"django_session", "django_cache_table"})

_WRITE = re.compile(r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+[`"]?(\w+)', re.IGNORECASE)


def written_table(sql: str) -> str | None:
    """The table an INSERT, UPDATE or DELETE statement writes, or None for anything else."""
    match = _WRITE.match(sql)
    if match is None:
        return None
    table = match.group(1)
    return None if table in IGNORED else table


# Tables whose stamp a write could not move because the cache was unreachable: moved by the
# next bump that reaches it. The write itself must not fail for the cache's sake (a webhook
# delivery or a question is kept even when Redis is away), so the error is logged, not raised.
_owed: set[str] = set()
_owed_lock = threading.Lock()


def bump(*tables: str) -> None:
    # A fresh random value rather than incr(): incr is a read and a write on most
    # backends, and two writers racing could both land on the same next value.
    with _owed_lock:
        due = set(tables) | _owed
        _owed.clear()
    try:
        cache.set_many({PREFIX + table: _fresh() for table in due}, None)
    except Exception:  # any backend's connection error; the write that called us has happened
        with _owed_lock:
            _owed.update(due)
        logger.warning("Could not move the cache stamps of %s; fragments may be stale until the next write", due)


def _fresh() -> int:
    return secrets.randbits(62)


def versions(tables: Iterable[str]) -> list[int]:
    """The current stamp of each table, in order (one cache round trip when every stamp exists)."""
    names = list(tables)
    keys = [PREFIX + t for t in names]
    found: dict[str, Any] = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, _fresh(), None)  # another process may have added one meanwhile: theirs wins
            found[key] = cache.get(key, 0)
    return [int(found[key]) for key in keys]


def table_name(table: str | type[models.Model]) -> str:
    return table if isinstance(table, str) else table._meta.db_table


def cached[T](
    name: str,
    *,
    tables: Iterable[str | type[models.Model]],
    key: Iterable[object],
    compute: Callable[[], T],
    timeout: int = FRAGMENT_TIMEOUT,
) -> T:
    """`compute()`'s value (anything the cache can pickle), kept until a write to one of `tables` or a change in `key`.

    `tables` must name every table `compute` reads (tests check it by capturing the
    queries of a cold call); `key` holds whatever else the value depends on. `name`
    should carry a version to bump when the value's shape changes.
    """
    stamps = versions(table_name(t) for t in tables)
    digest = hashlib.blake2b(repr((list(key), stamps)).encode(), digest_size=16).hexdigest()
    cache_key = f"fragment:{code_version()}:{name}:{digest}"
    found: Any = cache.get(cache_key, _MISSING)
    if found is not _MISSING:
        return cast(T, found)
    value = compute()
    cache.set(cache_key, value, timeout)
    return value


_MISSING = object()

# What the project's code and templates are made of: a deploy that changes either starts with
# an empty set of fragments, so no page shows HTML of a template that is gone (a version in
# each fragment's name would depend on someone remembering to bump it).
CODE_DIRS = ("config", "cohort", "exercises", "inference", "templates")


@functools.cache
def code_version() -> str:
    root = Path(settings.BASE_DIR)
    digest = hashlib.blake2b(digest_size=8)
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in {".py", ".html", ".txt"} and path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def fragment(
    name: str,
    *,
    tables: Iterable[str | type[models.Model]],
    key: Iterable[object],
    render: Callable[[], str],
    timeout: int = FRAGMENT_TIMEOUT,
) -> SafeString:
    """`render()`'s HTML, cached until a write to one of `tables` or a change in `key`.

    `tables` must name every table `render` reads (tests check it by capturing the
    queries of a cold render); `key` holds whatever else the HTML depends on: the
    viewer when it is personal, the time zone, a time bucket for relative times.
    `name` should carry a version to bump when the template changes.
    """
    html = cached(name, tables=tables, key=key, compute=lambda: str(render()), timeout=timeout)
    return mark_safe(html)  # noqa: S308 - our own template output, stored as rendered


def csrf_placeholder() -> str:
    """What a cached fragment holds where its forms' CSRF token goes (`form_fragment`).

    Derived from SECRET_KEY, so no one can type it into a question and have it replaced.
    """
    return "csrf-" + salted_hmac("table_versions.csrf_placeholder", "placeholder", algorithm="sha256").hexdigest()[:40]


def form_fragment(
    request: HttpRequest,
    name: str,
    *,
    tables: Iterable[str | type[models.Model]],
    key: Iterable[object],
    render: Callable[[str], str],
    timeout: int = FRAGMENT_TIMEOUT,
) -> SafeString:
    """`fragment` for HTML with forms: `render(csrf_token)` gets a placeholder as the token, and each
    response gets the viewer's own token in its place (a token cached with the HTML would be
    another viewer's, or stale after a sign-in rotates it: a 403 on submit).

    Pass the placeholder to the template as `csrf_token`; `{% csrf_token %}` writes it.
    """
    placeholder = csrf_placeholder()
    html = cached(name, tables=tables, key=key, compute=lambda: str(render(placeholder)), timeout=timeout)
    return mark_safe(html.replace(placeholder, get_token(request)))  # noqa: S308 - our output; the token is [A-Za-z0-9]


def _watch_writes(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    result = execute(sql, params, many, context)
    table = written_table(sql)
    if table is not None:
        bump(table)
        connection = context["connection"]
        if connection.in_atomic_block:
            _bump_after_commit(connection, table)
    return result


def _bump_after_commit(connection: BaseDatabaseWrapper, table: str) -> None:
    """One on-commit callback per transaction, holding every table it wrote.

    A savepoint rolled back takes its callbacks with it (Django drops them), so a write
    after that registers a new one rather than adding to a callback that will never run.
    """
    for entry in connection.run_on_commit:  # (savepoint ids, callback, robust)
        func = entry[1]
        pending: set[str] | None = getattr(func, "pending_tables", None)
        if pending is not None:
            pending.add(table)
            return
    tables = {table}

    def bump_written_tables() -> None:
        bump(*sorted(tables))

    bump_written_tables.pending_tables = tables  # type: ignore[attr-defined]  # found by the loop above
    transaction.on_commit(bump_written_tables, using=connection.alias)


@receiver(connection_created)
def watch_connection(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    # connection_created fires on every (re)connect of the same wrapper: add the watcher once.
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_writes)


def time_bucket(seconds: int = 60) -> int:
    """A key part that moves every `seconds`: for fragments holding relative times or now-based rules."""
    return int(time.time() // seconds)
