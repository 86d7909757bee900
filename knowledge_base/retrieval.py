"""The method memory facade the agents use: describe a situation, get back the cards that may help.

Cards come from two places: the curated cards shipped in ``knowledge_base/cards`` and the cards discovered
during campaigns, stored under the service's data directory. Both are embedded into one persisted index
(``<data_dir>/method_memory/index``), built on first use and updated incrementally afterwards.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from pathlib import Path
from typing import Any


from pydantic import BaseModel

from .cards import (
    PROBLEM_KINDS, CardError, MethodCard, curated_cards_dir, load_card, load_cards, parse_card, render_card,
)
from .embeddings import Embedder, load_embedder
from .index import CardIndex, SyncReport
from .lexical import LexicalIndex
from .ranking import RankingConfig, hybrid_search

logger = logging.getLogger(__name__)


class Hit(BaseModel):
    """One retrieved card. ``score`` = ``dense`` + lexical weight x ``lexical`` (higher is better);
    ``dense`` is the cosine similarity of the best card view, ``lexical`` the BM25 score scaled to [0, 1]."""

    card_id: str
    score: float
    dense: float
    lexical: float
    title: str
    family: str
    kinds: list[str]
    origin: str
    citation: str | None = None


# ---------------------------------------------------------------------------------------------------------
# Query construction
# ---------------------------------------------------------------------------------------------------------
#: (pattern in a candidate's source, the technique it reveals). Ordered roughly by how much a technique
#: says about the method; the query keeps the names, never the code, so boilerplate cannot swamp it.
_TECHNIQUES: tuple[tuple[str, str], ...] = (
    (r"\bLBFGS\b|l-?bfgs", "L-BFGS optimiser"),
    (r"\bAdamW\b", "AdamW optimiser"),
    (r"optim\.Adam\b|\bAdam\(", "Adam optimiser"),
    (r"optim\.SGD\b", "SGD optimiser"),
    (r"\bSOAP\b|shampoo", "SOAP / Shampoo preconditioner"),
    (r"natural.?gradient|gramian", "natural gradient"),
    (r"lr_scheduler\.\w+|cosine.?anneal|ExponentialLR|warmup", "learning-rate schedule"),
    (r"set_default_dtype\(\s*torch\.float64|dtype\s*=\s*torch\.(float64|double)|\b(model|net|network)\.double\(\)",
     "float64 precision"),
    (r"clip_grad", "gradient clipping"),
    (r"fourier.?feature|random.?fourier|gaussian.?fourier|@\s*(self\.)?B\b", "Fourier feature embedding"),
    (r"periodic", "periodic boundary handling"),
    (r"siren|omega_?0", "sine activations (SIREN)"),
    (r"nn\.Tanh|torch\.tanh", "tanh activation"),
    (r"nn\.ReLU|F\.relu|torch\.relu", "ReLU activation"),
    (r"nn\.GELU|nn\.SiLU|F\.gelu|F\.silu", "smooth GELU/SiLU activation"),
    (r"adaptive.?activation|slope.?recovery|layer.?wise.?(slope|activation)", "adaptive activation"),
    (r"modified.?mlp|\bencoder_[uv]\b|\(1\s*-\s*\w+\)\s*\*\s*\w*[uv]\b", "modified MLP with gating encoders"),
    (r"pirate", "PirateNet adaptive residual blocks"),
    (r"res(idual)?.?block|skip.?connection|h\s*=\s*h\s*\+", "residual (ResNet) connections"),
    (r"layer.?norm|batch.?norm", "normalisation layers"),
    (r"separable", "separable PINN"),
    (r"causal|cumsum", "causal time weighting"),
    (r"self.?adaptive|soft.?attention.?weight", "self-adaptive loss weights"),
    (r"\bntk\b|neural.?tangent", "NTK loss weighting"),
    (r"grad.?norm|annealing|lambda_?(bc|ic|res|r|b)\b", "gradient-norm loss balancing"),
    (r"curriculum", "curriculum training"),
    (r"time.?march|time.?window|seq2seq|sequence.?to.?sequence", "time marching"),
    (r"residual.?based|\brar\b|\brad\b|multinomial|importance.?sampl", "residual-based adaptive sampling"),
    (r"sobol|halton|latin|\bqmc\b", "quasi-random collocation"),
    (r"hard.?constrain|distance.?function|\bansatz\b", "hard boundary constraints"),
    (r"gradient.?enhanced|gpinn", "gradient-enhanced residual"),
    (r"subdomain|xpinn|cpinn|fbpinn|partition.?of.?unity|interface", "domain decomposition"),
    (r"gating|experts?\b", "mixture of experts"),
    (r"variational|test.?function|quadrature|legendre", "variational / weak form"),
    (r"artificial.?viscosity|viscosity.?schedul", "artificial viscosity"),
    (r"characteristic|lagrangian", "Lagrangian / characteristic coordinates"),
    (r"branch|trunk|deeponet", "DeepONet branch-trunk"),
    (r"\bpod\b|\bsvd\b|\bpca\b", "POD / PCA basis"),
    (r"rfft|fft\.|spectral.?conv|\bfno\b", "Fourier neural operator layers"),
    (r"conv[123]d|unet|u-net", "convolutional layers"),
    (r"gaussian.?process|\bkernel\b|cholesky", "Gaussian process / kernel regression"),
    (r"ensemble", "ensemble"),
    (r"dropout", "dropout"),
    (r"weight_decay", "weight decay"),
    (r"early.?stop|validation", "early stopping on a validation split"),
    (r"\.mean\(\s*(0|axis|dim)|\.std\(|normali[sz]|standardi[sz]", "input/output normalisation"),
)
_TECHNIQUE_PATTERNS = [(re.compile(p, re.IGNORECASE), name) for p, name in _TECHNIQUES]
_COMMENT = re.compile(r"#.*?$", re.MULTILINE)
_DOCSTRING = re.compile(r'("""|\'\'\')(.*?)\1', re.DOTALL)


def code_techniques(code: str) -> list[str]:
    """Names of the techniques a candidate's source uses (comments and docstrings are ignored: they often
    describe what the code does *not* do)."""
    stripped = _COMMENT.sub("", _DOCSTRING.sub("", code or ""))
    return [name for pattern, name in _TECHNIQUE_PATTERNS if pattern.search(stripped)]


def _squash(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", (text or "")).strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " ..."


def build_query(problem_analysis: str, parent_code: str, parent_analysis: str, limit: int = 1200) -> str:
    """Retrieval query for improving a parent candidate (as in AgenticSciML: problem + parent code + analysis).

    The parent's analysis (what went wrong) leads, because the trouble decides which method helps; then the
    problem's analysis; then the parent's code distilled to the names of its techniques. The sentence model
    reads only ~256 tokens, so each part is capped.
    """
    parts = []
    if parent_analysis and parent_analysis.strip():
        parts.append("Observed: " + _squash(parent_analysis, limit // 2))
    if problem_analysis and problem_analysis.strip():
        parts.append("Problem: " + _squash(problem_analysis, limit // 3))
    techniques = code_techniques(parent_code)
    if techniques:
        parts.append("Current method uses: " + ", ".join(techniques) + ".")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------------
# Facade
# ---------------------------------------------------------------------------------------------------------
class MethodMemory:
    """Curated + discovered method cards with semantic search.

    Args:
        data_dir: the service's data directory; the index lives in ``<data_dir>/method_memory/index`` and
            discovered cards in ``<data_dir>/method_memory/cards``.
        curated_dir: the curated cards (default: the ones shipped with this package).
        embedder: an :class:`~knowledge_base.embeddings.Embedder`; default: MiniLM if it loads, else the
            hashing fallback (see :func:`~knowledge_base.embeddings.load_embedder`). Loaded lazily.
        ranking: weights of the hybrid ranking (see :mod:`knowledge_base.ranking`).
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        curated_dir: Path | str | None = None,
        embedder: Embedder | None = None,
        ranking: RankingConfig | None = None,
    ) -> None:
        self.root = Path(data_dir) / "method_memory"
        self.curated_dir = Path(curated_dir) if curated_dir is not None else curated_cards_dir()
        self.discovered_dir = self.root / "cards"
        self._embedder = embedder
        self._index: CardIndex | None = None
        self._lexical: LexicalIndex | None = None
        self.ranking = ranking or RankingConfig()
        self._cards: dict[str, MethodCard] | None = None
        self._dirty = True
        self._lock = threading.RLock()

    # -- cards ---------------------------------------------------------------------------------------
    def _load(self) -> dict[str, MethodCard]:
        cards = {card.id: card for card in load_cards(self.curated_dir)}
        if self.discovered_dir.is_dir():
            # Curated cards ship with the package and must all parse; a discovered card is data written at
            # run time or dropped in by a user, and one bad file must not take the whole memory down.
            for path in sorted(self.discovered_dir.glob("*.md")):
                try:
                    card = load_card(path)
                    if card.id in cards:
                        raise CardError(f"{path}: field 'id': {card.id!r} collides with a curated card")
                except CardError as exc:
                    logger.warning("skipping discovered card: %s", exc)
                    continue
                cards[card.id] = card
        return cards

    def _all(self) -> dict[str, MethodCard]:
        with self._lock:
            if self._cards is None:
                self._cards = self._load()
            return self._cards

    def get(self, card_id: str) -> MethodCard:
        try:
            return self._all()[card_id]
        except KeyError:
            raise KeyError(f"no method card {card_id!r}") from None

    def list(self, kind: str | None = None) -> list[MethodCard]:
        """All cards sorted by id, optionally only those serving problem ``kind``."""
        cards = sorted(self._all().values(), key=lambda c: c.id)
        return [c for c in cards if kind is None or kind in c.kinds]

    def add_card(self, path_or_card: Path | str | MethodCard) -> MethodCard:
        """Store a (discovered) card and index it; a card with the same id as a discovered one replaces it.

        Curated cards are never overwritten: they are reviewed files of the repository.
        """
        if isinstance(path_or_card, MethodCard):
            card = path_or_card
        else:
            card = load_card(Path(path_or_card))
        with self._lock:
            cards = self._all()
            existing = cards.get(card.id)
            if existing is not None and existing.origin == "curated" and (self.curated_dir / f"{card.id}.md").exists():
                raise CardError(f"card id {card.id!r} is a curated card; choose another id")
            self.discovered_dir.mkdir(parents=True, exist_ok=True)
            target = self.discovered_dir / f"{card.id}.md"
            if isinstance(path_or_card, MethodCard):
                text = render_card(card)
                parse_card(text, source=f"card {card.id!r}")  # refuse to write what could not be read back
                target.write_text(text, encoding="utf-8")
            elif Path(path_or_card).resolve() != target.resolve():
                shutil.copyfile(path_or_card, target)
            cards[card.id] = card
            self._dirty = True
            self._sync()  # indexed now, so a later rebuild or search in any process finds nothing to redo
        return card

    # -- index ---------------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = load_embedder()
            return self._embedder

    def _sync(self, full: bool = False) -> SyncReport:
        if self._index is None:
            self._index = CardIndex(self.root / "index", self.embedder)
        cards = sorted(self._all().values(), key=lambda c: c.id)
        report = self._index.sync(cards, full=full)
        self._lexical = LexicalIndex(cards)
        self._dirty = False
        if report.embedded or report.removed:
            logger.info(
                "method memory: %d card(s) embedded, %d reused, %d removed (embedder %s)",
                len(report.embedded),
                len(report.reused),
                len(report.removed),
                self.embedder.name,
            )
        return report

    def rebuild(self, full: bool = False) -> SyncReport:
        """Re-read the card directories and bring the index up to date (``full``: re-embed everything)."""
        with self._lock:
            self._cards = None
            return self._sync(full=full)

    def search(self, query: str, kind: str | None = None, k: int = 5) -> list[Hit]:
        """The ``k`` cards closest to a free-text situation, optionally only those serving ``kind``."""
        if kind is not None and kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem kind {kind!r}; expected one of {PROBLEM_KINDS}")
        if not query or not query.strip():
            return []
        with self._lock:
            if self._dirty or self._index is None:
                self._sync()
            assert self._index is not None and self._lexical is not None
            vector = self.embedder.embed([query])[0]
            ranked = hybrid_search(self._index, self._lexical, vector, query, k=k, kind=kind, config=self.ranking)
            cards = self._all()
        hits = []
        for item in ranked:
            card = cards[item.card_id]
            hits.append(
                Hit(
                    card_id=item.card_id,
                    score=item.score,
                    dense=item.dense,
                    lexical=item.lexical,
                    title=card.title,
                    family=card.family,
                    kinds=list(card.kinds),
                    origin=card.origin,
                    citation=card.citation.short() if card.citation else None,
                )
            )
        return hits

    def search_for_parent(
        self, problem_analysis: str, parent_code: str, parent_analysis: str, kind: str | None = None, k: int = 5
    ) -> list[Hit]:
        """:meth:`search` with the query built by :func:`build_query`."""
        return self.search(build_query(problem_analysis, parent_code, parent_analysis), kind=kind, k=k)

    def shortlist(
        self, problem_analysis: str, parent_code: str, parent_analysis: str, kind: str | None = None, k: int = 5
    ) -> list[dict[str, Any]]:
        """Cards for a parent as plain dicts (``id``, ``title``, ``family``, ``kinds``, ``score``, ``citation``,
        ``origin``, ``body``), the shape the agents' memory protocol passes to the retriever and the prompts."""
        hits = self.search_for_parent(problem_analysis, parent_code, parent_analysis, kind=kind, k=k)
        return [card_payload(self.get(hit.card_id), hit.score) for hit in hits]

    @staticmethod
    def build_query(problem_analysis: str, parent_code: str, parent_analysis: str) -> str:
        return build_query(problem_analysis, parent_code, parent_analysis)


def card_payload(card: MethodCard, score: float | None = None) -> dict[str, Any]:
    """A card as a JSON-able dict whose ``body`` is its six sections as markdown (no front matter)."""
    body = "\n\n".join(f"## {heading}\n\n{text}" for heading, text in card.sections().items())
    return {
        "id": card.id,
        "title": card.title,
        "family": card.family,
        "kinds": list(card.kinds),
        "failure_modes": list(card.failure_modes),
        "score": score,
        "citation": card.citation.short() if card.citation else None,
        "origin": card.origin,
        "body": body,
    }


