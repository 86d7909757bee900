"""Recording every LLM exchange of a campaign, and answering from such a recording later.

A recording is a JSONL file: a ``header`` line (the providers config and team options, so a replay can
rebuild the same team) followed by one ``exchange`` line per completed call, holding the request exactly
as sent and the provider's full ``ChatResponse``, and one ``shortlist`` line per retrieval (the cards
memory offered, which a replay uses instead of asking a memory that has grown since). Replay needs no server and no key: a
:class:`ReplayProvider` finds the recorded answer by role and a hash of the request, so a replayed
campaign produces the very same messages, proposals, code and costs. Any prompt that differs from the
recording (a changed template, different data) is a :class:`ReplayDivergence` naming the first place the
two requests differ, rather than a silently different campaign.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.providers.base import ChatRequest, ChatResponse, Provider
from agents.providers.config import ProvidersConfig, RoleModelConfig

logger = logging.getLogger(__name__)
# 2: JSON roles' requests carry their schema, output limits have per-role defaults, and an answer cut at
# the token limit may be followed by continuation exchanges. A replay of a format-1 recording asks the way
# format 1 did (``Caller.legacy_requests``), or none of its request hashes would match.
FORMAT_VERSION = 2
# Header names that carry credentials; their values never reach a recording.
_SECRET_HEADER = re.compile(r"auth|api[-_]?key|token|secret|cookie", re.IGNORECASE)


class ReplayDivergence(RuntimeError):
    """The replayed campaign asked something the recording does not contain."""


def request_hash(role: str, model: str, request: ChatRequest) -> str:
    """Identity of one exchange: who asked, which configured model, and the request as sent."""
    dumped = request.model_dump(mode="json")
    if dumped.get("response_schema") is None:
        # Absent from requests recorded before schemas existed: leaving it out keeps their hashes.
        dumped.pop("response_schema", None)
    body = {"role": role, "model": model, "request": dumped}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class HeaderRecord(BaseModel):
    type: Literal["header"] = "header"
    format: int = FORMAT_VERSION
    providers: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())


class ExchangeRecord(BaseModel):
    type: Literal["exchange"] = "exchange"
    seq: int
    role: str
    kind: str | None = None
    provider: str
    model: str = Field(description="The model the provider was configured with (part of the hash).")
    request_hash: str
    request: dict[str, Any]
    response: dict[str, Any]
    node: str | None = None
    campaign_id: str | None = None
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    def chat_request(self) -> ChatRequest:
        return ChatRequest.model_validate(self.request)

    def chat_response(self) -> ChatResponse:
        return ChatResponse.model_validate(self.response)


class ShortlistRecord(BaseModel):
    """The method cards memory offered for one child, as the retriever saw them.

    Memory grows after every campaign (its champion becomes a card), so asking it again during a replay
    would shortlist differently and change the retriever's prompt; the replay uses these instead.
    """

    type: Literal["shortlist"] = "shortlist"
    parent: int = Field(description="The parent's node id as shown to the models.")
    iteration: int
    seed: int = Field(description="The child's seed: tells apart the tries for one parent and iteration.")
    cards: list[dict[str, Any]]
    at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())


def _plain(value: Any) -> Any:
    """JSON for what card payloads may hold besides plain types (numpy scalars from the index)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


class Recorder:
    """Appends exchanges to a JSONL file as they complete (flushed each time: a killed campaign keeps
    everything it paid for). Appending to an existing file continues its numbering, so a resumed
    campaign extends its recording."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._seq = self._count_existing()
        self._file = self.path.open("a", encoding="utf-8")

    def _count_existing(self) -> int:
        if not self.path.exists():
            return 0
        with self.path.open(encoding="utf-8") as fh:
            return sum(1 for line in fh if '"type":"exchange"' in line or '"type": "exchange"' in line)

    def _write(self, record: BaseModel) -> None:
        line = json.dumps(record.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def write_header(self, providers: ProvidersConfig | None = None, options: dict[str, Any] | None = None) -> None:
        # ``api_key`` is excluded from dumps by the config model itself: only where keys live is written.
        dumped = providers.model_dump(mode="json", exclude_none=True) if providers is not None else None
        for models in (dumped or {}).get("roles", {}).values():
            for model in models:
                headers = model.get("extra_headers") or {}
                for name in headers:
                    if _SECRET_HEADER.search(name):
                        headers[name] = "<redacted>"
        self._write(HeaderRecord(providers=dumped, options=options))

    def record(self, *, role: str, kind: str | None, provider: str, model: str, request: ChatRequest,
               response: ChatResponse, node: str | None = None, campaign_id: str | None = None) -> ExchangeRecord:
        with self._lock:
            self._seq += 1
            seq = self._seq
        rec = ExchangeRecord(seq=seq, role=role, kind=kind, provider=provider, model=model,
                             request_hash=request_hash(role, model, request),
                             request=request.model_dump(mode="json"), response=response.model_dump(mode="json"),
                             node=node, campaign_id=campaign_id)
        self._write(rec)
        return rec

    def record_shortlist(self, *, parent: int, iteration: int, seed: int, cards: list[dict[str, Any]]) -> None:
        plain = json.loads(json.dumps(cards, default=_plain))
        self._write(ShortlistRecord(parent=parent, iteration=iteration, seed=seed, cards=plain))

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recording:
    """A loaded recording: its header(s) and exchanges in order."""

    def __init__(self, headers: list[HeaderRecord], exchanges: list[ExchangeRecord], path: Path | None = None,
                 shortlists: list[ShortlistRecord] | None = None):
        self.headers = headers
        self.exchanges = exchanges
        self.path = path
        self.shortlists = shortlists or []

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        path = Path(path)
        headers: list[HeaderRecord] = []
        exchanges: list[ExchangeRecord] = []
        shortlists: list[ShortlistRecord] = []
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if data.get("type") == "header":
                    headers.append(HeaderRecord.model_validate(data))
                elif data.get("type") == "exchange":
                    exchanges.append(ExchangeRecord.model_validate(data))
                elif data.get("type") == "shortlist":
                    shortlists.append(ShortlistRecord.model_validate(data))
                else:
                    raise ValueError(f"unknown record type {data.get('type')!r}")
            except ValueError as exc:
                # The last line of a killed run may be cut short; anything else is corruption.
                if number == len(lines):
                    break
                raise ValueError(f"{path}:{number}: not a recording line: {exc}") from None
        return cls(headers, exchanges, path, shortlists)

    def providers_config(self) -> ProvidersConfig | None:
        for header in reversed(self.headers):
            if header.providers is not None:
                return ProvidersConfig.model_validate(header.providers)
        return None

    @property
    def format(self) -> int:
        """The format the campaign was recorded in (its first header's)."""
        return self.headers[0].format if self.headers else FORMAT_VERSION

    def options(self) -> dict[str, Any] | None:
        for header in reversed(self.headers):
            if header.options is not None:
                return header.options
        return None


class ReplayBook:
    """The shared state of all replay providers of one replay: which recorded answers are still unused.

    ``strict`` (the default) refuses any request that is not in the recording. A non-strict book answers
    such a request with the role's next unused exchange for the same model, in recorded order, and
    counts it in ``divergences``: for re-running a campaign whose candidates train against the clock,
    so that scores (and hence the result analyst's prompt) differ slightly from the original run.
    """

    def __init__(self, recording: Recording, *, strict: bool = True) -> None:
        self.recording = recording
        self.strict = strict
        self.divergences: list[str] = []
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], deque[ExchangeRecord]] = {}
        self._by_role: dict[str, deque[ExchangeRecord]] = {}
        for rec in recording.exchanges:
            self._by_key.setdefault((rec.role, rec.request_hash), deque()).append(rec)
            self._by_role.setdefault(rec.role, deque()).append(rec)
        self.used = 0

    def answer(self, role: str, model: str, request: ChatRequest) -> ChatResponse:
        digest = request_hash(role, model, request)
        with self._lock:
            queue = self._by_key.get((role, digest))
            if queue:
                rec = queue.popleft()
            else:
                explanation = self._explain(role, model, request)
                rec = None if self.strict else next(
                    (r for r in self._by_role.get(role, ()) if r.model == model), None)
                if rec is None:
                    raise ReplayDivergence(explanation)
                self._by_key[(role, rec.request_hash)].remove(rec)
                self.divergences.append(explanation)
                logger.warning("%s; answering with recorded exchange #%d instead", explanation, rec.seq)
            self._by_role[role].remove(rec)
            self.used += 1
        return rec.chat_response()

    @property
    def remaining(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._by_role.values())

    def _explain(self, role: str, model: str, request: ChatRequest) -> str:
        pending = self._by_role.get(role)
        head = f"replay diverged: no recorded {role!r} exchange (model {model!r}) matches this request"
        if not pending:
            return f"{head}; the recording has no unused {role!r} exchanges left"
        nxt = pending[0]
        if nxt.model != model:
            return f"{head}; the next recorded {role!r} exchange (#{nxt.seq}) used model {nxt.model!r}"
        return f"{head}; it differs from the next recorded {role!r} exchange (#{nxt.seq}): " \
               f"{_first_difference(nxt.chat_request(), request)}"


def _first_difference(recorded: ChatRequest, now: ChatRequest) -> str:
    if len(recorded.messages) != len(now.messages):
        return f"{len(now.messages)} messages instead of {len(recorded.messages)}"
    for i, (a, b) in enumerate(zip(recorded.messages, now.messages)):
        if a.role != b.role:
            return f"message {i} has role {b.role!r} instead of {a.role!r}"
        if a.content != b.content:
            at = next((k for k, (x, y) in enumerate(zip(a.content, b.content)) if x != y),
                      min(len(a.content), len(b.content)))
            lo = max(0, at - 30)
            return (f"message {i} ({a.role}) first differs at character {at}: recorded "
                    f"{a.content[lo:at + 50]!r}, now {b.content[lo:at + 50]!r}")
    fields = [f for f in ("temperature", "max_tokens", "stop", "json_mode", "model")
              if getattr(recorded, f) != getattr(now, f)]
    return f"request settings differ: {', '.join(fields)}" if fields else "the requests differ"


class ReplayProvider:
    """A ``Provider`` that answers one role's requests from a recording, never from the network."""

    def __init__(self, book: ReplayBook | Recording, role: str, model: str, name: str = "replay") -> None:
        self.book = book if isinstance(book, ReplayBook) else ReplayBook(book)
        self.role = role
        self.model = model
        self.name = name

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return self.book.answer(self.role, self.model, request)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"ReplayProvider(role={self.role!r}, model={self.model!r})"


class NodeAliases:
    """Shows a replay's nodes to the models under the ids they had in the recorded campaign.

    Node ids are global in the database, so a replay stored beside its original gets new ids, and every
    prompt that names a node ("parent 5: ...") would differ from the recording. The replay tells this
    object about each node as the engine creates it (``observe``); a node is matched to the original node
    in the same slot: same iteration, same (aliased) parent, same position among that parent's children
    of that iteration. Unmatched nodes keep their own id. ``show`` maps a real id to the one put in
    prompts, ``actual`` maps an id a model answered with (a selector's vote) back to the real one.
    """

    def __init__(self, original: Iterable[tuple[int, int | None, int]] = ()) -> None:
        """``original``: ``(node_id, parent_id, iteration)`` of the recorded campaign's nodes."""
        self._slots: dict[tuple[int, int | None, int], int] = {}
        counts: dict[tuple[int, int | None], int] = {}
        for node_id, parent_id, iteration in sorted(original):
            ordinal = counts.get((iteration, parent_id), 0)
            counts[(iteration, parent_id)] = ordinal + 1
            self._slots[(iteration, parent_id, ordinal)] = node_id
        self._seen: set[int] = set()
        self._counts: dict[tuple[int, int | None], int] = {}
        self._shown: dict[int, int] = {}
        self._actual: dict[int, int] = {}
        self._lock = threading.Lock()

    def knows(self, node_id: int) -> bool:
        with self._lock:
            return node_id in self._seen

    def observe(self, node_id: int, parent_id: int | None, iteration: int) -> None:
        with self._lock:
            if node_id in self._seen:
                return
            self._seen.add(node_id)
            parent = self._shown.get(parent_id, parent_id) if parent_id is not None else None
            ordinal = self._counts.get((iteration, parent), 0)
            self._counts[(iteration, parent)] = ordinal + 1
            original = self._slots.get((iteration, parent, ordinal))
            if original is not None and original not in self._actual:
                self._shown[node_id] = original
                self._actual[original] = node_id

    def show(self, node_id: int) -> int:
        with self._lock:
            return self._shown.get(node_id, node_id)

    def actual(self, shown_id: int) -> int:
        with self._lock:
            return self._actual.get(shown_id, shown_id)


ProviderFactory = Callable[[str, int, RoleModelConfig], Provider]


def replay_factory(recording: Recording | ReplayBook, *, strict: bool = True) -> ProviderFactory:
    """A provider factory for :class:`~agents.llm.team.LLMTeam` that replays ``recording``."""
    book = recording if isinstance(recording, ReplayBook) else ReplayBook(recording, strict=strict)

    def make(role: str, index: int, cfg: RoleModelConfig) -> Provider:
        return ReplayProvider(book, role=role, model=cfg.model, name=cfg.display_name)

    return make
