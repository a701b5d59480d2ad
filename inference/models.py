from __future__ import annotations

from django.db import models

from cohort.models import Cohort, Membership, OfficeHoursSession


class SandboxModel(models.Model):
    """A GGUF file the sandbox can run. Metadata is read from the file itself."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    path = models.CharField(max_length=500, help_text="Absolute path of the GGUF file on the workers.")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    architecture = models.CharField(max_length=40, blank=True)
    n_vocab = models.PositiveIntegerField(default=0)
    context_length = models.PositiveIntegerField(default=0)
    quantization = models.CharField(max_length=20, blank=True)
    chat_template = models.TextField(blank=True)
    bos_token_id = models.IntegerField(null=True, blank=True)
    eos_token_id = models.IntegerField(null=True, blank=True)
    add_bos = models.BooleanField(default=False)
    supports_thinking = models.BooleanField(default=False)
    available = models.BooleanField(default=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class SandboxRun(models.Model):
    """One generation a learner asked for: the record of what they submitted and what came out."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="sandbox_runs")
    model = models.ForeignKey(SandboxModel, on_delete=models.PROTECT, related_name="runs")
    # A branch continues its parent from `branch_step` with another token there.
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="branches")
    branch_step = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    # What the learner sent: messages or a raw prompt, template override, thinking switch.
    request = models.JSONField()
    params = models.JSONField(help_text="Sampling parameters with the seed actually used.")
    seed = models.BigIntegerField()
    rendered_prompt = models.TextField(blank=True)
    prompt_tokens = models.JSONField(default=list, blank=True)
    output_text = models.TextField(blank=True)
    tokens = models.JSONField(default=list, blank=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="hostname:pid of the worker process running it.")
    published_at = models.DateTimeField(null=True, blank=True)
    shared = models.BooleanField(default=False, help_text="Members of the cohort can open it.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["membership", "-created_at"]), models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Run {self.pk} ({self.status})"


class LabKind(models.TextChoices):
    PIPELINE = "pipeline", "Sampler pipeline"
    SWEEP = "sweep", "Temperature sweep"
    SPECULATIVE = "speculative", "Speculative decoding"
    QUANTIZATION = "quantization", "Quantization"


class LabJob(models.Model):
    """One lab computation a learner asked for; kept with its result, shareable with the cohort."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="lab_jobs")
    model = models.ForeignKey(SandboxModel, on_delete=models.PROTECT, related_name="lab_jobs")
    kind = models.CharField(max_length=20, choices=LabKind.choices)
    input = models.JSONField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    result = models.JSONField(default=dict, blank=True)
    # Raw next-token logits (float32) of the step a lab looks at, so distributions
    # can be recomputed exactly later.
    logits = models.BinaryField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    shared = models.BooleanField(default=False, help_text="Members of the cohort can open it.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="hostname:pid of the worker process running it.")
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.status})"


class RunTokenChunk(models.Model):
    """Tokens of a running run, appended as they come.

    Appending small rows keeps streaming cheap; rewriting the whole token list on
    every save slowed generation by a fifth. When the run ends its tokens are
    written to `SandboxRun.tokens` and the chunks are deleted.
    """

    run = models.ForeignKey(SandboxRun, on_delete=models.CASCADE, related_name="chunks")
    start = models.PositiveIntegerField()
    tokens = models.JSONField()
    output_text = models.TextField(blank=True, help_text="The whole output so far, decoded.")

    class Meta:
        ordering = ["run", "start"]
        constraints = [models.UniqueConstraint(fields=["run", "start"], name="one_chunk_per_start")]

    def __str__(self) -> str:
        return f"run {self.run_id} tokens {self.start}+{len(self.tokens)}"


class ModelVariant(models.Model):
    """A quantized copy of a registry model, made by a learner's quantization lab and owned by that lab.

    Variants are not SandboxModels: they never appear in the registry's model
    list, only in their lab's result (visible to its owner, and to the cohort
    when the lab is shared). Their files count against the learner's and the
    site's disk quotas and are deleted after SANDBOX_VARIANT_RETENTION_DAYS.
    """

    lab = models.ForeignKey(LabJob, on_delete=models.CASCADE, related_name="variants")
    source = models.ForeignKey(SandboxModel, on_delete=models.CASCADE, related_name="variants")
    quantization = models.CharField(max_length=20)
    path = models.CharField(max_length=500)
    size_bytes = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["lab", "quantization"], name="one_variant_per_lab_and_type")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.source.slug} {self.quantization} (lab {self.lab_id})"


class ExperimentStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Experiment(models.Model):
    """A lead's live cohort experiment: one prompt and sampler, run by the whole room, aggregated per arm.

    An arm is one temperature; learners are assigned to arms round robin. The
    final chart (an SVG drawn by inference/experiment_chart.py from the numbers)
    and the numbers themselves are stored here when a lead attaches them to the
    session's recap; the recap page reads them through a template tag, so the
    cohort app never imports inference.
    """

    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="experiments")
    session = models.ForeignKey(
        OfficeHoursSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="experiments"
    )
    created_by = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="experiments_started")
    title = models.CharField(max_length=200)
    model = models.ForeignKey(SandboxModel, on_delete=models.PROTECT, related_name="experiments")
    # As on a run: messages or a raw prompt, template override, thinking switch.
    request = models.JSONField()
    # Sampler settings shared by every arm, without the temperature (the arm's) and the seed (the learner's).
    params = models.JSONField()
    temperatures = models.JSONField(help_text="One arm per temperature, assigned round robin.")
    runs_per_learner = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=ExperimentStatus.choices, default=ExperimentStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    recap_svg = models.TextField(blank=True, editable=False, help_text="The chart attached to the recap.")
    recap_numbers = models.JSONField(default=dict, blank=True, editable=False)
    recap_attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["cohort", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"Experiment {self.pk}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status == ExperimentStatus.OPEN


class ExperimentRun(models.Model):
    """One learner's run of an experiment, and the facts the results need, stored once when the run ends.

    Counting these small rows (first token, output hash, mean entropy) is what
    makes the results page cheap for hundreds of runs: no run's token list is
    read again. The facts are written only while `ended_at` is empty, so a
    finish written twice (a task run twice, a sweep after the worker) counts once.
    """

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="entries")
    run = models.OneToOneField(SandboxRun, on_delete=models.CASCADE, related_name="experiment_entry")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="experiment_runs")
    arm = models.PositiveSmallIntegerField(help_text="Index into the experiment's temperatures.")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    first_token_id = models.IntegerField(null=True, blank=True)
    first_token_text = models.CharField(max_length=200, blank=True)
    first_token_p = models.FloatField(null=True, blank=True, help_text="p_sampled of the first token.")
    first_top_sampled = models.JSONField(default=list, blank=True, help_text="The first step's sampled distribution.")
    output_hash = models.CharField(max_length=64, blank=True)
    output_text = models.TextField(blank=True)
    mean_entropy_bits = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["experiment", "membership"])]

    def __str__(self) -> str:
        return f"experiment {self.experiment_id} run {self.run_id} (arm {self.arm})"
