"""Numbers computed in Python before a model is asked anything.

Models are bad at reading raw arrays and good at interpreting a summary, and a summary computed here is
exact and reproducible. The data analyst gets array statistics, the result analyst gets a digest of the
training logs and a list of automatic checks (it reports on them; it does not compute them).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _round(value: float) -> float:
    if not math.isfinite(value) or value == 0:
        return float(value)
    return float(f"{value:.4g}")


def array_facts(array: Any) -> dict[str, Any]:
    a = np.asarray(array)
    facts: dict[str, Any] = {"shape": list(a.shape), "dtype": str(a.dtype)}
    if a.size == 0 or not np.issubdtype(a.dtype, np.number):
        return facts
    flat = a.astype(np.float64, copy=False)
    finite = np.isfinite(flat)
    facts["non_finite"] = int(flat.size - finite.sum())
    values = flat[finite]
    if values.size:
        facts.update(min=_round(values.min()), max=_round(values.max()), mean=_round(values.mean()),
                     std=_round(values.std()))
    if a.ndim == 2 and 1 < a.shape[1] <= 8:
        cols = []
        for j in range(a.shape[1]):
            col = flat[:, j][np.isfinite(flat[:, j])]
            if col.size:
                cols.append({"min": _round(col.min()), "max": _round(col.max()), "std": _round(col.std())})
        facts["columns"] = cols
    return facts


def equation_facts(spec: dict[str, Any]) -> dict[str, Any]:
    """What the symbolic equation implies (terms, coefficient sizes, widths, frequencies), as the offline
    analyst derives it, so an LLM team reasons from the same facts; a failure is reported, never raised."""
    try:
        from agents.offline.pde_facts import pde_facts
        from problems.pde_symbolic import to_symbolic
        from sandbox.runtime.pde import build_pde

        pde = build_pde(spec)
        facts, sentences = pde_facts(to_symbolic(pde))
        return {"summary": pde.describe(), "exact_constraints": list(pde.exact_constraints),
                "implications": sentences, **facts}
    except Exception as exc:  # noqa: BLE001 - facts are advice; the campaign must not depend on them
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def data_facts(train: dict[str, Any], query_inputs: dict[str, Any]) -> dict[str, Any]:
    """Per-array statistics plus, for each query array, how many query points fall outside the bounding
    box of the training arrays with the same number of columns (extrapolation is a major risk)."""
    facts: dict[str, Any] = {
        "train": {name: array_facts(arr) for name, arr in sorted(train.items())},
        "query_inputs": {name: array_facts(arr) for name, arr in sorted(query_inputs.items())},
    }
    coverage: dict[str, Any] = {}
    for qname, qarr in query_inputs.items():
        q = np.asarray(qarr, dtype=np.float64) if np.issubdtype(np.asarray(qarr).dtype, np.number) else None
        if q is None or q.ndim != 2 or q.shape[0] == 0:
            continue
        same = [np.asarray(t, dtype=np.float64) for t in train.values()
                if np.asarray(t).ndim == 2 and np.asarray(t).shape[1] == q.shape[1]
                and np.issubdtype(np.asarray(t).dtype, np.number)]
        if not same:
            continue
        pool = np.concatenate(same, axis=0)
        lo, hi = np.nanmin(pool, axis=0), np.nanmax(pool, axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        outside = np.any((q < lo - 1e-9 * span) | (q > hi + 1e-9 * span), axis=1)
        coverage[qname] = {"outside_training_box": int(outside.sum()), "of": int(q.shape[0])}
    if coverage:
        facts["query_coverage"] = coverage
    return facts


def log_summary(logs: list[dict[str, Any]], max_metrics: int = 12) -> dict[str, Any]:
    """First, best and last value of each logged metric, and the training time covered."""
    if not logs:
        return {"records": 0}
    keys = [k for k in dict.fromkeys(k for rec in logs for k in rec) if k not in ("step", "t")][:max_metrics]
    metrics: dict[str, Any] = {}
    for key in keys:
        series = [(rec.get("step"), rec[key]) for rec in logs if isinstance(rec.get(key), (int, float))]
        values = [float(v) for _, v in series if math.isfinite(float(v))]
        if not values:
            metrics[key] = {"non_finite": len(series)}
            continue
        metrics[key] = {"first": _round(values[0]), "last": _round(values[-1]), "min": _round(min(values)),
                        "max": _round(max(values)), "points": len(series),
                        "non_finite": len(series) - len(values)}
    steps = [rec.get("step") for rec in logs if isinstance(rec.get("step"), int)]
    times = [rec.get("t") for rec in logs if isinstance(rec.get("t"), (int, float))]
    return {"records": len(logs), "last_step": max(steps) if steps else None,
            "seconds": _round(max(times)) if times else None, "metrics": metrics}


def result_checks(score: float | None, parent_score: float | None, metric: str, status: str,
                  summary: dict[str, Any], budget_seconds: float | None = None) -> list[str]:
    """Observations the result analyst must address; worded as facts, never as a grade."""
    checks: list[str] = []
    if status != "succeeded" or score is None:
        checks.append("the run did not produce a valid score")
        return checks
    if score == 0.0 or (metric == "rel_l2" and score < 1e-7):
        checks.append(f"the score {score:.3g} is suspiciously perfect for a learned solver: check that the "
                      "candidate does not return something it should not have (a leaked or trivial answer)")
    if parent_score is not None and parent_score > 0 and score > 0 and parent_score / score > 1000:
        checks.append(f"the error dropped {parent_score / score:.3g}-fold in one step, which is unusually "
                      "large: compare the curves with the parent's")
    if parent_score is not None and score > parent_score:
        checks.append(f"the score is worse than the parent's ({score:.4g} vs {parent_score:.4g})")
    metrics = summary.get("metrics", {})
    for key, m in metrics.items():
        if m.get("non_finite"):
            checks.append(f"logged metric {key!r} had {m['non_finite']} non-finite values")
        if "loss" in key.lower() and "last" in m and "first" in m and m["last"] > m["first"] * 1.5:
            checks.append(f"logged metric {key!r} ended higher than it started ({m['first']} -> {m['last']})")
    if not summary.get("records"):
        checks.append("the candidate logged no training progress")
    elif budget_seconds and summary.get("seconds") and summary["seconds"] >= 0.85 * budget_seconds:
        checks.append("training ran until the time budget was nearly used up (it may have been cut short)")
    return checks
