"""A persisted FAISS index over card embeddings, updated incrementally.

Each card is embedded as a few short *views* (its summary line, its "when to use" and its core idea) rather
than as one long text: the sentence model truncates long inputs, and a situation described by a user tends
to match one facet of a card, not the whole of it. A card's score is the best score of its views.

On disk (one directory)::

    manifest.json   embedder name/dim + for each card: content hash, kinds, its rows in vectors.npy
    vectors.npy     all view vectors, float32, rows grouped by card
    index.faiss     the FAISS inner-product index over those rows (vectors are unit-norm: cosine)

``manifest.json`` is written last and names the row count, so a crash between files leaves a state that the
next load recognises as inconsistent and repairs by re-embedding. A sync re-embeds only cards whose content
hash changed; an embedder change discards everything, because vectors of two models are not comparable.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

import faiss
import numpy as np
from pydantic import BaseModel, Field

from .cards import PROBLEM_KINDS, MethodCard
from .embeddings import Embedder

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
_MANIFEST = "manifest.json"
_VECTORS = "vectors.npy"
_INDEX = "index.faiss"
_LOCK = ".lock"


def card_views(card: MethodCard) -> list[str]:
    """The texts a card is embedded as (each one short enough for the sentence model's 256-token window)."""
    summary = (
        f"{card.title}. Method family: {card.family.replace('-', ' ')}. "
        f"For {', '.join(card.kinds)} problems. "
        f"Addresses: {', '.join(card.failure_modes) or 'general accuracy'}. "
        f"Keywords: {', '.join(card.tags)}."
    )
    return [
        summary,
        f"{card.title}. When to use: {_flatten(card.when_to_use)}",
        f"{card.title}. {_flatten(card.core_idea)}",
    ]


def _flatten(markdown: str, limit: int = 900) -> str:
    """Markdown to one line of prose-ish text (bullets and emphasis removed), capped in length."""
    lines = []
    for line in markdown.splitlines():
        line = line.strip().lstrip("-*+ ").strip()
        if line:
            lines.append(line.replace("**", "").replace("`", ""))
    text = " ".join(lines)
    return text[:limit]


class CardEntry(BaseModel):
    content_hash: str
    kinds: list[str]
    start: int = Field(ge=0)
    stop: int = Field(ge=0)


class Manifest(BaseModel):
    version: int = MANIFEST_VERSION
    embedder: str
    dim: int
    rows: int
    cards: dict[str, CardEntry] = Field(default_factory=dict)


class SyncReport(BaseModel):
    """What a sync did; ``embedded`` lists the cards whose vectors were (re)computed."""

    embedded: list[str] = Field(default_factory=list)
    reused: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    full_rebuild: bool = False
    reason: str = ""


def _atomic_write_bytes(path: Path, write) -> None:
    """Write through a temporary file in the same directory, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class CardIndex:
    """FAISS index + vectors + manifest for one embedder, persisted in ``directory``."""

    def __init__(self, directory: Path | str, embedder: Embedder, faiss_threads: int | None = 1) -> None:
        """``faiss_threads``: OpenMP threads for FAISS (process-wide). One query over a flat index is a single
        matrix-vector product; extra threads only add synchronisation, which on a busy machine is ruinous
        (measured on 30,000 rows: 2.7 ms with 1 thread vs 24 ms with 2). ``None`` leaves FAISS's default.
        It is re-applied before every search because torch shares the OpenMP runtime and resets it."""
        self._faiss_threads = faiss_threads
        self.directory = Path(directory)
        self.embedder = embedder
        self._manifest: Manifest | None = None
        self._vectors = np.zeros((0, embedder.dim), dtype=np.float32)
        self._index: faiss.Index | None = None
        self._row_card: np.ndarray = np.zeros(0, dtype=np.int64)  # row -> position in self._card_ids
        self._card_ids: list[str] = []
        self._kind_rows: dict[str, np.ndarray] = {}
        self._max_views = 1
        self._selectors: dict[str, faiss.IDSelector] = {}
        self._position: dict[str, int] = {}
        self._starts = np.zeros(0, dtype=np.int64)
        self._stops = np.zeros(0, dtype=np.int64)
        self._centroids = np.zeros((0, embedder.dim), dtype=np.float32)

    # -- persistence -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Inter-process lock: two workers syncing the same directory must not interleave their writes."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / _LOCK, "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _load_persisted(self) -> tuple[Manifest | None, np.ndarray | None, str]:
        """The persisted state if it is complete and was made by this embedder; else ``None`` and why not."""
        manifest_path = self.directory / _MANIFEST
        if not manifest_path.is_file():
            return None, None, "no index yet"
        try:
            manifest = Manifest.model_validate_json(manifest_path.read_text())
        except (ValueError, OSError) as exc:
            return None, None, f"unreadable manifest ({exc})"
        if manifest.version != MANIFEST_VERSION:
            return None, None, f"manifest version {manifest.version} != {MANIFEST_VERSION}"
        if manifest.embedder != self.embedder.name or manifest.dim != self.embedder.dim:
            return None, None, (
                f"index was built with embedder '{manifest.embedder}' (dim {manifest.dim}), "
                f"now using '{self.embedder.name}' (dim {self.embedder.dim})"
            )
        try:
            vectors = np.load(self.directory / _VECTORS, allow_pickle=False)
        except (OSError, ValueError) as exc:
            return None, None, f"unreadable vectors ({exc})"
        if vectors.ndim != 2 or vectors.shape != (manifest.rows, manifest.dim):
            return None, None, f"vectors shape {vectors.shape} does not match the manifest"
        return manifest, vectors.astype(np.float32, copy=False), ""

    def _persist(self, manifest: Manifest, vectors: np.ndarray, index: faiss.Index) -> None:
        def save_vectors(tmp: str) -> None:
            with open(tmp, "wb") as handle:  # a handle, so that numpy does not append ".npy" to the name
                np.save(handle, vectors)

        _atomic_write_bytes(self.directory / _VECTORS, save_vectors)
        _atomic_write_bytes(self.directory / _INDEX, lambda tmp: faiss.write_index(index, tmp))
        _atomic_write_bytes(
            self.directory / _MANIFEST, lambda tmp: Path(tmp).write_text(manifest.model_dump_json(indent=1))
        )

    def _read_index_file(self, rows: int) -> faiss.Index | None:
        path = self.directory / _INDEX
        if not path.is_file():
            return None
        try:
            index = faiss.read_index(str(path))
        except RuntimeError:
            return None
        return index if index.ntotal == rows and index.d == self.embedder.dim else None

    # -- building --------------------------------------------------------------------------------------
    def sync(self, cards: Sequence[MethodCard], *, full: bool = False) -> SyncReport:
        """Make the index reflect exactly ``cards``, re-embedding only new or changed ones."""
        with self._locked():
            previous, old_vectors, why = (None, None, "full rebuild requested") if full else self._load_persisted()
            report = SyncReport(full_rebuild=previous is None, reason=why)
            if previous is None and why not in {"no index yet", "full rebuild requested"}:
                logger.info("method memory index at %s is rebuilt: %s", self.directory, why)

            wanted = {card.id: card for card in cards}
            hashes = {card.id: card.content_hash() for card in cards}
            blocks: dict[str, np.ndarray] = {}
            to_embed: list[MethodCard] = []
            for card_id, card in wanted.items():
                entry = previous.cards.get(card_id) if previous else None
                if entry is not None and old_vectors is not None and entry.content_hash == hashes[card_id]:
                    blocks[card_id] = old_vectors[entry.start : entry.stop]
                    report.reused.append(card_id)
                else:
                    to_embed.append(card)
            if previous:
                report.removed = sorted(set(previous.cards) - set(wanted))

            if to_embed:
                texts: list[str] = []
                spans: list[tuple[str, int, int]] = []
                for card in to_embed:
                    views = card_views(card)
                    spans.append((card.id, len(texts), len(texts) + len(views)))
                    texts.extend(views)
                embedded = self.embedder.embed(texts)
                for card_id, start, stop in spans:
                    blocks[card_id] = embedded[start:stop]
                report.embedded = [card.id for card in to_embed]

            unchanged = previous is not None and not report.embedded and not report.removed
            order = sorted(wanted)
            entries: dict[str, CardEntry] = {}
            parts: list[np.ndarray] = []
            row = 0
            for card_id in order:
                block = blocks[card_id]
                entries[card_id] = CardEntry(
                    content_hash=hashes[card_id], kinds=list(wanted[card_id].kinds), start=row, stop=row + len(block)
                )
                parts.append(block)
                row += len(block)
            dim = self.embedder.dim
            vectors = np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros((0, dim)), dtype=np.float32)
            manifest = Manifest(embedder=self.embedder.name, dim=dim, rows=row, cards=entries)

            index = self._read_index_file(row) if unchanged else None
            if index is None:
                index = faiss.IndexFlatIP(dim)
                if row:
                    index.add(vectors)
            if not unchanged or index is None or not (self.directory / _INDEX).is_file():
                self._persist(manifest, vectors, index)
            self._install(manifest, vectors, index)
            return report

    def _install(self, manifest: Manifest, vectors: np.ndarray, index: faiss.Index) -> None:
        self._manifest, self._vectors, self._index = manifest, vectors, index
        self._card_ids = list(manifest.cards)
        row_card = np.zeros(manifest.rows, dtype=np.int64)
        kind_rows: dict[str, list[np.ndarray]] = {kind: [] for kind in PROBLEM_KINDS}
        self._max_views = 1
        for position, (card_id, entry) in enumerate(manifest.cards.items()):
            row_card[entry.start : entry.stop] = position
            rows = np.arange(entry.start, entry.stop, dtype=np.int64)
            self._max_views = max(self._max_views, entry.stop - entry.start)
            for kind in entry.kinds:
                kind_rows.setdefault(kind, []).append(rows)
        self._row_card = row_card
        self._kind_rows = {
            kind: (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)) for kind, parts in kind_rows.items()
        }
        self._selectors = {kind: faiss.IDSelectorBatch(rows) for kind, rows in self._kind_rows.items() if len(rows)}
        self._position = {card_id: i for i, card_id in enumerate(self._card_ids)}
        self._starts = np.array([e.start for e in manifest.cards.values()], dtype=np.int64)
        self._stops = np.array([e.stop for e in manifest.cards.values()], dtype=np.int64)
        # Mean view vector per card (unit norm): the card's "centre" for pseudo-relevance feedback.
        centroids = np.zeros((len(self._card_ids), manifest.dim), dtype=np.float32)
        if manifest.rows:
            np.add.at(centroids, row_card, vectors)
        norms = np.linalg.norm(centroids, axis=1, keepdims=True)
        self._centroids = centroids / np.maximum(norms, 1e-12)

    # -- querying --------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._index is not None

    @property
    def card_ids(self) -> list[str]:
        return list(self._card_ids)

    def __len__(self) -> int:
        return len(self._card_ids)

    def card_vectors(self, card_id: str) -> np.ndarray:
        """The stored view vectors of one card (for inspection and tests)."""
        if self._manifest is None:
            raise RuntimeError("index not built; call sync() first")
        entry = self._manifest.cards[card_id]
        return self._vectors[entry.start : entry.stop]

    def dense_scores(self, card_ids: Sequence[str], query: np.ndarray) -> np.ndarray:
        """Exact score (best view) of each given card for a unit-norm query vector."""
        if self._manifest is None:
            raise RuntimeError("index not built; call sync() first")
        if not len(card_ids):
            return np.zeros(0, dtype=np.float64)
        positions = np.fromiter((self._position[c] for c in card_ids), dtype=np.int64, count=len(card_ids))
        starts, stops = self._starts[positions], self._stops[positions]
        counts = stops - starts
        if np.any(counts == 0):
            raise ValueError("a card without vectors cannot be scored")
        rows = np.repeat(starts - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(counts.sum())
        scores = self._vectors[rows] @ np.asarray(query, dtype=np.float32).reshape(-1)
        return np.maximum.reduceat(scores, np.concatenate(([0], np.cumsum(counts)[:-1]))).astype(np.float64)

    def centroids(self, card_ids: Sequence[str]) -> np.ndarray:
        """Unit-norm mean view vectors of the given cards, ``(len(card_ids), dim)``."""
        return self._centroids[[self._position[c] for c in card_ids]]

    def search_vector(self, query: np.ndarray, k: int = 5, kind: str | None = None) -> list[tuple[str, float]]:
        """Top ``k`` cards for a unit-norm query vector, optionally only those serving ``kind``."""
        if self._index is None or self._manifest is None:
            raise RuntimeError("index not built; call sync() first")
        if k <= 0 or self._manifest.rows == 0:
            return []
        query = np.ascontiguousarray(np.asarray(query, dtype=np.float32).reshape(1, -1))
        if query.shape[1] != self._manifest.dim:
            raise ValueError(f"query has dim {query.shape[1]}, index has {self._manifest.dim}")
        params = None
        available = self._manifest.rows
        if kind is not None:
            if kind not in self._selectors:
                return []
            params = faiss.SearchParameters(sel=self._selectors[kind])
            available = len(self._kind_rows[kind])
        # Enough rows that the best view of each of the top-k cards is among them (exact max-aggregation).
        n_rows = min(available, k * self._max_views)
        if self._faiss_threads is not None:
            faiss.omp_set_num_threads(self._faiss_threads)
        scores, rows = self._index.search(query, n_rows, params=params)
        best: dict[int, float] = {}
        for score, row in zip(scores[0], rows[0]):
            if row < 0:
                continue
            position = int(self._row_card[row])
            if position not in best:  # rows come sorted by score: the first one seen is the card's best
                best[position] = float(score)
        ranked = sorted(best.items(), key=lambda item: -item[1])[:k]
        return [(self._card_ids[position], score) for position, score in ranked]
