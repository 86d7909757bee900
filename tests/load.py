"""Machine load on demand, for tests that show a result does not depend on it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def busy_loops(count: int, settle: float = 0.5) -> Iterator[None]:
    """``count`` processes spinning on a core each while the block runs; killed and reaped afterwards."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(settle)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
