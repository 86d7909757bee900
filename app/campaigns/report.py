"""Views of a finished (or running) campaign: the tree as text, and the export folder with the evidence."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from app.campaigns.engine import campaign_summary
from app.isolation import node_marks
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.3e}"


def tree_rows(db: Database, campaign_id: str) -> list[dict[str, Any]]:
    """Nodes in depth-first order with their depth, for printing and JSON."""
    with db.session_scope(readonly=True) as s:
        nodes = repo.list_nodes(s, campaign_id)
        children: dict[int | None, list[Any]] = {}
        for n in nodes:
            children.setdefault(n.parent_id, []).append(n)
        rows: list[dict[str, Any]] = []

        def walk(node: Any) -> None:
            proposal = node.proposal or {}
            rows.append({
                "node_id": node.id, "parent_id": node.parent_id, "depth": node.depth, "iteration": node.iteration,
                "status": node.status, "score": node.score, "title": proposal.get("title"),
                "card": proposal.get("card"), "error": node.error, **node_marks(node.metrics),
            })
            for child in sorted(children.get(node.id, []), key=lambda c: c.id):
                walk(child)

        for root in sorted(children.get(None, []), key=lambda c: c.id):
            walk(root)
        return rows


def format_tree(rows: list[dict[str, Any]], champion_id: int | None) -> str:
    lines = []
    for row in rows:
        mark = " ★" if row["node_id"] == champion_id else ""
        status = row["status"] if row["status"] != "succeeded" else _score(row["score"])
        if row.get("weak_isolation"):
            status += f" [WEAK ISOLATION: {row.get('isolation')}]"
        text = row["title"] or ""
        if row["status"] in ("failed", "skipped_duplicate") and row["error"]:
            text += f"  ({row['error'][:90]})"
        lines.append(f"{'  ' * row['depth']}#{row['node_id']} [it {row['iteration']}] {status}{mark}  {text}")
    return "\n".join(lines)


def lineage(db: Database, store: ArtifactStore, node_id: int) -> list[dict[str, Any]]:
    """Root first: every ancestor of ``node_id`` with its proposal, score and analysis."""
    chain = []
    with db.session_scope(readonly=True) as s:
        node = repo.get_node(s, node_id)
        while node is not None:
            proposal = node.proposal or {}
            chain.append({
                "node_id": node.id, "iteration": node.iteration, "score": node.score, "status": node.status,
                "title": proposal.get("title"), "rationale": proposal.get("rationale"),
                "design": proposal.get("design"), "card": proposal.get("card"), "analysis": node.analysis,
                **node_marks(node.metrics),
                "code": repo.node_code(node, store),
            })
            node = repo.get_node(s, node.parent_id) if node.parent_id else None
    return list(reversed(chain))


def best_per_iteration(rows: list[dict[str, Any]]) -> list[tuple[int, float]]:
    """Best score reached by the end of each iteration (a running minimum)."""
    best = math.inf
    out = []
    for iteration in sorted({r["iteration"] for r in rows}):
        scores = [r["score"] for r in rows if r["iteration"] == iteration and r["score"] is not None]
        if scores:
            best = min(best, min(scores))
        if math.isfinite(best):
            out.append((iteration, best))
    return out


def plot_best(points: list[tuple[int, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if points:
        ax.semilogy([p[0] for p in points], [p[1] for p in points], marker="o")
    ax.set_xlabel("iteration")
    ax.set_ylabel("best score (lower is better)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def export_campaign(db: Database, store: ArtifactStore, campaign_id: str, out: Path) -> dict[str, Any]:
    """Write champion code, lineage, tree and a markdown report with the best-score curve into ``out``."""
    summary = campaign_summary(db, campaign_id)
    out.mkdir(parents=True, exist_ok=True)
    rows = tree_rows(db, campaign_id)
    champion_id = summary["champion_node_id"]
    files: dict[str, str] = {}
    chain = lineage(db, store, champion_id) if champion_id else []
    if chain:
        (out / "champion.py").write_text(chain[-1]["code"] or "")
        files["champion"] = "champion.py"
        lineage_dir = out / "lineage"
        lineage_dir.mkdir(exist_ok=True)
        for step in chain:
            (lineage_dir / f"node_{step['node_id']}.py").write_text(step["code"] or "")
    (out / "lineage.json").write_text(json.dumps([{k: v for k, v in step.items() if k != "code"} for step in chain],
                                                 indent=1, default=str))
    (out / "tree.json").write_text(json.dumps(rows, indent=1, default=str))
    points = best_per_iteration(rows)
    plot_best(points, out / "best_score.png", f"{summary['problem']} — campaign {campaign_id}")
    files.update({"lineage": "lineage.json", "tree": "tree.json", "curve": "best_score.png", "report": "report.md"})
    (out / "report.md").write_text(_report_markdown(summary, chain, rows, points))
    return {**summary, "export_dir": str(out), "files": files}


def _report_markdown(summary: dict[str, Any], chain: list[dict[str, Any]], rows: list[dict[str, Any]],
                     points: list[tuple[int, float]]) -> str:
    factor = summary.get("improvement_factor")
    lines = [
        f"# Campaign {summary['campaign_id']} on `{summary['problem']}`",
        "",
        f"- status: {summary['status']}",
        f"- root score: {_score(summary['root_score'])}",
        f"- champion score: {_score(summary['champion_score'])} (node #{summary['champion_node_id']})",
        f"- improvement: {factor:.1f}x" if factor else "- improvement: —",
        f"- iterations: {summary['iterations']}, evaluations: {summary['evaluations']}, "
        f"failures: {summary['failures']}, active wall time: {summary['wall_seconds']:.0f} s",
    ]
    lines.append(_isolation_markdown(summary.get("isolation") or {}))
    selection = summary.get("champion_selection") or {}
    if selection.get("text"):
        lines.append(f"- champion chosen by: {selection['text']}")
    reeval = summary.get("champion_reeval")
    if reeval and reeval.get("mean") is not None:
        lines.append(f"- champion re-evaluated over seeds {list(reeval['scores_by_seed'])}: mean "
                     f"{reeval['mean']:.3e}, std {reeval['std']:.2e} (same code, new seeds: not a new discovery)")
    lines += ["", "![best score per iteration](best_score.png)", "", "## Best score per iteration", "",
              "| iteration | best score |", "| --- | --- |"]
    lines += [f"| {it} | {score:.3e} |" for it, score in points]
    lines += ["", "## Lineage of the champion", ""]
    for step in chain:
        lines.append(f"### #{step['node_id']} (iteration {step['iteration']}): {step['title'] or 'root'} — "
                     f"{_score(step['score'])}"
                     + (f" (**weak isolation: {step['isolation']}**)" if step.get("weak_isolation") else ""))
        if step.get("card"):
            lines.append(f"\nRetrieved method: `{step['card']}`")
        if step.get("rationale"):
            lines += ["", step["rationale"].strip()]
        if step.get("analysis"):
            lines += ["", "**Result analysis.** " + step["analysis"].strip()]
        lines.append(f"\nCode: `lineage/node_{step['node_id']}.py`\n")
    lines += ["## All nodes", "", "```", format_tree(rows, summary["champion_node_id"]), "```", ""]
    return "\n".join(lines)


def _isolation_markdown(isolation: dict[str, Any]) -> str:
    backends = ", ".join(f"{name} ({count})" for name, count in sorted((isolation.get("backends") or {}).items()))
    if isolation.get("weak_isolation"):
        return (f"- **WEAK ISOLATION**: {isolation['weak_scores']} score(s) came from a sandbox weaker than "
                f"bubblewrap ({backends}); a candidate could read host files, hidden targets included, so these "
                "scores may not be trustworthy")
    return f"- isolation: {backends or 'not recorded'}"
