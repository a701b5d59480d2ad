"""Token-by-token generation with llama-cpp-python, reading the logits ourselves.

`create_completion(logprobs=...)` needs `logits_all`, which keeps n_ctx x n_vocab
floats and is about 4x slower; evaluating one token at a time and reading the
last row of logits costs nothing extra and gives the full distribution, so every
token can be shown with its probability before and after sampling.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from inference.sampling import SamplerParams, draw, entropy_bits, sampling_distribution, softmax, top_n

logger = logging.getLogger(__name__)

_models: OrderedDict[tuple[str, int], Any] = OrderedDict()
_lock = threading.Lock()
load_count = 0  # loads in this process; a worker child should load each model once


def load_model(path: str, *, n_ctx: int) -> tuple[Any, float]:
    """The Llama object for `path`, loaded on first use in this process and kept (bounded LRU).

    Returns (llm, seconds spent loading, 0.0 when it was cached). Never call this in
    a parent process that forks afterwards: a loaded model does not survive a fork.
    """
    global load_count
    from llama_cpp import Llama

    key = (path, n_ctx)
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key], 0.0
        started = time.perf_counter()
        llm = Llama(
            model_path=path,
            n_ctx=n_ctx,
            n_threads=settings.SANDBOX_N_THREADS,
            n_threads_batch=settings.SANDBOX_N_THREADS_BATCH,
            logits_all=False,
            verbose=False,
        )
        load_count += 1
        _models[key] = llm
        while len(_models) > settings.SANDBOX_MODEL_CACHE_SIZE:
            _models.popitem(last=False)
        logger.info("loaded %s in pid %s (load %s)", path, os.getpid(), load_count)
        return llm, time.perf_counter() - started


_vocabs: dict[str, Any] = {}


def load_vocab(path: str) -> Any:
    """A vocabulary-only Llama (no weights): what the web process needs to tokenize."""
    from llama_cpp import Llama

    with _lock:
        if path not in _vocabs:
            _vocabs[path] = Llama(model_path=path, vocab_only=True, verbose=False)
        return _vocabs[path]


@atexit.register
def _close_models() -> None:
    # Free models before the interpreter tears down the modules their finalisers need.
    for cache in (_models, _vocabs):
        while cache:
            _, llm = cache.popitem()
            llm.close()


@dataclass
class GeneratedToken:
    id: int
    text: str
    p_model: float
    p_sampled: float
    top_model: list[dict[str, Any]]
    top_sampled: list[dict[str, Any]]
    entropy_bits: float = 0.0  # of the distribution the token was drawn from

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "p_model": self.p_model,
            "p_sampled": self.p_sampled,
            "top_model": self.top_model,
            "top_sampled": self.top_sampled,
            "entropy_bits": self.entropy_bits,
        }


@dataclass
class Generation:
    tokens: list[GeneratedToken] = field(default_factory=list)
    output_bytes: bytes = b""
    finish_reason: str = ""
    prompt_seconds: float = 0.0
    generate_seconds: float = 0.0
    first_token_seconds: float = 0.0

    @property
    def output_text(self) -> str:
        return self.output_bytes.decode("utf-8", errors="replace")


class Engine:
    """One loaded model: tokenization, detokenization and sampling with full probabilities."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self.llm = llm
        self._llama_cpp = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        self.n_vocab = llm.n_vocab()
        self._text_cache: dict[int, str] = {}

    def tokenize(self, text: str, *, special: bool, add_bos: bool = False) -> list[int]:
        if not text:
            return []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special))

    def token_bytes(self, token_id: int) -> bytes:
        data: bytes = self.llm.detokenize([token_id], special=True)
        return data

    def token_text(self, token_id: int) -> str:
        text = self._text_cache.get(token_id)
        if text is None:
            text = self.token_bytes(token_id).decode("utf-8", errors="replace")
            self._text_cache[token_id] = text
        return text

    def is_special(self, token_id: int) -> bool:
        # Control and user-defined tokens render differently with special=False.
        plain: bytes = self.llm.detokenize([token_id], special=False)
        return plain != self.token_bytes(token_id)

    def is_end_of_generation(self, token_id: int) -> bool:
        return bool(self._llama_cpp.llama_vocab_is_eog(self._vocab, token_id))

    def _last_logits(self) -> np.ndarray:
        pointer = self.llm._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()

    def choices(self, pairs: list[tuple[int, float]]) -> list[dict[str, Any]]:
        """(id, p) pairs as the API shows them: with each token's text."""
        return [{"id": i, "text": self.token_text(i), "p": p} for i, p in pairs]

    def logits_after(self, prompt_ids: Sequence[int], generated: Sequence[int]) -> np.ndarray:
        """Next-token logits after the prompt and `generated`, evaluated as `generate` does
        (prompt in one batch, then token by token): batched and one-at-a-time evaluation
        differ in the last digits, which a quantized model at low temperature can show."""
        self.llm.reset()
        self.llm.eval(list(prompt_ids))
        for token_id in generated:
            self.llm.eval([token_id])
        return self._last_logits().astype(np.float64)

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        params: SamplerParams,
        seed: int,
        max_tokens: int,
        top_n_count: int,
        on_token: Callable[[GeneratedToken, Generation], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        forced: Sequence[int] = (),
    ) -> Generation:
        """Generate up to `max_tokens` after `prompt_ids`.

        `forced` tokens are taken instead of drawn (for branching): their
        probabilities are still recorded, and the random stream advances as if
        they had been drawn, so a branch matches a fresh run forced the same way.
        """
        result = Generation()
        rng = np.random.default_rng(seed)
        history = list(prompt_ids)
        self.llm.reset()
        started = time.perf_counter()
        self.llm.eval(list(prompt_ids))
        result.prompt_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for step in range(max_tokens):
            if should_stop is not None and should_stop():
                result.finish_reason = "cancelled"
                break
            logits = self._last_logits()
            raw = softmax(logits)
            trace = sampling_distribution(logits, history, params, raw_probs=raw)
            final = trace.final
            drawn = draw(rng, final)
            token_id = int(forced[step]) if step < len(forced) else drawn
            position = np.nonzero(final.ids == token_id)[0]
            token = GeneratedToken(
                id=token_id,
                text=self.token_text(token_id),
                p_model=float(raw[token_id]),
                p_sampled=float(final.probs[position[0]]) if len(position) else 0.0,
                top_model=self.choices(top_n(raw, np.arange(self.n_vocab), top_n_count)),
                top_sampled=self.choices(top_n(final.probs, final.ids, top_n_count)),
                entropy_bits=entropy_bits(final.probs),
            )
            result.tokens.append(token)
            if step == 0:
                result.first_token_seconds = result.prompt_seconds + (time.perf_counter() - started)
            if self.is_end_of_generation(token_id):
                result.finish_reason = "stop"
                if on_token is not None:
                    on_token(token, result)
                break
            result.output_bytes += self.token_bytes(token_id)
            history.append(token_id)
            if on_token is not None:
                on_token(token, result)
            if len(history) >= self.llm.n_ctx():
                result.finish_reason = "context"
                break
            self.llm.eval([token_id])
        else:
            result.finish_reason = "length"
        result.generate_seconds = time.perf_counter() - started
        return result


def quantize_file(source: str, dest: str, *, ftype: int, nthread: int) -> int:
    """Write `source` requantized to llama.cpp file type `ftype` at `dest`; llama.cpp's return code (0 is success).

    The offline sources are already quantized, and llama.cpp refuses to requantize unless told.
    No importance matrix: the same source and llama.cpp build give the same bytes.
    """
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    params.nthread = nthread
    return int(llama_cpp.llama_model_quantize(source.encode(), dest.encode(), params))
