"""Untrusted work (chat templates) runs in small helper processes that can be killed.

Some work a template can ask for runs in C (big integers, string padding,
`str()` of a huge nested list) where no Python-level watchdog can interrupt
it, and it would grow the process that does it. So the serving process (a web
worker, a Celery child) never renders an untrusted template itself: it hands
the job to one of a few helper processes and waits with a hard wall-clock
deadline. A helper that misses the deadline is killed and replaced; each
helper runs under an address-space limit (RLIMIT_AS), so the most it can grow
is that limit, and the serving process only ever holds a bounded reply.

Helpers are fresh interpreters (`python -m <module>`, fork + exec), never a
fork of the caller: a Celery child with a llama model loaded must not pass the
model (or its threads) on. They are started lazily on the first job and kept.

The protocol is one length-prefixed JSON frame each way.
"""

from __future__ import annotations

import json
import os
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("!I")
# A reply is the rendered prompt (at most 200,000 characters; JSON escapes make
# at most 12 bytes of one) plus an error message: what the caller can ever hold.
MAX_FRAME_BYTES = 8 * 1024 * 1024
STARTUP_TIMEOUT = 5.0
# Beyond the job's own time limit (enforced inside the helper, which can name the
# template line), how long the caller waits before it kills the helper.
KILL_GRACE = 0.4
# A helper is replaced after this many jobs, so no long-lived helper reaches its CPU limit.
JOBS_PER_HELPER = 500
CPU_SECONDS_PER_HELPER = 1200
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class PoolError(Exception):
    """The job did not finish in a helper; `reason` is timeout, memory, busy or crashed."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


# --- Frames ------------------------------------------------------------------------------


def encode_frame(payload: dict[str, Any]) -> bytes:
    # ASCII JSON: a lone surrogate a learner typed travels as an escape instead of failing to encode.
    body = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return _HEADER.pack(len(body)) + body


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, *, deadline: float | None = None) -> dict[str, Any] | None:
    """The next frame, None at end of file; TimeoutError past `deadline`, ValueError if oversized."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {size:,} bytes is over the {MAX_FRAME_BYTES:,}-byte limit")
    body = _read_exact(fd, size, deadline)
    if body is None:
        return None
    reply: dict[str, Any] = json.loads(body)
    return reply


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- The helper side ---------------------------------------------------------------------


def serve(handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The helper's main loop: limits first, then one reply per request until stdin closes."""
    memory = int(os.environ.get("RENDER_POOL_MEMORY_BYTES", "0"))
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS_PER_HELPER, CPU_SECONDS_PER_HELPER + 10))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # a helper writes no files
    # Frames go to the caller over the original stdout; anything printed goes to stderr.
    out = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _write_all(out, encode_frame({"ready": os.getpid()}))
    while True:
        request = read_frame(0)
        if request is None:
            return
        try:
            reply = handle(request)
        except MemoryError:
            reply = {"error": "memory"}
        _write_all(out, encode_frame(reply))
        if reply.get("retire"):
            return


# --- The caller side ---------------------------------------------------------------------


class _Helper:
    def __init__(self, module: str, memory_bytes: int) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(PROJECT_ROOT),
            "LANG": "C.UTF-8",
            # One malloc arena: the address-space limit then measures memory, not reservations.
            "MALLOC_ARENA_MAX": "1",
            "RENDER_POOL_MEMORY_BYTES": str(memory_bytes),
        }
        # A minimal environment: no secrets (SECRET_KEY, DATABASE_URL) for a template to find.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=PROJECT_ROOT,
            env=env,
            close_fds=True,
        )
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None  # both are PIPEs
        self.stdin_fd, self.stdout_fd = stdin.fileno(), stdout.fileno()
        self.jobs = 0
        started = time.monotonic()
        try:
            ready = read_frame(self.stdout_fd, deadline=started + STARTUP_TIMEOUT)
        except (TimeoutError, ValueError):
            ready = None
        if not ready or "ready" not in ready:
            self.kill()
            raise PoolError("the template renderer could not start", reason="crashed")
        self.startup_seconds = time.monotonic() - started

    def call(self, request: dict[str, Any], *, deadline: float) -> dict[str, Any]:
        self.jobs += 1
        _write_all(self.stdin_fd, encode_frame(request))
        reply = read_frame(self.stdout_fd, deadline=deadline)
        if reply is None:
            raise EOFError
        return reply

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class ProcessPool:
    """At most `size` helpers running `python -m module`, started lazily, one job each at a time."""

    def __init__(self, module: str, *, size: int, memory_mb: int) -> None:
        self.module = module
        self.size = size
        self._memory_mb = memory_mb
        self.memory_bytes = memory_mb * 1024 * 1024
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[_Helper] = []
        self._lock = threading.Lock()
        self.started = 0  # helpers started, for tests and the benchmark

    def call(self, request: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        """The helper's reply; PoolError when it took longer than `timeout` + a grace, died or was busy."""
        if not self._slots.acquire(timeout=timeout + KILL_GRACE):
            raise PoolError("all template renderers are busy; try again in a moment", reason="busy")
        try:
            return self._call(request, timeout=timeout)
        finally:
            self._slots.release()

    def _take(self) -> _Helper:
        with self._lock:
            while self._idle:
                helper = self._idle.pop()
                if helper.alive():
                    return helper
                helper.kill()
        helper = _Helper(self.module, self.memory_bytes)
        self.started += 1
        return helper

    def _call(self, request: dict[str, Any], *, timeout: float) -> dict[str, Any]:
        for attempt in (1, 2):
            helper = self._take()
            try:
                reply = helper.call(request, deadline=time.monotonic() + timeout + KILL_GRACE)
            except TimeoutError:
                helper.kill()
                self._replace_soon()
                raise PoolError(f"rendering took longer than {timeout:g} s and was stopped", reason="timeout") from None
            except BrokenPipeError:
                # An idle helper that died meanwhile (its CPU limit, someone's kill): start another, once.
                helper.kill()
                if attempt == 1:
                    continue
                raise PoolError("the template renderer stopped unexpectedly", reason="crashed") from None
            except (EOFError, ValueError):
                helper.kill()
                raise PoolError(
                    f"the template renderer stopped while rendering (more than {self._memory_mb} MB?)",
                    reason="crashed",
                ) from None
            except BaseException:
                # Interrupted while waiting (a Celery soft time limit): the helper's state is unknown.
                helper.kill()
                raise
            if reply.get("error") == "memory" or reply.get("retire") or helper.jobs >= JOBS_PER_HELPER:
                helper.kill()  # its heap may be fragmented and large: start clean next time
                self._replace_soon()
            else:
                with self._lock:
                    self._idle.append(helper)
            if reply.get("error") == "memory":
                raise PoolError(f"the template needed more than the {self._memory_mb} MB it may use", reason="memory")
            return reply
        raise AssertionError("unreachable")

    def warm(self) -> None:
        """Start helpers until `size` are idle (a process that expects templates may call it early)."""
        while True:
            with self._lock:
                if len(self._idle) >= self.size:
                    return
            helper = _Helper(self.module, self.memory_bytes)
            with self._lock:
                self._idle.append(helper)
                self.started += 1

    def _replace_soon(self) -> None:
        """Start a helper in the background for the next job, so it does not wait for a start-up."""

        def start() -> None:
            try:
                helper = _Helper(self.module, self.memory_bytes)
            except PoolError:
                return
            with self._lock:
                if len(self._idle) < self.size:
                    self._idle.append(helper)
                    self.started += 1
                    return
            helper.kill()

        threading.Thread(target=start, name="render-pool-start", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            helpers, self._idle = self._idle, []
        for helper in helpers:
            helper.kill()


_pools: dict[str, ProcessPool] = {}
_pools_lock = threading.Lock()


def get_pool(module: str) -> ProcessPool:
    """The process-wide pool for `module`, sized by the SANDBOX_TEMPLATE_* settings."""
    pool = _pools.get(module)
    if pool is None:
        with _pools_lock:
            pool = _pools.get(module)
            if pool is None:
                from django.conf import settings

                size = getattr(settings, "SANDBOX_TEMPLATE_PROCESSES", 2) if settings.configured else 2
                memory = getattr(settings, "SANDBOX_TEMPLATE_MEMORY_MB", 256) if settings.configured else 256
                pool = _pools[module] = ProcessPool(module, size=size, memory_mb=memory)
    return pool


def _forget_pools_after_fork() -> None:
    # A forked child (gunicorn with preload, Celery's prefork pool) must not share the
    # parent's helpers or their pipes; it starts its own when it first needs one.
    global _pools_lock
    _pools.clear()
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)
