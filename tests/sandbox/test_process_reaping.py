"""A killed harness is reaped by us, once, with its exit status, however the kill races its death.

Regression (CI, under load): ``kill()`` sent the group SIGKILL and then called ``Popen.kill()``, which polls
before signalling and so reaped a child that had already died. ``wait4`` then had nothing to collect, every
``wait_exit`` ran to its 10 s timeout, and a timed-out candidate reported 20 s too much import or solve time.
"""

from __future__ import annotations

import os
import sys
import time

from sandbox.isolation import LaunchPlan
from sandbox.process import SandboxProcess


def _spawn(code: str) -> SandboxProcess:
    plan = LaunchPlan(argv=[sys.executable, "-c", code], env=dict(os.environ), preexec=lambda: None,
                      protections={}, task_dir="/nonexistent", scratch_dir="/nonexistent")
    return SandboxProcess.spawn(plan, stdin_job=False)


def test_kill_leaves_the_exit_to_our_own_wait4():
    proc = _spawn("import time; time.sleep(100)")
    try:
        proc.kill()
        started = time.monotonic()
        info = proc.wait_exit(10.0)
        assert info is not None and time.monotonic() - started < 5.0
        assert info.signal == 9 and info.returncode == -9
    finally:
        proc.kill()
        proc.join_readers(2.0)


def test_a_child_reaped_elsewhere_still_reports_its_exit():
    proc = _spawn("raise SystemExit(3)")
    proc.popen.wait(10.0)  # subprocess reaps it behind SandboxProcess' back
    started = time.monotonic()
    info = proc.wait_exit(10.0)
    assert time.monotonic() - started < 1.0, "wait_exit must not run to its timeout"
    assert info is not None and info.returncode == 3 and info.signal is None
    proc.kill()  # already reaped: signals nothing
    proc.join_readers(2.0)
