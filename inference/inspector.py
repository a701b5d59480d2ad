"""GGUF inspector: what is inside a model file, read from its header without loading weights.

Ties to the GGUF vs SafeTensors lesson: the same tensors, stored as F32 or BF16
SafeTensors, take 4 or 2 bytes per weight; GGUF's quantized types take less.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

from inference.registry import TensorInfo, _read_header, read_gguf_metadata

_LISTED_METADATA_PREFIXES = ("general.", "tokenizer.ggml.model", "tokenizer.ggml.pre")


def _type_name(tensor_type: int) -> str:
    try:
        return GGMLQuantizationType(tensor_type).name
    except ValueError:
        return f"type {tensor_type}"


def tensor_bytes(info: TensorInfo) -> int:
    block_size, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(info.type)]
    return math.prod(info.shape) // block_size * type_size


def inspect_gguf(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    tensors: list[TensorInfo] = []
    metadata, _ = _read_header(path, tensors)
    info = read_gguf_metadata(path)
    rows: list[dict[str, Any]] = []
    by_type: defaultdict[str, dict[str, int]] = defaultdict(lambda: {"tensors": 0, "weights": 0, "bytes": 0})
    total_weights = total_bytes = 0
    for tensor in tensors:
        weights, size = math.prod(tensor.shape), tensor_bytes(tensor)
        name = _type_name(tensor.type)
        rows.append({"name": tensor.name, "shape": list(tensor.shape), "type": name, "weights": weights, "bytes": size,
                     "bits_per_weight": round(size * 8 / weights, 3) if weights else 0})  # fmt: skip
        by_type[name]["tensors"] += 1
        by_type[name]["weights"] += weights
        by_type[name]["bytes"] += size
        total_weights += weights
        total_bytes += size
    scalars = {
        key: value
        for key, value in metadata.items()
        if isinstance(value, str | int | float | bool) and key != "tokenizer.chat_template"
    }
    arch = info.architecture
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "architecture": arch,
        "quantization": info.quantization,
        "metadata": scalars,
        "hyperparameters": {k.removeprefix(f"{arch}."): v for k, v in scalars.items() if k.startswith(f"{arch}.")},
        "tokenizer": {
            "model": metadata.get("tokenizer.ggml.model", ""),
            "pre": metadata.get("tokenizer.ggml.pre", ""),
            "n_vocab": info.n_vocab,
            "bos_token_id": info.bos_token_id,
            "eos_token_id": info.eos_token_id,
            "add_bos": info.add_bos,
        },
        "chat_template": info.chat_template,
        "tensors": rows,
        "tensor_count": len(rows),
        "by_type": [
            {"type": t, **v, "bits_per_weight": round(v["bytes"] * 8 / v["weights"], 3)}
            for t, v in sorted(by_type.items())
        ],
        "total_weights": total_weights,
        "total_tensor_bytes": total_bytes,
        "bits_per_weight": round(total_bytes * 8 / total_weights, 3) if total_weights else 0,
        "safetensors_f32_bytes": total_weights * 4,
        "safetensors_bf16_bytes": total_weights * 2,
    }
