"""Hostile candidates end failed, with a reason that names what they did, and never with a score.

Every test here runs a real sandboxed process; the last test checks the runner is still healthy afterwards.
"""

from __future__ import annotations

import textwrap

import pytest

GOOD = """
def solve(task):
    x = task.query_inputs["x"][:, 0]
    task.log(0, loss=1.0)
    task.log(1, loss=0.5)
    return 2.0 * x + 0.5
"""


def require_seccomp(result) -> None:
    """Where libseccomp is installed the filter must be active; elsewhere the test cannot apply."""
    import ctypes.util

    if result.protections.get("seccomp") is False:
        assert not ctypes.util.find_library("seccomp"), result.protections.get("seccomp_error")
        pytest.skip(f"libseccomp is not installed: {result.protections.get('seccomp_error')}")


def run(evaluator, tiny, code: str, **kw):
    return evaluator.evaluate(textwrap.dedent(code), tiny, **kw)


def assert_failed(result, failure: str, *words: str) -> None:
    assert result.status == "failed", result
    assert result.score is None
    assert result.failure == failure, (result.failure, result.reason, result.stderr[-500:])
    for word in words:
        assert word.lower() in (result.reason or "").lower(), result.reason


def test_good_candidate_scores_exactly(evaluator, tiny):
    result = run(evaluator, tiny, GOOD)
    assert result.status == "succeeded", (result.reason, result.stderr[-2000:])
    assert result.score == pytest.approx(0.0, abs=1e-12)
    assert [r["loss"] for r in result.logs] == [1.0, 0.5]


def test_wrong_shape(evaluator, tiny):
    result = run(evaluator, tiny, "def solve(task):\n    return [1.0, 2.0, 3.0]\n")
    assert_failed(result, "invalid_output", "shape (3,)", "expected (64,)")


def test_nan_predictions(evaluator, tiny):
    code = "import numpy as np\ndef solve(task):\n    y = np.zeros(64)\n    y[5] = np.nan\n    return y\n"
    assert_failed(run(evaluator, tiny, code), "invalid_output", "non-finite")


def test_fake_score_printed_and_forged_on_channel_is_ignored(evaluator, tiny):
    code = """
    import json, os
    def solve(task):
        print("score: 0.0\\nrel_l2 = 0")
        fd = int(os.environ["SCIML_CONTROL_FD"])
        for msg in ({"type": "done", "score": 0.0}, {"type": "protections", "active": {"forged": True}},
                    {"type": "score", "value": 0.0}):
            os.write(fd, (json.dumps(msg) + "\\n").encode())
        task.log(0, rel_l2=0.0)
        return task.query_inputs["x"][:, 0] * 0.0   # a poor prediction: error 1.0 against the targets
    """
    result = run(evaluator, tiny, code)
    assert result.status == "succeeded"
    assert result.score == pytest.approx(1.0)
    assert "forged" not in result.protections


def test_write_outside_scratch(evaluator, tiny):
    code = "def solve(task):\n    open('/task/candidate.py', 'w').write('pwned')\n"
    assert_failed(run(evaluator, tiny, code), "violation", "write outside its scratch", "/task/candidate.py")


def test_write_outside_scratch_with_os_open(evaluator, tiny):
    code = "import os\ndef solve(task):\n    os.open('/usr/lib/evil', os.O_CREAT | os.O_WRONLY)\n"
    assert_failed(run(evaluator, tiny, code), "violation", "outside its scratch")


def test_writing_in_scratch_is_allowed(evaluator, tiny):
    code = """
    def solve(task):
        (task.scratch_dir / "checkpoint.txt").write_text("ok")
        return 2.0 * task.query_inputs["x"][:, 0] + 0.5
    """
    assert run(evaluator, tiny, code).status == "succeeded"


def test_network_socket(evaluator, tiny):
    code = "import socket\ndef solve(task):\n    socket.create_connection(('93.184.216.34', 80), timeout=2)\n"
    assert_failed(run(evaluator, tiny, code), "violation", "network")


def test_network_socket_through_ctypes_is_killed_by_seccomp(evaluator, tiny):
    code = """
    import ctypes
    def solve(task):
        libc = ctypes.CDLL(None)
        libc.socket(2, 1, 0)
        return 2.0 * task.query_inputs["x"][:, 0] + 0.5
    """
    result = run(evaluator, tiny, code)
    require_seccomp(result)
    assert_failed(result, "violation", "seccomp")


def test_fork(evaluator, tiny):
    code = "import os\ndef solve(task):\n    while True:\n        os.fork()\n"
    assert_failed(run(evaluator, tiny, code), "violation", "fork")


def test_subprocess(evaluator, tiny):
    code = "import subprocess\ndef solve(task):\n    subprocess.run(['sh', '-c', 'echo hi'])\n"
    assert_failed(run(evaluator, tiny, code), "violation", "subprocess")


def test_fork_bomb_through_ctypes_is_killed_by_seccomp(evaluator, tiny):
    code = """
    import ctypes
    def solve(task):
        libc = ctypes.CDLL(None)
        while True:
            libc.fork()
    """
    result = run(evaluator, tiny, code)
    require_seccomp(result)
    assert_failed(result, "violation", "seccomp")


def test_unbounded_threads_are_capped(evaluator, tiny):
    code = """
    import threading, time
    def solve(task):
        threads = []
        while True:
            t = threading.Thread(target=time.sleep, args=(30,), daemon=True)
            t.start()
            threads.append(t)
    """
    result = run(evaluator, tiny, code, budget={"wall_seconds": 10})
    assert result.status == "failed" and result.score is None
    assert result.failure in ("crash", "memory"), result.reason
    assert "thread" in (result.reason or "").lower() or result.failure == "memory"


def test_unbounded_allocation(evaluator, tiny):
    code = "def solve(task):\n    hog = []\n    while True:\n        hog.append(bytearray(50_000_000))\n"
    result = run(evaluator, tiny, code, budget={"memory_mb": 1536})
    assert_failed(result, "memory", "memory limit of 1536 MB")


def test_unbounded_torch_allocation(evaluator, tiny):
    code = "import torch\ndef solve(task):\n    return torch.empty(10**11)\n"
    assert_failed(run(evaluator, tiny, code, budget={"memory_mb": 1536}), "memory")


def test_runs_forever(evaluator, tiny):
    code = "def solve(task):\n    while True:\n        pass\n"
    result = run(evaluator, tiny, code, budget={"wall_seconds": 1})
    assert_failed(result, "timeout", "wall-clock budget of 1 s")
    assert result.wall_seconds < 30


def test_sleeps_forever_in_import(evaluator, tiny):
    code = "import time\ntime.sleep(10**6)\ndef solve(task):\n    return 0\n"
    # The module body runs before solve(): the start-up timeout covers it, but we shorten it via cancel.
    import threading

    cancel = threading.Event()
    timer = threading.Timer(3.0, cancel.set)
    timer.start()
    result = run(evaluator, tiny, code, cancel=cancel)
    timer.cancel()
    assert_failed(result, "killed", "cancelled")


def test_predictions_symlink_to_hidden_targets_is_refused(evaluator, tiny):
    # Even if the candidate guessed where the hidden targets live, it cannot point the scorer at them.
    evaluator.evaluate(GOOD, tiny)  # makes the targets file exist in the cache
    target_path = str(tiny.targets_file)
    code = f"""
    import os
    def solve(task):
        os.symlink({target_path!r}, str(task.scratch_dir / "predictions.npy"))
        os._exit(0)
    """
    result = run(evaluator, tiny, code)
    assert result.status == "failed" and result.score is None
    assert result.failure in ("no_output", "violation", "crash"), result.reason


def test_hidden_targets_and_project_are_invisible(evaluator, tiny):
    evaluator.evaluate(GOOD, tiny)
    target_path = str(tiny.targets_file)
    code = f"""
    import numpy as np
    def solve(task):
        return np.load({target_path!r})
    """
    result = run(evaluator, tiny, code)
    assert_failed(result, "crash", "No such file")


def test_project_packages_cannot_be_imported(evaluator, tiny):
    code = "def solve(task):\n    import problems.registry\n"
    assert_failed(run(evaluator, tiny, code), "crash", "ModuleNotFoundError")


def test_environment_is_stripped(evaluator, tiny, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("DATABASE_URL", "postgresql://user:pw@db/prod")
    code = """
    import os
    def solve(task):
        print(sorted(os.environ.items()))
        return 2.0 * task.query_inputs["x"][:, 0] + 0.5
    """
    result = run(evaluator, tiny, code)
    assert result.status == "succeeded"
    assert "sk-secret-value" not in result.stdout
    assert "DATABASE_URL" not in result.stdout


def test_huge_output_is_bounded(evaluator, tiny):
    code = """
    import sys
    def solve(task):
        for _ in range(2000):
            sys.stdout.write("x" * 10000 + "\\n")
        return 2.0 * task.query_inputs["x"][:, 0] + 0.5
    """
    result = run(evaluator, tiny, code)
    assert result.status == "succeeded"
    assert len(result.stdout) < 100_000
    assert "bytes dropped" in result.stdout


def test_exit_without_predictions(evaluator, tiny):
    code = "import os\ndef solve(task):\n    os._exit(0)\n"
    assert_failed(run(evaluator, tiny, code), "no_output", "no predictions")


def test_syntax_error_and_missing_solve(evaluator, tiny):
    assert_failed(run(evaluator, tiny, "def solve(task)\n    return 1\n"), "crash", "SyntaxError")
    assert_failed(run(evaluator, tiny, "x = 1\n"), "contract", "solve")


def test_runner_is_healthy_after_hostile_runs(evaluator, tiny):
    result = run(evaluator, tiny, GOOD)
    assert result.status == "succeeded" and result.score == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("path", ["light", "warm"])
def test_protections_are_reported(evaluator, tiny, path):
    if path == "warm":
        evaluator.runner._pool.wait_ready(1, timeout=120)
    result = run(evaluator, tiny, (WARM if path == "warm" else "") + GOOD)
    assert result.warm_start == (path == "warm")
    protections = result.protections
    assert protections["backend"] in ("bwrap", "unshare", "none")
    assert "rlimits" in protections and protections["rlimits"]["address_space_mb"] == 2048
    assert protections["audit_hook"]
    assert "env" in protections
    if protections["backend"] == "bwrap":
        assert protections["network"].startswith("new network namespace")
        assert protections["pid_namespace"] is True


def test_torch_training_works_inside_the_jail(evaluator, tiny):
    # Autograd, optimisers and torch's lazy imports (which look up the user through glibc) must not trip
    # the guards: a legitimate candidate is never a casualty of the sandbox.
    code = """
    import torch
    def solve(task):
        torch.manual_seed(task.seed)
        x = torch.tensor(task.train["x"], dtype=torch.float32)
        y = torch.tensor(task.train["y"], dtype=torch.float32)[:, None]
        net = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for step in range(50):
            opt.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
        lbfgs = torch.optim.LBFGS(net.parameters(), max_iter=5)
        def closure():
            lbfgs.zero_grad()
            loss = ((net(x) - y) ** 2).mean()
            loss.backward()
            return loss
        lbfgs.step(closure)
        with torch.no_grad():
            return net(torch.tensor(task.query_inputs["x"], dtype=torch.float32))[:, 0]
    """
    result = run(evaluator, tiny, code)
    assert result.status == "succeeded", (result.reason, result.stderr[-1500:])
    assert result.score < 1.0


# A candidate that names torch runs in a warm worker that imported torch before the job arrived; one that
# does not starts cold without torch. The tests above mostly take the light path, so the guards are also
# checked on the warm path here.
WARM = "import torch  # takes the warm-worker path\n"


@pytest.mark.parametrize(
    "code, failure, words",
    [
        ("import socket\ndef solve(task):\n    socket.create_connection(('93.184.216.34', 80), timeout=2)\n",
         "violation", ["network"]),
        ("def solve(task):\n    open('/task/candidate.py', 'w').write('pwned')\n", "violation", ["outside its scratch"]),
        ("import os\ndef solve(task):\n    while True:\n        os.fork()\n", "violation", ["fork"]),
        ("def solve(task):\n    import problems.registry\n", "crash", ["ModuleNotFoundError"]),
    ],
    ids=["network", "write", "fork", "project"],
)
def test_warm_workers_enforce_the_same_guards(evaluator, tiny, code, failure, words):
    evaluator.runner._pool.wait_ready(1, timeout=120)
    result = run(evaluator, tiny, WARM + code)
    assert result.warm_start
    assert_failed(result, failure, *words)


def test_light_and_warm_paths_are_both_taken(evaluator, tiny):
    light = run(evaluator, tiny, GOOD)
    evaluator.runner._pool.wait_ready(1, timeout=120)
    warm = run(evaluator, tiny, WARM + GOOD)
    assert not light.warm_start and warm.warm_start
    assert light.score == warm.score == pytest.approx(0.0, abs=1e-12)


def test_cold_start_gives_the_same_result_as_warm(evaluator, cold_evaluator, tiny):
    evaluator.runner._pool.wait_ready(1, timeout=120)
    warm = run(evaluator, tiny, WARM + GOOD)
    cold = run(cold_evaluator, tiny, WARM + GOOD)
    assert warm.warm_start and not cold.warm_start
    assert warm.score == cold.score == pytest.approx(0.0, abs=1e-12)
    assert cold.protections["seccomp"] == warm.protections["seccomp"]


def test_memory_limit_applies_to_warm_workers(evaluator, cold_evaluator, tiny):
    # Warm workers start with generous limits; the job must lower them before candidate code runs.
    code = WARM + "def solve(task):\n    hog = bytearray(1800 * 1024 * 1024)\n    return hog\n"
    evaluator.runner._pool.wait_ready(1, timeout=120)
    result = run(evaluator, tiny, code, budget={"memory_mb": 1024})
    assert result.warm_start
    assert_failed(result, "memory", "1024 MB")
