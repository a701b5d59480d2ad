"""Office hours for the demo cohort: Session 1 of 13 March 2026, its topics, questions and recap.

Called by `manage.py seed_demo` after `cohort.demo.seed_demo()`. Rows are keyed
on natural keys (session number, topic position, question author and time) and
written only when they differ, so a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import models, transaction

from cohort.demo import LEAD_EMAIL
from cohort.models import (
    Cohort,
    Membership,
    OfficeHoursSession,
    QuestionVote,
    RoadmapStep,
    SessionQuestion,
    SessionStatus,
    SessionTopic,
)

SESSION_STARTS_AT = dt.datetime(2026, 3, 13, 17, 0, tzinfo=dt.UTC)
ANSWERED_AT = dt.datetime(2026, 3, 13, 17, 25, tzinfo=dt.UTC)
RECAP_PUBLISHED_AT = dt.datetime(2026, 3, 13, 20, 30, tzinfo=dt.UTC)

TOPICS: tuple[tuple[str, str | None, str], ...] = (
    (
        "GitHub collaboration: pull requests, merge conflicts, rebasing",
        "github-collaboration",
        "The whole road a change travels on a team: branch, push, pull request, review, merge. "
        "Then what a conflict is, how to resolve one, and why we merge `main` rather than rebase.",
    ),
    (
        "Qwen3 inference concepts",
        "run-qwen3-locally",
        "Temperature, chat templates, why text becomes tokens, special tokens, speculative decoding, "
        "LLMs as probability machines, GGUF vs SafeTensors, precision and quantization, and why Step 2 is in C.",
    ),
    (
        "Cohort-based community learning",
        None,
        "What office hours are for, and how learning in a cohort differs from a self-paced course.",
    ),
    (
        "Unsloth and LLM efficiency",
        "project-watch-unsloth",
        "How Daniel Han's Unsloth swaps Hugging Face code paths for fused GPU kernels without changing your code.",
    ),
)

# (learner email, asked at, body, answered under topic position or None, voters' emails)
QUESTIONS: tuple[tuple[str, dt.datetime, str, int | None, tuple[str, ...]], ...] = (
    (
        "learner2@example.com",
        dt.datetime(2026, 3, 12, 9, 40, tzinfo=dt.UTC),
        "If temperature 0 always picks the most likely token, why is the default 1.0? "
        "Doesn't sampling just add mistakes?",
        2,
        ("learner1@example.com", "learner3@example.com"),
    ),
    (
        "learner3@example.com",
        dt.datetime(2026, 3, 12, 21, 5, tzinfo=dt.UTC),
        "Do I need a GPU for the Project Watch: Unsloth code reading, or can I follow it on a laptop?",
        None,
        ("learner1@example.com",),
    ),
)

RECAP = """Session 1 of First Break AI office hours: four topics from the roadmap, worked through live with the cohort.

| # | Topic | Roadmap |
| --- | --- | --- |
| 1 | GitHub collaboration: pull requests, merge conflicts, rebasing | Step 1 |
| 2 | Qwen3 inference concepts | Step 2 |
| 3 | Cohort-based community learning | (none) |
| 4 | Unsloth and LLM efficiency | Project Watch |

## 1. GitHub collaboration

*Roadmap: Step 1, first use of AI for coding.*

Committing is the easy part. What a team needs is a shared route for every change, so nobody
overwrites anybody else. A pull request (PR) is your proposal to bring a branch into `main`:

```mermaid
flowchart TD
    A["Create a branch<br>git checkout -b my-feature"] --> B["Edit and commit"]
    B --> C["Push the branch<br>git push -u origin my-feature"]
    C --> D["Open a pull request<br>your branch compared with main"]
    D --> E["Review<br>teammates read and comment"]
    E --> F{Approved?}
    F -- Yes --> G["Merge into main"]
    F -- Changes requested --> B
```

1. **Branch**: never commit straight to `main`; start something like `fix-tokenizer-bug`.
2. **Commit** with messages that say what changed and why.
3. **Push** the branch to GitHub.
4. **Open the PR** ("Compare & pull request") and describe the change.
5. **Review**: teammates comment or ask for changes; you push fixes to the same branch.
6. **Merge** once it is approved.

### Merge conflicts

A conflict appears when two people change the same lines of the same file. Say you and a
teammate both edit `train.py` and their PR lands in `main` first: Git cannot choose between the
two versions, so it asks you. Bring `main` into your branch:

```bash
git checkout main
git pull origin main
git checkout my-feature
git merge main
```

Git marks both versions in the file:

```text
<<<<<<< HEAD
learning_rate = 3e-4
=======
learning_rate = 1e-3
>>>>>>> main
```

Keep the right line (or combine them), delete the markers, then record the resolution:

```bash
git add train.py
git commit -m "resolve merge conflict in learning_rate"
```

### Merge or rebase?

`git merge main` adds a merge commit, so the history shows exactly when the branches met.
`git rebase main` replays your commits on top of the latest `main` for a straight-line history,
but it gives your commits new hashes, which hurts anyone else working on that branch.

**For this cohort: merge, and resolve conflicts.** It is safer and easier to follow. Rebase is
fine for tidying your own branch before you open the PR, never on a branch other people use.

Real teams add guardrails on top: a protected `main` nobody pushes to directly, at least one
required approval, and CI checks that must pass before the merge button works. Some choose merge
commits, some squash or rebase-and-merge. Branch, PR, review, merge covers most of what you need.

## 2. Qwen3 inference concepts

*Roadmap: Step 2, run a model locally (and the Step 2 blog post).*

### Temperature

For every position the model scores each token in its vocabulary (151,936 of them for Qwen3).
Softmax turns those scores (logits) into probabilities, and temperature divides the logits first:

```python
probabilities = softmax(logits / temperature)
```

- **0 (greedy)**: always take the top token. Same input, same output.
- **Below 1**: a sharper distribution; the favourite wins even more often.
- **1.0**: the model's own distribution.
- **Above 1**: a flatter distribution; unlikely tokens get picked more, output gets more varied.

Lesson 7 of the Step 2 blog traces this through the code.

### Chat templates

The model never sees "Hello, how are you?" on its own. Qwen3 uses the ChatML layout, where special
tokens mark who is speaking and where each message ends:

```text
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
Hello, how are you?<|im_end|>
<|im_start|>assistant
```

Without it the model cannot tell the roles apart or know when its turn starts. Lesson 3 of the
Step 2 blog walks through the whole template.

### Why tokens, and special tokens

Characters would make sequences far too long; whole words would need an endless vocabulary and
still miss new words. Subword tokens sit in between: common words are one token, rare words split
into pieces, and about 150,000 of them cover nearly any text.

Some tokens are not text at all but signals: `<|im_start|>` opens a message, `<|im_end|>` closes
it and `<|endoftext|>` ends the document. Training teaches the model to treat them as structure.

### Speculative decoding

A small, fast draft model guesses a few tokens ahead; the large target model checks all of them in
a single forward pass. Every guess it agrees with comes almost free, and from the first
disagreement on the target model's own token is used:

```mermaid
flowchart LR
    A["Draft model<br>small and fast<br>proposes 5 tokens"] --> B["Target model<br>large and accurate<br>checks all 5 in one pass"]
    B --> C{All accepted?}
    C -- Yes --> D["Keep all 5<br>big speedup"]
    C -- "Differs at token 3" --> E["Keep tokens 1-2<br>continue from token 3"]
```

It pays off because small models agree with big ones on the easy tokens, checking is batched, and
the output is exactly what the target model would have produced alone.

### Probability machines, not intelligence

At each step an LLM produces one probability distribution over its whole vocabulary, and the reply
you read is a chain of draws from those distributions. It does not *know* things: it learned
statistical patterns. A hallucination is a plausible-sounding token sequence that got high
probability. The model is well calibrated for tasks that fill its training data (code, named
entities, translation, summaries), so trust it more there and less on tasks that look new.

### GGUF vs SafeTensors

Same numbers, different containers. **SafeTensors** is the Hugging Face Hub format: raw tensors
with a JSON header, no code execution, memory-mappable, what `from_pretrained()` loads.
**GGUF** is the llama.cpp (and Ollama, LM Studio) format: one file holding weights, vocabulary,
architecture and chat template, with quantization built in, so a 7B model of 28 GB in FP32 fits in
about 4 GB as Q4_K_M. The full story is in the blog post *GGUF vs SafeTensors*.

### Why Step 2 starts in C

`model.generate()` hides tokenization, attention, the KV cache and sampling. In `qwen3.c` every
matrix multiplication, RMSNorm, RoPE rotation and softmax is in front of you. You cannot reason
about an optimization until you know what is being optimized, and each later step builds on this:
Step 3 (what vLLM batches), Project Watch: Unsloth (which operations get fused) and Step 4 (the
same forward pass, now in training). It is the approach of Karpathy's llama2.c and llm.c.

### Precision and quantization

| Precision | Bytes per parameter | Qwen3 0.6B |
| --- | --- | --- |
| FP32 | 4 | about 2.4 GB |
| FP16 / BF16 | 2 | about 1.2 GB |
| INT8 | 1 | about 600 MB |
| INT4 | 0.5 | about 300 MB |

Step 2 keeps FP32 on purpose: no quantization artifacts, plain `float*` code, and 2.4 GB fits in
any laptop's memory. Quantization (lowering precision after training) matters for bigger models:
Qwen3 7B needs about 28 GB in FP32 but about 4.1 GB in Q4_K_M. FP16 and BF16 are both 16 bits,
but BF16 spends more bits on the exponent, so it keeps FP32's range and avoids overflow in
training; for inference the two give nearly the same output. Step 3 loads Q8 and Q4 models.

## 3. Cohort-based community learning

Office hours are working sessions, not lectures: live Q&A, debugging together on a shared screen,
a deep dive on one concept, and a check on where everyone is on the roadmap.

Self-paced courses let you go at your own speed, alone, and most people drop out (85 to 95% is
typical). A cohort shares a timeline and a peer group, keeps people accountable and answers
questions live, and far more people finish. Good cohorts (Scratch to Scale is one we mentioned)
share a pattern: a clear path with milestones, regular live touchpoints, a community channel for
async questions, projects that build on each other and public work. Here that is the roadmap,
these office hours, Discord, and steps that build on the one before.

## 4. Unsloth and LLM efficiency

*Roadmap: Project Watch, the Unsloth deep dive.*

Hugging Face Transformers is written to be correct and readable, so a forward pass is many small
Python calls, each launching its own GPU kernel that reads memory, computes and writes back.
Daniel Han's Unsloth monkey patches the `.forward()` methods of those classes at runtime and sends
the work through fused kernels that do several operations in one launch. Your code does not change:

```python
model, tokenizer = FastQwen3Model.from_pretrained("Qwen/Qwen3-0.6B")
output = model.generate(inputs)
```

Same API, same outputs, much less wasted GPU work. The path through the roadmap is: the math
(Step 2), its optimization (Project Watch: Unsloth), then the systems (Step 3). The deep dive
follows every call from `from_pretrained()` down to the Triton kernels.
"""


def _set_if_changed(obj: models.Model, **fields: object) -> None:
    changed = [name for name, value in fields.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, fields[name])
    if changed:
        obj.save(update_fields=changed)


def _session(cohort: Cohort, lead: Membership) -> OfficeHoursSession:
    values = {
        "title": "Git workflows, Qwen3 inference, cohort learning and Unsloth",
        "starts_at": SESSION_STARTS_AT,
        "duration_minutes": 60,
        "status": SessionStatus.ENDED,
        "recap_markdown": RECAP,
        "recap_published_at": RECAP_PUBLISHED_AT,
    }
    session = OfficeHoursSession.objects.filter(cohort=cohort, number=1).first()
    if session is None:
        session = OfficeHoursSession.objects.create(
            cohort=cohort, number=1, created_at=dt.datetime(2026, 3, 6, 12, 0, tzinfo=dt.UTC), **values
        )
    else:
        _set_if_changed(session, **values)
    if list(session.leads.all()) != [lead.user]:
        session.leads.set([lead.user])
    return session


def _topics(session: OfficeHoursSession, steps: dict[str, RoadmapStep]) -> dict[int, SessionTopic]:
    topics = {}
    for position, (title, step_slug, notes) in enumerate(TOPICS, start=1):
        values = {"title": title, "step": steps[step_slug] if step_slug else None, "notes": notes}
        topic = SessionTopic.objects.filter(session=session, position=position).first()
        if topic is None:
            topic = SessionTopic.objects.create(session=session, position=position, **values)
        else:
            _set_if_changed(topic, **values)
        topics[position] = topic
    return topics


@transaction.atomic
def seed_office_hours(cohort: Cohort) -> OfficeHoursSession:
    members = {m.user.email: m for m in Membership.objects.filter(cohort=cohort).select_related("user")}
    session = _session(cohort, members[LEAD_EMAIL])
    topics = _topics(session, {step.slug: step for step in cohort.steps.all()})
    for email, asked_at, body, topic_position, voters in QUESTIONS:
        values = {
            "body": body,
            "answered_at": ANSWERED_AT if topic_position else None,
            "answered_topic": topics[topic_position] if topic_position else None,
        }
        question = SessionQuestion.objects.filter(session=session, author=members[email], created_at=asked_at).first()
        if question is None:
            question = SessionQuestion.objects.create(
                session=session, author=members[email], created_at=asked_at, **values
            )
        else:
            _set_if_changed(question, **values)
        for minutes, voter in enumerate(voters, start=1):
            QuestionVote.objects.get_or_create(
                question=question,
                voter=members[voter],
                defaults={"created_at": asked_at + dt.timedelta(minutes=10 * minutes)},
            )
    return session
