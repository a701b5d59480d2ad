"""The models the sandbox can run: read a GGUF file's header, check it, record it as a SandboxModel.

Metadata comes from the file itself, never from what someone typed, so the
worker and the pages agree on vocabulary size, template and special tokens.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import re
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from gguf import GGMLQuantizationType, GGUFValueType, LlamaFileType

from inference.models import SandboxModel

# Architectures llama.cpp (0.3.36's build) runs as text generators through llama-cpp-python.
# Anything else fails late, inside a worker, with a C-level error nobody can act on, so we
# refuse it at registration. Embedding-only (bert), vision/audio projectors (clip) and
# encoder-decoder (t5) files are left out on purpose: the sandbox generates text.
SUPPORTED_ARCHITECTURES = frozenset(
    {
        "llama",
        "qwen2",
        "qwen2moe",
        "qwen3",
        "qwen3moe",
        "gemma",
        "gemma2",
        "gemma3",
        "phi2",
        "phi3",
        "starcoder2",
        "gpt2",
        "gptneox",
        "falcon",
        "stablelm",
        "olmo",
        "olmo2",
        "granite",
        "granitemoe",
        "deepseek2",
        "smollm3",
        "internlm2",
        "minicpm",
        "exaone",
        "command-r",
        "cohere2",
        "glm4",
        "gpt-oss",
    }
)

# Model slugs follow Hugging Face names ("qwen3-0.6b"), which Django's validate_slug rejects for the dot.
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

PREFERRED_DEFAULTS = ("qwen3-0.6b", "smollm2-135m")


class ModelFileError(Exception):
    """A model file that cannot be used; the message is meant for the person running the command."""


class ChecksumMismatch(ModelFileError):
    """The file is not the one that was expected (corrupt or changed upstream)."""


@dataclass(frozen=True)
class GgufInfo:
    architecture: str
    n_vocab: int
    context_length: int
    quantization: str
    chat_template: str
    bos_token_id: int | None
    eos_token_id: int | None
    add_bos: bool
    name: str
    version: str = ""  # general.version; provision uses it to skip rebuilding a file it made


# --- Reading the header ------------------------------------------------------------------
# gguf.GGUFReader builds a numpy view per string, which takes 4 s for SmolLM2's 49k-token
# vocabulary and over 10 s for Qwen3's 152k. We only need scalars and array lengths, so we
# walk the header ourselves with struct over an mmap (about 0.1 s) and use gguf's enums.

_SCALAR_FORMATS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}


@dataclass(frozen=True)
class _ArrayLength:
    """Stands in for an array value: its contents are skipped, only the length is kept."""

    length: int


class _HeaderCursor:
    def __init__(self, buf: mmap.mmap, endian: str) -> None:
        self.buf = buf
        self.pos = 0
        self.endian = endian

    def unpack(self, fmt: str) -> int | float | bool:
        value: int | float | bool
        (value,) = struct.unpack_from(self.endian + fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = int(self.unpack("Q"))
        end = self.pos + length
        if end > len(self.buf):
            raise struct.error("string runs past the end of the file")
        text = self.buf[self.pos : end].decode("utf-8", errors="replace")
        self.pos = end
        return text

    def value(self, vtype: int) -> object:
        if vtype == GGUFValueType.STRING:
            return self.string()
        if vtype == GGUFValueType.ARRAY:
            item_type = int(self.unpack("I"))
            length = int(self.unpack("Q"))
            self.skip_items(item_type, length)
            return _ArrayLength(length)
        return self.unpack(_SCALAR_FORMATS[GGUFValueType(vtype)])

    def skip_items(self, item_type: int, length: int) -> None:
        if item_type == GGUFValueType.STRING:
            # The hot loop (300k strings for Qwen3's tokens and merges): no method calls inside.
            read_length, buf, pos = struct.Struct(self.endian + "Q").unpack_from, self.buf, self.pos
            for _ in range(length):
                pos += 8 + read_length(buf, pos)[0]
            self.pos = pos
        elif item_type == GGUFValueType.ARRAY:
            for _ in range(length):
                self.value(item_type)
        else:
            self.pos += struct.calcsize(_SCALAR_FORMATS[GGUFValueType(item_type)]) * length
        if self.pos > len(self.buf):
            raise struct.error("array runs past the end of the file")


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    type: int  # a GGMLQuantizationType value
    offset: int


def _read_header(path: Path, tensors: list[TensorInfo] | None = None) -> tuple[dict[str, object], Counter[int]]:
    """Key/value metadata and, per tensor type, how many weights of 2-D+ tensors use it.

    Pass a list as `tensors` to also collect every tensor's name, shape, type and offset.
    """
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelFileError(f"{path} is not a GGUF model file (it does not start with 'GGUF').")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            # Big-endian GGUF files exist; their version reads as a huge number in little-endian.
            endian = "<" if struct.unpack_from("<I", buf, 4)[0] & 0xFFFF else ">"
            cursor = _HeaderCursor(buf, endian)
            cursor.pos = 4
            version = cursor.unpack("I")
            if version not in (2, 3):
                raise ModelFileError(f"{path} is GGUF version {version}; llama.cpp reads versions 2 and 3.")
            n_tensors, n_kv = int(cursor.unpack("Q")), int(cursor.unpack("Q"))
            metadata: dict[str, object] = {}
            for _ in range(n_kv):
                key = cursor.string()
                metadata[key] = cursor.value(int(cursor.unpack("I")))
            weights_by_type: Counter[int] = Counter()
            for _ in range(n_tensors):
                name = cursor.string()
                dims = [int(cursor.unpack("Q")) for _ in range(int(cursor.unpack("I")))]
                tensor_type = int(cursor.unpack("I"))
                offset = int(cursor.unpack("Q"))
                if tensors is not None:
                    tensors.append(TensorInfo(name, tuple(dims), tensor_type, offset))
                if len(dims) >= 2:  # norms and biases stay F32 in quantized files; they would skew the count
                    weights_by_type[tensor_type] += math.prod(dims)
    return metadata, weights_by_type


def _quantization(metadata: dict[str, object], weights_by_type: Counter[int]) -> str:
    file_type = metadata.get("general.file_type")
    try:
        name = LlamaFileType(file_type).name if isinstance(file_type, int) else "GUESSED"
    except ValueError:
        name = "GUESSED"
    if name != "GUESSED":
        return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    # Older or hand-made files lack general.file_type: name the type most weights are stored in.
    for tensor_type, _count in weights_by_type.most_common(1):
        try:
            return GGMLQuantizationType(tensor_type).name
        except ValueError:
            return f"type {tensor_type}"
    return ""


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def read_gguf_metadata(path: str | Path) -> GgufInfo:
    """What the sandbox needs to know about a GGUF file, read from its header without the weights."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"No model file at {path}.")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file.")
    try:
        metadata, weights_by_type = _read_header(path)
    except (struct.error, ValueError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{path} looks like GGUF but its header is truncated or corrupt ({exc}).") from exc

    architecture = str(metadata.get("general.architecture", ""))
    if not architecture:
        raise ModelFileError(f"{path} does not say which model architecture it holds (general.architecture).")
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise ModelFileError(
            f"{path} holds a '{architecture}' model, which the sandbox cannot run. "
            f"Supported architectures: {', '.join(sorted(SUPPORTED_ARCHITECTURES))}."
        )
    tokens = metadata.get("tokenizer.ggml.tokens")
    if not isinstance(tokens, _ArrayLength) or tokens.length == 0:
        raise ModelFileError(f"{path} has no tokenizer vocabulary, so it cannot turn text into tokens.")

    add_bos = metadata.get("tokenizer.ggml.add_bos_token")
    if not isinstance(add_bos, bool):
        # llama.cpp's default when the key is missing: SentencePiece vocabularies add BOS, BPE ones do not.
        add_bos = metadata.get("tokenizer.ggml.model") == "llama"
    return GgufInfo(
        architecture=architecture,
        n_vocab=tokens.length,
        context_length=_optional_int(metadata.get(f"{architecture}.context_length")) or 0,
        quantization=_quantization(metadata, weights_by_type),
        chat_template=str(metadata.get("tokenizer.chat_template", "")),
        bos_token_id=_optional_int(metadata.get("tokenizer.ggml.bos_token_id")),
        eos_token_id=_optional_int(metadata.get("tokenizer.ggml.eos_token_id")),
        add_bos=add_bos,
        name=str(metadata.get("general.name", "")),
        version=str(metadata.get("general.version", "")),
    )


def sha256_file(path: str | Path) -> str:
    # file_digest streams in chunks: a 640 MB model never sits in memory.
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- Registering -------------------------------------------------------------------------


def _model_fields(path: Path, info: GgufInfo, digest: str) -> dict[str, object]:
    return {
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": digest,
        "architecture": info.architecture,
        "n_vocab": info.n_vocab,
        "context_length": info.context_length,
        "quantization": info.quantization,
        "chat_template": info.chat_template,
        "bos_token_id": info.bos_token_id,
        "eos_token_id": info.eos_token_id,
        "add_bos": info.add_bos,
        "supports_thinking": "enable_thinking" in info.chat_template,
    }


def model_register(*, slug: str, name: str = "", path: str | Path, expected_sha256: str | None = None) -> SandboxModel:
    """Read and check a GGUF file, then create or update the SandboxModel with this slug.

    Safe to run again: the same slug updates its row (and marks it available). An empty
    name falls back to the file's general.name, then to the file name. Raises
    ModelFileError (ChecksumMismatch for a wrong sha256) without writing anything.
    """
    if not SLUG_RE.match(slug):
        raise ModelFileError(f"'{slug}' is not a usable slug: lowercase letters, digits, '.', '-' and '_' only.")
    file = Path(path).expanduser().resolve()
    if expected_sha256 is not None and not SHA256_RE.match(expected_sha256.lower()):
        raise ModelFileError(f"'{expected_sha256}' is not a sha256 checksum (64 hexadecimal characters).")
    info = read_gguf_metadata(file)
    digest = sha256_file(file)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ChecksumMismatch(
            f"{file} has sha256 {digest}, expected {expected_sha256.lower()}: the file is damaged or not the one meant."
        )
    with transaction.atomic():
        model, _created = SandboxModel.objects.update_or_create(
            slug=slug,
            defaults={"name": name or info.name or file.stem, "available": True, **_model_fields(file, info, digest)},
        )
    return model


def model_refresh_metadata(*, model: SandboxModel) -> SandboxModel:
    """Re-read the model's file. A file that is gone or unreadable marks the model unavailable, then raises."""
    file = Path(model.path)
    try:
        info = read_gguf_metadata(file)
        digest = sha256_file(file)
    except ModelFileError:
        model.available = False
        model.save(update_fields=["available"])
        raise
    fields = _model_fields(file, info, digest)
    for field, value in fields.items():
        setattr(model, field, value)
    model.save(update_fields=list(fields))
    return model


def default_model() -> SandboxModel | None:
    """The model a new run uses unless the learner picks another: the best one that is installed."""
    available = SandboxModel.objects.filter(available=True)
    preferred = {model.slug: model for model in available.filter(slug__in=PREFERRED_DEFAULTS)}
    for slug in PREFERRED_DEFAULTS:
        if slug in preferred:
            return preferred[slug]
    return available.first()
