"""Continuous batching: every active run of a model is one sequence of one llama.cpp context.

One `BatchEngine` per loaded model per worker process owns a llama.cpp context
with `SANDBOX_BATCH_SEQUENCES` sequences and one engine thread. Each step
decodes one token for every active sequence in one `llama_decode`, then samples
every sequence (the full-vocabulary work for the whole batch as one numpy
call each). Runs join between steps and leave as soon as they end, freeing
their KV cells (`llama_memory_seq_rm`).

The engine thread never touches the database: the Celery task thread of each
run waits for a slot (`BatchEngine.reserve`, a fair order across learners),
claims the run, submits it, and streams its tokens to the database while the
engine generates. Cancel and time limits are flags the task thread sets; the
engine drops the sequence at its next step.

Reproducibility: the KV cache is *not* unified (`kv_unified = False`), so each
sequence has its own stream of `SANDBOX_BATCH_SEQ_CTX` cells laid out exactly
as if it ran alone; a prompt is evaluated in its own `llama_decode` (as alone);
and every per-sequence computation depends only on that sequence's row of
logits. `tests/inference/test_batching.py` checks that a run gives the same
tokens and probabilities alone and beside 15 others on each shipped model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from inference.batch_sampler import sample_rows
from inference.engine import Generation
from inference.sampling import SamplerParams

logger = logging.getLogger(__name__)


class BatchError(Exception):
    """llama.cpp refused a decode; the runs in the batch fail with a clear message."""


@dataclass(eq=False)
class Job:
    """One run inside the engine. The task thread reads `generation` while the engine appends to it."""

    run_id: int
    learner: int  # membership id: the unit of fairness
    prompt_ids: list[int]
    params: SamplerParams
    seed: int
    max_tokens: int
    top_n: int
    forced: Sequence[int] = ()
    generation: Generation = field(default_factory=Generation)
    stop_reason: str = ""  # set by the task thread: "cancelled" or "timeout"
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    # Engine-side state.
    seq: int = -1
    history: list[int] = field(default_factory=list)
    rng: Any = None
    pending_token: int = -1  # the token to feed at the next step
    prompt_logits: np.ndarray | None = None  # the prompt's last row, until the first step samples it
    started: float = 0.0

    def stop(self, reason: str) -> None:
        if not self.stop_reason:
            self.stop_reason = reason


@dataclass(eq=False)
class _Reservation:
    learner: int
    arrived: int
    granted: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False


class BatchEngine:
    def __init__(
        self, path: str, *, n_seq: int, seq_ctx: int, n_threads: int, n_threads_batch: int | None = None
    ) -> None:
        import llama_cpp

        from inference.engine import Engine, load_vocab

        self.path = path
        self.n_seq = n_seq
        self.seq_ctx = seq_ctx
        self._llama_cpp = llama_cpp
        self.vocab_engine = Engine(load_vocab(path))
        model_params = llama_cpp.llama_model_default_params()
        self._model = llama_cpp.llama_model_load_from_file(path.encode(), model_params)
        if not self._model:
            raise BatchError(f"could not load {path}")
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_seq * seq_ctx
        params.n_batch = 512
        params.n_ubatch = 512
        params.n_seq_max = n_seq
        params.kv_unified = False  # one stream per sequence: the same cell layout as alone
        # llama.cpp takes n_threads for a one-token step and n_threads_batch for more tokens.
        params.n_threads = n_threads
        params.n_threads_batch = n_threads_batch or n_threads
        # As llama-cpp-python's Llama: flash attention off, so every path computes alike.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise BatchError("could not create the batch context")
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(self._model))
        self._batch = llama_cpp.llama_batch_init(512, 0, 1)
        self._bytes: dict[int, bytes] = {}
        self._eog: dict[int, bool] = {}
        self._lock = threading.Condition()
        self._waiting: list[_Reservation] = []
        self._arrivals = 0
        self._seats: dict[int, int] = {}  # learner -> reserved or active slots
        self._reserved = 0
        self._incoming: deque[Job] = deque()
        self.active: dict[int, Job] = {}
        self._free_seqs = list(range(n_seq - 1, -1, -1))
        self._recent: deque[tuple[float, int]] = deque()  # (time, tokens) of recent steps
        self.tokens_total = 0
        self.prefix_copies = 0
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=f"batch-{path.rsplit('/', 1)[-1]}", daemon=True)
        self._thread.start()

    # --- Task-thread side ---------------------------------------------------------

    def reserve(self, learner: int, *, timeout: float | None = None) -> bool:
        """Wait for a slot in the batch. Slots go to the waiting learner with the fewest
        slots, then first come: a learner's burst does not starve a newcomer."""
        with self._lock:
            if self._closing:  # evicted after the caller looked it up: take the new engine
                return False
            self._arrivals += 1
            reservation = _Reservation(learner=learner, arrived=self._arrivals)
            self._waiting.append(reservation)
            self._grant()
        if reservation.granted.wait(timeout):
            return True
        with self._lock:
            if reservation.granted.is_set():
                return True
            reservation.cancelled = True
            self._waiting.remove(reservation)
            return False

    def release(self, learner: int) -> None:
        """Give back a slot that was reserved but not used (the claim failed)."""
        with self._lock:
            self._unseat(learner)
            self._grant()

    def submit(self, job: Job) -> None:
        """Hand a reserved slot's run to the engine; it joins at the next step."""
        with self._lock:
            self._incoming.append(job)
            self._lock.notify_all()

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0][0] > 10:
                self._recent.popleft()
            recent = sum(n for _, n in self._recent)
            span = now - self._recent[0][0] if self._recent else 0.0
            return {
                "active_sequences": len(self.active) + len(self._incoming),
                "waiting_for_a_slot": len(self._waiting),
                "max_sequences": self.n_seq,
                "tokens_per_second": round(recent / span, 1) if span > 0.5 else 0.0,
                "tokens_total": self.tokens_total,
            }

    # --- Fair slots -----------------------------------------------------------------

    def _grant(self) -> None:
        cap = settings.SANDBOX_BATCH_PER_LEARNER
        while self._waiting and self._reserved < self.n_seq:
            eligible = [r for r in self._waiting if self._seats.get(r.learner, 0) < cap]
            if not eligible:
                return
            chosen = min(eligible, key=lambda r: (self._seats.get(r.learner, 0), r.arrived))
            self._waiting.remove(chosen)
            self._seats[chosen.learner] = self._seats.get(chosen.learner, 0) + 1
            self._reserved += 1
            chosen.granted.set()

    def _unseat(self, learner: int) -> None:
        self._reserved -= 1
        left = self._seats.get(learner, 0) - 1
        if left > 0:
            self._seats[learner] = left
        else:
            self._seats.pop(learner, None)

    # --- Engine thread ----------------------------------------------------------------

    def idle(self) -> bool:
        with self._lock:
            return not (self.active or self._incoming or self._waiting or self._reserved)

    def close(self) -> None:
        """Stop the engine thread and free the context and the model (only when idle)."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        self._thread.join(timeout=10)
        self._llama_cpp.llama_batch_free(self._batch)
        self._llama_cpp.llama_free(self._ctx)
        self._llama_cpp.llama_model_free(self._model)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._incoming and not self.active and not self._closing:
                    self._lock.wait()
                if self._closing:
                    return
                joining = list(self._incoming)
                self._incoming.clear()
            try:
                self._join(joining)
                if self.active:
                    self._step()
            except Exception:
                logger.exception("batch step failed for %s", self.path)
                for job in list(self.active.values()):
                    self._leave(job, error="The model failed while generating this run.")

    def _token_bytes(self, token_id: int) -> bytes:
        value = self._bytes.get(token_id)
        if value is None:
            value = self._bytes[token_id] = self.vocab_engine.token_bytes(token_id)
        return value

    def _is_eog(self, token_id: int) -> bool:
        value = self._eog.get(token_id)
        if value is None:
            value = self._eog[token_id] = bool(
                self._llama_cpp.llama_vocab_is_eog(self._llama_cpp.llama_model_get_vocab(self._model), token_id)
            )
        return value

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One llama_decode of (token, pos, seq, wants logits) entries."""
        batch = self._batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        batch.n_tokens = len(entries)
        status = self._llama_cpp.llama_decode(self._ctx, batch)
        if status != 0:
            raise BatchError(f"llama_decode returned {status}")

    def _logits_rows(self, count: int, *, copy: bool = True) -> np.ndarray:
        """The logits of the first `count` outputs of the last decode, as [count, vocab].
        Without `copy` a view, valid until the next decode."""
        pointer = self._llama_cpp.llama_get_logits(self._ctx)
        rows = np.ctypeslib.as_array(pointer, shape=(count, self.n_vocab))
        return rows.copy() if copy else rows

    def _evaluate_prompt(self, job: Job) -> np.ndarray:
        """The prompt in its own decode calls (as alone), in chunks of the batch size."""
        ids = job.prompt_ids
        for start in range(0, len(ids), 512):
            chunk = ids[start : start + 512]
            last = start + len(chunk) == len(ids)
            self._decode([(t, start + i, job.seq, last and i == len(chunk) - 1) for i, t in enumerate(chunk)])
        return np.asarray(self._logits_rows(1)[0])

    def _join(self, joining: list[Job]) -> None:
        if not joining:
            return
        prompt_logits: dict[tuple[int, ...], tuple[Job, np.ndarray]] = {}
        for job in joining:
            job.seq = self._free_seqs.pop()
            job.started = time.monotonic()
            job.history = list(job.prompt_ids)
            job.rng = np.random.default_rng(job.seed)
            key = tuple(job.prompt_ids)
            try:
                shared = prompt_logits.get(key) or self._sharing_source(key)
                if shared is not None:
                    source, logits = shared
                    copy_prefix(self._llama_cpp, self._mem, source.seq, job.seq, len(job.prompt_ids))
                    self.prefix_copies += 1
                else:
                    logits = self._evaluate_prompt(job)
                prompt_logits[key] = (job, logits)
                job.generation.prompt_seconds = time.monotonic() - job.started
            except Exception:
                logger.exception("prompt evaluation failed for run %s", job.run_id)
                self.active[job.seq] = job
                self._leave(job, error="The model could not read this prompt.")
                continue
            job.prompt_logits = logits
            self.active[job.seq] = job
        # The first token of every joining run comes from its prompt's logits.
        fresh = [job for job in joining if job.seq in self.active and self.active[job.seq] is job]
        if fresh:
            rows = np.stack([job.prompt_logits for job in fresh if job.prompt_logits is not None])
            self._sample(fresh, rows)

    def _sharing_source(self, key: tuple[int, ...]) -> tuple[Job, np.ndarray] | None:
        """An active run with the same prompt whose prompt logits are kept: its cells can be copied."""
        for job in self.active.values():
            logits = job.prompt_logits
            if logits is not None and tuple(job.prompt_ids) == key:
                return job, logits
        return None

    def _step(self) -> None:
        started = time.monotonic()
        jobs = [job for job in self.active.values() if job.pending_token >= 0]
        for job in list(self.active.values()):
            if job.stop_reason:
                self._leave(job)
        jobs = [job for job in jobs if job.seq in self.active]
        if not jobs:
            return
        self._decode([(job.pending_token, len(job.history) - 1, job.seq, True) for job in jobs])
        rows = self._logits_rows(len(jobs), copy=False)  # sampled before the next decode
        self._sample(jobs, rows)
        with self._lock:
            self._recent.append((started, len(jobs)))
            self.tokens_total += len(jobs)

    def _sample(self, jobs: list[Job], rows: np.ndarray) -> None:
        picks = sample_rows(rows, jobs)
        now = time.monotonic()
        for job, pick in zip(jobs, picks, strict=True):
            token_id = pick.id
            pick.text = self.vocab_engine.token_text(token_id)
            pick.top_model = self.vocab_engine.choices(pick.top_model)  # type: ignore[arg-type]  # sample_rows left (id, p) pairs
            pick.top_sampled = self.vocab_engine.choices(pick.top_sampled)  # type: ignore[arg-type]  # as above
            generation = job.generation
            if not generation.tokens:
                generation.first_token_seconds = now - job.started
            generation.tokens.append(pick)
            if self._is_eog(token_id):
                self._leave(job, reason="stop")
                continue
            generation.output_bytes += self._token_bytes(token_id)
            job.history.append(token_id)
            if job.stop_reason:
                self._leave(job)
            elif len(generation.tokens) >= job.max_tokens:
                self._leave(job, reason="length")
            elif len(job.history) >= self.seq_ctx:
                self._leave(job, reason="context")
            else:
                job.pending_token = token_id

    def _leave(self, job: Job, *, reason: str = "", error: str = "") -> None:
        self.active.pop(job.seq, None)
        self._llama_cpp.llama_memory_seq_rm(self._mem, job.seq, -1, -1)
        self._free_seqs.append(job.seq)
        job.generation.finish_reason = reason or job.stop_reason or "error"
        job.generation.generate_seconds = time.monotonic() - job.started - job.generation.prompt_seconds
        job.error = error
        job.prompt_logits = None
        with self._lock:
            self._unseat(job.learner)
            self._grant()
        job.done.set()


def copy_prefix(llama_cpp: Any, mem: Any, source: int, target: int, length: int) -> None:
    """Give `target` the KV cells of `source`'s first `length` positions.

    Streams are separate (see the module docstring), so llama.cpp copies the
    whole stream; the positions after the shared prompt are then dropped.
    """
    llama_cpp.llama_memory_seq_rm(mem, target, -1, -1)
    llama_cpp.llama_memory_seq_cp(mem, source, target, -1, -1)
    llama_cpp.llama_memory_seq_rm(mem, target, length, -1)


# --- One engine per model per process ---------------------------------------------------

_engines: dict[str, BatchEngine] = {}
_engines_lock = threading.Lock()
load_count = 0  # models loaded in this process; a worker should load each once


def engine_for(path: str) -> tuple[BatchEngine, float]:
    """The batch engine of the model at `path` in this process, created on first use.
    Returns (engine, seconds spent loading, 0.0 when it already existed)."""
    global load_count
    with _engines_lock:
        engine = _engines.get(path)
        if engine is not None:
            return engine, 0.0
        # Keep at most SANDBOX_MODEL_CACHE_SIZE engines: each holds its KV cells. Only an idle
        # one is closed; while all are busy the new one comes on top for a while.
        for other_path, other in list(_engines.items()):
            if len(_engines) < settings.SANDBOX_MODEL_CACHE_SIZE:
                break
            if other.idle():
                del _engines[other_path]
                other.close()
        load_count += 1
        started = time.perf_counter()
        engine = BatchEngine(
            path,
            n_seq=settings.SANDBOX_BATCH_SEQUENCES,
            seq_ctx=settings.SANDBOX_BATCH_SEQ_CTX,
            n_threads=settings.SANDBOX_N_THREADS,
            n_threads_batch=settings.SANDBOX_N_THREADS_BATCH,
        )
        _engines[path] = engine
        return engine, time.perf_counter() - started


def worker_stats() -> dict[str, Any]:
    """What operators see in the worker's heartbeat: per model, sequences, waiting runs, tokens/s."""
    with _engines_lock:
        engines = dict(_engines)
    per_model = {path.rsplit("/", 1)[-1]: engine.stats() for path, engine in engines.items()}
    return {
        "active_sequences": sum(s["active_sequences"] for s in per_model.values()),
        "waiting_for_a_slot": sum(s["waiting_for_a_slot"] for s in per_model.values()),
        "tokens_per_second": round(sum(s["tokens_per_second"] for s in per_model.values()), 1),
        "models": per_model,
    }
