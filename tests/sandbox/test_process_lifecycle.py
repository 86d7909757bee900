"""Jails live exactly as long as the runner wants them: never killed early, never left behind.

Regression: warm workers were started from short-lived refill threads. bubblewrap's die-with-parent is tied
to the forking *thread*, so the outer bwrap died when the thread returned and the inner jail survived as an
orphan holding a warm interpreter; a test session accumulated dozens of them until the machine ran out of
memory.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from sandbox.runner import CandidateRunner
from sandbox.warm_pool import POOL_BUDGET


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[0]) == uid:
            pids.append(int(entry))
    return pids


def _wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@pytest.fixture
def runner(tmp_path):
    runner = CandidateRunner(tmp_path / "runs", warm_workers=0)
    yield runner
    runner.close()


def test_a_jail_started_from_a_thread_that_returns_at_once_stays_alive_and_dies_on_kill(runner):
    uid = runner._new_uid()
    if uid is None:
        pytest.skip("per-candidate uids need root; without them there is no uid to look for")
    run_id, task_dir, scratch = runner.make_run_dirs(uid)
    box = {}
    thread = threading.Thread(target=lambda: box.update(
        proc=runner.launch(budget=POOL_BUDGET, uid=uid, task_dir=task_dir, scratch=scratch, warm=True)))
    thread.start()
    thread.join()
    proc = box["proc"]
    assert _wait_until(lambda: len(_processes_of(uid)) > 0, 10.0), "the jailed interpreter never started"
    time.sleep(1.0)  # long past the moment the launching thread returned
    assert proc.poll_exit() is None, "the jail died with the thread that launched it"
    proc.kill()
    assert _wait_until(lambda: not _processes_of(uid), 10.0), f"orphans left behind: {_processes_of(uid)}"


def test_closing_a_warm_pool_leaves_no_process_behind(tmp_path):
    runner = CandidateRunner(tmp_path / "runs", warm_workers=2)
    uids = set()
    try:
        assert runner._pool is not None and runner._pool.wait_ready(2, timeout=90.0)
        for worker in runner._pool._workers:
            with open(f"/proc/{worker.process.popen.pid}/status") as handle:
                pass  # the jail is alive while the pool holds it
        if runner._new_uid() is None:
            pytest.skip("per-candidate uids need root")
        uids = {os.stat(w.scratch).st_uid for w in runner._pool._workers}
    finally:
        runner.close()
    assert _wait_until(lambda: not any(_processes_of(u) for u in uids), 10.0)
