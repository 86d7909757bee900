"""The node page marks a score from a sandbox weaker than bubblewrap (issue 13, item 2): a badge by the
title, the isolation stat and a notice; a strong score shows its backend only. The campaign page says how
many of its scores were weak; the node page shows what a run used (steps, wall and CPU seconds)."""

from __future__ import annotations

import pytest

from app.db import repository as repo

pytestmark = pytest.mark.timeout(240)


def test_node_page_marks_weak_isolation(stack, open_page):
    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign

    cid = create_campaign(stack.db, CampaignConfig(problem="discontinuous_fit1d", allow_weak_isolation=True))
    with stack.db.session_scope() as s:
        root = repo.add_node(s, cid, code="def solve(task):\n    return 0\n", status="succeeded",
                             proposal={"title": "root"}, protections={"backend": "bwrap"})
        repo.record_node_score(s, root.id, 0.5, metrics={"rel_l2": 0.5, "isolation": "bwrap",
                                                         "weak_isolation": False})
        child = repo.add_node(s, cid, parent_id=root.id, iteration=1, code="def solve(task):\n    return 1\n",
                              status="succeeded", proposal={"title": "read the targets"},
                              protections={"backend": "none"},
                              timings={"full_s": 3.0, "run": {"steps": 250, "step_budget": 300, "wall_s": 2.5,
                                                              "wall_budget_s": 60.0, "cpu_s": 2.25}})
        repo.record_node_score(s, child.id, 1e-12, metrics={"rel_l2": 1e-12, "isolation": "none",
                                                            "weak_isolation": True})
    running = stack.serve(embedded=True)
    page = open_page()

    page.goto(f"{running.base_url}/ui/campaigns/{cid}/nodes/{child.id}")
    page.wait_for_selector(".badge.weak-isolation")
    assert "weak isolation: none" in page.inner_text(".badge.weak-isolation")
    assert "Weak isolation:" in page.inner_text(".notice.warn") and "hidden targets" in page.inner_text(".notice.warn")
    assert page.inner_text(".stat.weak-isolation .stat-value") == "none"
    assert page.inner_text("#run-usage") == "250 optimiser steps of a 300-step budget · wall 2.5 s (cap 60 s) · CPU 2.3 s"

    page.goto(f"{running.base_url}/ui/campaigns/{cid}/nodes/{root.id}")
    page.wait_for_selector("h1 .badge")
    assert page.query_selector(".badge.weak-isolation") is None
    assert "bwrap" in page.inner_text(".stats")

    page.goto(f"{running.base_url}/ui/campaigns/{cid}")
    page.wait_for_selector("#weak-isolation-notice")
    assert "1 score(s) came from a sandbox weaker than bubblewrap (bwrap 1, none 1)" in page.inner_text(
        "#weak-isolation-notice")
    assert page.inner_text(".stat.weak-isolation .stat-value") == "⚠ weak (1)"
    page.errors.check()
