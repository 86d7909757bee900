"""The weaker backends still stop the hostile basics and say honestly what they lack."""

from __future__ import annotations

import pytest

from sandbox.evaluate import Evaluator
from sandbox.isolation import probe

GOOD = "def solve(task):\n    return 2.0 * task.query_inputs['x'][:, 0] + 0.5\n"


@pytest.fixture(scope="module", params=["unshare", "none"])
def fallback(request, tmp_path_factory):
    if request.param == "unshare" and not probe().unshare_works:
        pytest.skip("unshare cannot create a network namespace on this machine")
    root = tmp_path_factory.mktemp(f"fallback-{request.param}")
    with Evaluator(root / "runs", root / "cache", backend=request.param, secret_dirs=[root]) as ev:
        yield ev


def test_good_candidate_and_honest_report(fallback, tiny):
    result = fallback.evaluate(GOOD, tiny)
    assert result.status == "succeeded", (result.reason, result.stderr[-1500:])
    assert result.score == pytest.approx(0.0, abs=1e-12)
    assert result.protections["backend"] == fallback.runner.backend
    assert "fallbacks" in result.protections  # the weaker isolation is named, not silent
    assert result.protections["filesystem"].startswith("shared host filesystem")


@pytest.mark.parametrize(
    "code, words",
    [
        ("import socket\ndef solve(task):\n    socket.socket()\n", "network"),
        ("import os\ndef solve(task):\n    os.fork()\n", "fork"),
        ("def solve(task):\n    open('/etc/agentic-evil', 'w')\n", "outside its scratch"),
    ],
)
def test_hostile_basics(fallback, tiny, code, words):
    result = fallback.evaluate(code, tiny)
    assert result.status == "failed" and result.score is None
    assert result.failure == "violation"
    assert words in result.reason


def test_seccomp_is_active_where_libseccomp_exists(fallback, tiny):
    import ctypes.util

    result = fallback.evaluate(GOOD, tiny)
    if ctypes.util.find_library("seccomp"):
        assert result.protections["seccomp"], result.protections.get("seccomp_error")
