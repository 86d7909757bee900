"""One long-lived thread that starts every sandbox process of a runner.

bubblewrap's ``--die-with-parent`` is PR_SET_PDEATHSIG, and Linux ties that signal to the *thread* that
forked, not to the process. A jail started from a short-lived thread (a pool refill, a request handler)
is therefore killed the moment that thread returns; worse, when the thread returns while bubblewrap is
still setting the jail up, the outer bwrap dies and the inner one survives as an orphan holding a warm
interpreter (about 300 MB) forever. Starting all jails from one thread that lives as long as the runner
keeps the signal meaningful: the jails die with the runner's process, and only then.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Callable, TypeVar

T = TypeVar("T")


class Spawner:
    def __init__(self, name: str = "sandbox-spawner") -> None:
        self._jobs: "queue.Queue[tuple[Callable[[], object], Future] | None]" = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the spawner thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread:
            return fn()
        if not self._thread.is_alive():
            raise OSError("the sandbox spawner has been stopped")
        future: Future = Future()
        self._jobs.put((fn, future))
        return future.result()

    def stop(self) -> None:
        """Let the thread end; call only after every process it started has been killed."""
        self._jobs.put(None)
        self._thread.join(timeout=5.0)
