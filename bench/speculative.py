"""Speculative decoding speed-up over plain decoding, both draft kinds, two prompts, one run.

    .venv/bin/python bench/speculative.py

Target: smollm2-135m F16 (made from the shipped Q4_1 by the quantization lab);
drafts: prompt lookup, and the Q4_1 model itself. Greedy decoding, so every
speculative output is checked to equal the plain one. Wall-time ratios are
measured in the same process, one after the other.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import pages  # noqa: E402

PROMPTS = {
    "repetitive": "red, green, blue, red, green, blue, red, green, blue, red, green, blue, red,",
    "non-repetitive": "Write a short note to a friend about learning how language models work:",
}
NEW_TOKENS = 96
K = 4


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-spec-"))
    try:
        os.environ.update(pages.bench_env(tmp), DEBUG="true")
        import django

        import config  # noqa: F401

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        from bench.quantization import bench_lab
        from inference.engine import Engine, load_model
        from inference.provision import provision_smollm2
        from inference.quantization import quantize_variant
        from inference.sampling import SamplerParams
        from inference.speculative import ModelDraft, prompt_lookup, speculative_generate

        call_command("migrate", interactive=False, verbosity=0)
        q4 = provision_smollm2()
        f16 = quantize_variant(lab=bench_lab(q4, ["F16"]), model=q4, qtype="F16")
        target = Engine(load_model(f16.path, n_ctx=2048)[0])
        draft_engine = Engine(load_model(q4.path, n_ctx=1024)[0])
        greedy = SamplerParams(temperature=0)
        print(f"target {f16.slug} ({f16.size_bytes / 1e6:.0f} MB), draft {q4.slug} ({q4.size_bytes / 1e6:.0f} MB); "
              f"{settings.SANDBOX_N_THREADS} threads, greedy, {NEW_TOKENS} tokens, k={K}")  # fmt: skip
        print(f"{'prompt':16}{'draft':15}{'plain s':>9}{'spec s':>9}{'speed-up':>10}{'accepted':>10}  by position")
        for label, text in PROMPTS.items():
            ids = target.tokenize(text, special=False)
            target.generate(ids, params=greedy, seed=0, max_tokens=8, top_n_count=1)  # warm-up
            started = time.perf_counter()
            plain = target.generate(ids, params=greedy, seed=0, max_tokens=NEW_TOKENS, top_n_count=1)
            plain_s = time.perf_counter() - started
            drafts = {
                "prompt lookup": lambda ctx, k, rng: (prompt_lookup(ctx, k), None),
                "Q4_1 model": ModelDraft(draft_engine, greedy).propose,
            }
            for name, draft in drafts.items():
                spec = speculative_generate(target, ids, params=greedy, seed=0, max_tokens=NEW_TOKENS, k=K, draft=draft)
                same = spec.tokens == [t.id for t in plain.tokens]
                by_position = " ".join(f"{r:.2f}" if r is not None else "-" for r in spec.acceptance_by_position(K))
                print(f"{label:16}{name:15}{plain_s:9.2f}{spec.seconds:9.2f}{plain_s / spec.seconds:9.2f}x"
                      f"{spec.acceptance_rate:10.2f}  {by_position}{'' if same else '  OUTPUT DIFFERS'}")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
