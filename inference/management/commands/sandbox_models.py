from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from inference import provision, registry
from inference.models import SandboxModel

PULLABLE = {provision.QWEN3_06B_SLUG: provision.pull_qwen3_06b}


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1_000_000:,.1f} MB"


class Command(BaseCommand):
    help = "List, add, download and provision the GGUF models the inference sandbox runs."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("list", help="Show the registered models; * marks the default.")
        pull = actions.add_parser("pull", help="Download a known model from Hugging Face and register it.")
        pull.add_argument("model", choices=sorted(PULLABLE))
        add = actions.add_parser("add", help="Register a GGUF file that is already on this machine.")
        add.add_argument("path", help="Path of the .gguf file (workers must see it at the same path).")
        add.add_argument("--slug", help="Defaults to the file name, slugified.")
        add.add_argument("--name", help="Defaults to the name stored in the file.")
        add.add_argument("--sha256", help="Refuse the file unless it has this checksum.")
        actions.add_parser(
            "provision-offline", help="Register smollm2-135m, build + register qwen3-tiny and smollm2-135m-q8."
        )

    def handle(self, *args: object, action: str, **options: object) -> None:
        try:
            if action == "list":
                self._list()
            elif action == "pull":
                self._report([PULLABLE[str(options["model"])]()])
            elif action == "add":
                self._add(options)
            elif action == "provision-offline":
                self._report(provision.provision_offline())
        except registry.ModelFileError as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, options: dict[str, object]) -> None:
        path = Path(str(options["path"]))
        slug = str(options["slug"] or slugify(path.name.removesuffix(".gguf")))
        sha256 = options["sha256"]
        model = registry.model_register(
            slug=slug, name=str(options["name"] or ""), path=path, expected_sha256=str(sha256) if sha256 else None
        )
        self._report([model])

    def _report(self, models: list[SandboxModel]) -> None:
        for model in models:
            self.stdout.write(
                self.style.SUCCESS(f"Registered {model.slug}")
                + f": {model.name} ({model.architecture}, {model.quantization}, {_size(model.size_bytes)}) at {model.path}"
            )

    def _list(self) -> None:
        models = list(SandboxModel.objects.order_by("slug"))
        if not models:
            self.stdout.write("No models registered. Run: manage.py sandbox_models provision-offline")
            return
        default = registry.default_model()
        header = ("", "slug", "name", "arch", "vocab", "ctx", "quant", "size", "available")
        rows = [
            (
                "*" if default is not None and model.pk == default.pk else "",
                model.slug,
                model.name,
                model.architecture,
                f"{model.n_vocab:,}",
                f"{model.context_length:,}",
                model.quantization,
                _size(model.size_bytes),
                "yes" if model.available else "no",
            )
            for model in models
        ]
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
        for row in (header, *rows):
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
