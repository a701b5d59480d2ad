"""The quantization lab's variant table for smollm2-135m, printed.

.venv/bin/python bench/quantization.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import pages  # noqa: E402


def bench_lab(source, types):  # type: ignore[no-untyped-def]
    """A quantization lab of one bench learner: variants belong to a learner's lab."""
    from django.utils import timezone

    from cohort.models import Cohort, Membership, User
    from inference.models import LabJob, LabKind

    today = timezone.localdate()
    cohort, _ = Cohort.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "starts_on": today, "ends_on": today}
    )
    user = User.objects.filter(email="bench@example.com").first() or User.objects.create_user(email="bench@example.com")  # type: ignore[attr-defined]
    membership, _ = Membership.objects.get_or_create(user=user, cohort=cohort)
    return LabJob.objects.create(
        membership=membership, model=source, kind=LabKind.QUANTIZATION, input={"types": list(types)}
    )


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="firstbreak-bench-quant-"))
    try:
        os.environ.update(pages.bench_env(tmp), DEBUG="true")
        import django

        import config  # noqa: F401

        django.setup()
        from django.core.management import call_command

        from inference.provision import provision_smollm2
        from inference.quantization import compare_variants, quantize_variant

        call_command("migrate", interactive=False, verbosity=0)
        source = provision_smollm2()
        types = ("F16", "Q8_0", "Q4_K_M", "Q4_0")
        lab = bench_lab(source, types)
        variants = [source] + [quantize_variant(lab=lab, model=source, qtype=t) for t in types]
        table = compare_variants(variants)
        print(
            f"smollm2-135m variants; quality against the most precise one over {table['text_tokens']} tokens of fixed text"
        )
        print(
            f"{'variant':10}{'MB':>8}{'load ms':>9}{'tok/s':>8}{'greedy agree':>14}{'top-1 agree':>13}{'mean KL':>10}"
        )
        for row in table["rows"]:
            print(f"{row['quantization']:10}{row['size_bytes'] / 1e6:8.1f}{row['load_ms']:9.0f}{row['tokens_per_second']:8.1f}"
                  f"{row['greedy_agreement']:14.2f}{row['top1_agreement']:13.3f}{row['mean_kl']:10.4f}")  # fmt: skip
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
