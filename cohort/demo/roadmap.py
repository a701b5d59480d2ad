"""Demo data for `manage.py seed_demo`, written from the 13 March 2026 office hours.

Everything is keyed on natural keys (emails, slugs, positions) and written only
when it differs, so a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import models, transaction
from django.utils import timezone

from cohort import services
from cohort.models import Cohort, Membership, RoadmapStep, Role, StepResource, User

DEMO_PASSWORD = "firstbreak-demo"
COHORT_SLUG = "cohort-1"
PRACTICE_REPOSITORY = "first-break-ai/cohort-1-practice"
LEAD_EMAIL = "lead@example.com"
LEARNERS = [
    ("learner1@example.com", "Amara Okafor", "demo-learner-1"),
    ("learner2@example.com", "Bruno Silva", "demo-learner-2"),
    ("learner3@example.com", "Chen Wei", "demo-learner-3"),
]


@dataclass(frozen=True)
class StepSeed:
    position: int
    code: str
    slug: str
    title: str
    summary: str
    body: str
    resources: tuple[tuple[str, str], ...] = ()


STEPS: tuple[StepSeed, ...] = (
    StepSeed(
        1,
        "Step 1",
        "github-collaboration",
        "First use of AI for coding: collaborate on GitHub",
        "Branch, open a pull request, get it reviewed and merged, and resolve a merge conflict.",
        """Real projects have many contributors, so every change travels the same road:

1. **Branch**: never commit on `main`. Start a branch such as `git checkout -b fix-tokenizer-bug`.
2. **Commit** small changes with messages that say what and why.
3. **Push** the branch: `git push -u origin fix-tokenizer-bug`.
4. **Open a pull request** on GitHub and describe what you changed and why.
5. **Review**: teammates comment and may request changes; you push fixes to the same branch.
6. **Merge** once the pull request is approved.

### Merge conflicts

A conflict means two people changed the same lines, for example both edited `learning_rate`
in `train.py`. Git marks both versions in the file and lets you choose:

```bash
git checkout main
git pull origin main
git checkout my-feature
git merge main          # fix the marked lines, then:
git add train.py
git commit -m "resolve merge conflict in learning_rate"
```

In this cohort we **merge** `main` into our branch rather than rebase: the history shows what
happened and nobody's commits are rewritten. Rebasing is fine for tidying your own branch before
you open the pull request, never on a branch others use.

Real teams add guardrails: a protected `main`, required reviews and CI checks that must pass
before merging. Branch, pull request, review, merge covers most of what you will need.
""",
        (("About pull requests (GitHub Docs)", "https://docs.github.com/en/pull-requests"),),
    ),
    StepSeed(
        2,
        "Step 2",
        "run-qwen3-locally",
        "Run a model locally: Qwen3 0.6B in pure C",
        "Run Qwen3-0.6B in FP32 with a small C program and see tokenization, chat templates and sampling.",
        """In Step 2 you run **Qwen3-0.6B** with a plain C program (`qwen3.c`). Nothing is hidden:
tokenization, attention, the KV cache, RMSNorm, RoPE and sampling are all in the source.

What you will meet:

- **Tokenization**: the model reads subword tokens, not characters or words. Qwen3's vocabulary
  has 151,936 entries.
- **Chat templates**: messages become one string with `<|im_start|>` and `<|im_end|>` markers
  (ChatML) before the model sees them.
- **Temperature**: the model gives a score (logit) to every token; sampling uses
  `softmax(logits / temperature)`. Temperature 0 always picks the top token.
- **A probability machine**: each step is a distribution over the whole vocabulary, and the
  answer you read is a sequence of draws from those distributions.

We keep the weights in **FP32** (about 2.4 GB for 0.6B parameters): full precision, simple
`float*` code, and no quantization artifacts while you learn the math. Quantized formats come
in Step 3.
""",
        (("Qwen3 on Hugging Face", "https://huggingface.co/Qwen/Qwen3-0.6B"),),
    ),
    StepSeed(
        3,
        "Step 3",
        "inference-engines",
        "Inference engines: llama.cpp, vLLM and quantized models",
        "See what engines batch, cache and quantize, now that you wrote the single-request version.",
        """Engines such as **llama.cpp** and **vLLM** serve the same forward pass you traced in Step 2,
many requests at a time. Here you load **Q8** and **Q4** quantized models and learn what you
trade for the smaller size.

- **GGUF vs SafeTensors**: the same numbers in two containers. SafeTensors is the Hugging Face
  format for training and fine-tuning; GGUF packs weights, tokenizer, config and chat template
  into one file for local inference.
- **Precision**: FP32 uses 4 bytes a parameter, FP16 and BF16 use 2, INT8 one, INT4 half a byte.
  BF16 keeps FP32's range with less precision, which is why training prefers it.
- **Speculative decoding**: a small draft model proposes several tokens and the large target model
  checks them in one pass; accepted tokens come almost for free and the output stays the target's.
""",
    ),
    StepSeed(
        4,
        "Step 4",
        "training",
        "Training: the same forward pass, plus gradients",
        "Train and fine-tune small models; the forward pass is the one you already traced.",
        """Training runs the forward pass you know from Step 2, then computes gradients and updates
the weights. You will see why training prefers BF16 (range without overflow), how fine-tuning
differs from pre-training, and where memory goes.
""",
    ),
    StepSeed(
        5,
        "Project Watch",
        "project-watch-unsloth",
        "Project Watch: Unsloth",
        "A guided code reading of Unsloth: how fused kernels make Hugging Face models faster.",
        """Daniel Han's **Unsloth** keeps the Hugging Face API but swaps the default code paths at
runtime (monkey patching `.forward()`) for fused implementations that do several operations in
one GPU kernel launch. Same outputs, far less wasted memory traffic.

```python
model, tokenizer = FastQwen3Model.from_pretrained("Qwen/Qwen3-0.6B")
output = model.generate(inputs)
```

The deep dive traces every call from `from_pretrained()` down to the Triton kernels. Because
you implemented RMSNorm, RoPE and attention in C in Step 2, you will recognise each operation
Unsloth optimises. The path: understand the math, then the optimization, then the systems.
""",
        (("Unsloth on GitHub", "https://github.com/unslothai/unsloth"),),
    ),
)


def set_if_changed(obj: models.Model, **fields: object) -> None:
    """Save only the fields that differ, so a second seed run writes nothing."""
    changed = [name for name, value in fields.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, fields[name])
    if changed:
        obj.save(update_fields=changed)


def _user(email: str, *, name: str, github: str = "", staff: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name, github_username=github)
    elif not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    set_if_changed(user, name=name, github_username=github, is_staff=staff, is_superuser=staff)
    if github and user.github_confirmed_at is None:
        # The demo's usernames count as confirmed by a lead, so seeded deliveries link.
        user.github_confirmed_at = timezone.now()
        user.save(update_fields=["github_confirmed_at"])
    address = EmailAddress.objects.filter(user=user, email=email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    else:
        set_if_changed(address, verified=True, primary=True)
    return user


def _membership(user: User, cohort: Cohort, role: str, joined: dt.datetime) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        user=user, cohort=cohort, defaults={"role": role, "joined_at": joined}
    )
    set_if_changed(membership, role=role)
    return membership


@transaction.atomic
def seed_demo() -> Cohort:
    cohort = Cohort.objects.filter(slug=COHORT_SLUG).first()
    fields = {
        "name": "First Break AI · Cohort 1",
        "starts_on": dt.date(2026, 3, 2),
        # The program's own dates, stretched so the demo cohort is still running on the day it is seeded.
        "ends_on": max(dt.date(2026, 6, 26), timezone.localdate() + dt.timedelta(weeks=8)),
        "timezone": "Europe/London",
        "practice_repository": PRACTICE_REPOSITORY,
    }
    if cohort is None:
        cohort = Cohort.objects.create(slug=COHORT_SLUG, invite_code="FIRSTBREAK1", **fields)
    else:
        set_if_changed(cohort, **fields)

    steps = {}
    for seed in STEPS:
        step = RoadmapStep.objects.filter(cohort=cohort, slug=seed.slug).first()
        values = {
            "position": seed.position,
            "code": seed.code,
            "title": seed.title,
            "summary": seed.summary,
            "body": seed.body,
        }
        if step is None:
            step = RoadmapStep.objects.create(cohort=cohort, slug=seed.slug, **values)
        else:
            set_if_changed(step, **values)
        for position, (title, url) in enumerate(seed.resources):
            StepResource.objects.get_or_create(step=step, url=url, defaults={"title": title, "position": position})
        steps[seed.position] = step

    joined = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    lead = _user(LEAD_EMAIL, name="Session Lead", staff=True)
    _membership(lead, cohort, Role.LEAD, joined)
    learners = [
        _membership(_user(email, name=name, github=gh), cohort, Role.LEARNER, joined) for email, name, gh in LEARNERS
    ]

    # A cohort in motion: learner 1 finished Step 1 and works on Step 2,
    # learner 2 is on Step 1, learner 3 has not started. Fixed times keep reruns identical.
    first, second, _third = learners
    services.progress_focus_step(membership=first, step=steps[1], at=dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC))
    services.progress_set_completed(
        membership=first, step=steps[1], completed=True, at=dt.datetime(2026, 3, 9, 17, 0, tzinfo=dt.UTC)
    )
    services.progress_focus_step(membership=first, step=steps[2], at=dt.datetime(2026, 3, 12, 18, 30, tzinfo=dt.UTC))
    services.progress_focus_step(membership=second, step=steps[1], at=dt.datetime(2026, 3, 11, 8, 15, tzinfo=dt.UTC))
    return cohort
