"""Turn a finished campaign's champion into a discovered method card, so later campaigns can retrieve it.

The card is written from evidence only: the champion's lineage (each step's proposal and measured score),
its code, the failures seen among its relatives, and the data analysis. Its provenance links it to the
campaign and the node; the improvement it records is the measured one.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.campaigns.report import lineage
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database

MAX_SKETCH_CHARS = 6000


def _quoted(text: str) -> str:
    """Text pasted into a card section, made inert: level-2 headings demoted (they would start new sections)
    and a code fence cut open by truncation closed (it would swallow the sections after it)."""
    text = re.sub(r"(?m)^##(?=[ \t])", "###", text)
    if sum(1 for line in text.split("\n") if line.lstrip().startswith("```")) % 2:
        text += "\n```"
    return text


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3e}"


def build_discovered_card(db: Database, store: ArtifactStore, campaign_id: str, problem: dict[str, Any],
                          data_report: str) -> Any | None:
    """A :class:`knowledge_base.cards.MethodCard` for the champion, or None if it did not beat the root."""
    from knowledge_base.cards import MethodCard

    with db.session_scope(readonly=True) as s:
        campaign = repo.get_campaign(s, campaign_id)
        if campaign is None or campaign.champion_node_id is None or campaign.root_node_id is None:
            return None
        champion_id, root_id = campaign.champion_node_id, campaign.root_node_id
        root_score = repo.get_node(s, root_id).score
        failures = [n.error for n in repo.list_nodes(s, campaign_id) if n.status == "failed" and n.error][:5]
    if champion_id == root_id:
        return None
    chain = lineage(db, store, champion_id)
    champion = chain[-1]
    factor = (root_score / champion["score"]) if root_score and champion["score"] else None
    steps = "\n".join(f"{i}. {step['title'] or 'root'} (score {_score(step['score'])})"
                      for i, step in enumerate(chain))
    title = f"Discovered for {problem['name']}: {champion['title'] or 'champion'}"
    code = (champion["code"] or "").strip()
    if len(code) > MAX_SKETCH_CHARS:
        code = code[:MAX_SKETCH_CHARS] + "\n# ... (truncated; the full code is in the campaign's export)"
    design = champion.get("design")
    pitfalls = "\n".join(f"- {f[:300]}" for f in failures) or "- No failed relatives were recorded."
    return MethodCard(
        id=f"discovered-{problem['name'].replace('_', '-')}-{campaign_id}",
        title=title[:200],
        family="discovered",
        kinds=[problem["kind"]],
        failure_modes=[],
        tags=[problem["name"], "discovered"],
        origin="discovered",
        provenance={
            "campaign_id": campaign_id, "node_id": champion_id, "lineage": [s["node_id"] for s in chain],
            "root_score": root_score, "champion_score": champion["score"], "improvement_factor": factor,
        },
        core_idea=(f"The champion of campaign {campaign_id} on `{problem['name']}` ({problem['kind']}), reached "
                   f"from the root in {len(chain) - 1} accepted change(s); measured error {_score(champion['score'])}"
                   f" against {_score(root_score)} for the root"
                   + (f" ({factor:.1f}x better)." if factor else ".")
                   + f"\n\nLineage:\n{_quoted(steps)}\n\nLast rationale: "
                   + _quoted((champion.get('rationale') or '').strip()[:1500])),
        key_equations="The problem's own equations; see its description.\n\n"
                      + _quoted((problem.get("description") or "")[:1200]),
        pytorch_sketch=f"```python\n{code}\n```",
        critical_parameters=("```json\n" + json.dumps(design, indent=1)[:3000] + "\n```") if design
        else "See the code: the design was written directly as code.",
        known_pitfalls=_quoted(pitfalls),
        when_to_use=f"Problems like `{problem['name']}`. Data analysis of that problem:\n\n" + _quoted(data_report[:1500]),
    )
