"""The bubblewrap command line: mount order matters, since a later mount hides what lies below it."""

from __future__ import annotations

import pytest

from sandbox.isolation import Limits, plan_launch, probe


def test_the_private_tmp_is_mounted_before_anything_is_bound_below_it(tmp_path):
    """Regression: with the checkout (and its .venv) under /tmp, the jail's /tmp tmpfs was mounted after the
    interpreter's bind and hid it; every candidate failed with 'No such file or directory'."""
    if not probe().bwrap_works:
        pytest.skip("bubblewrap cannot create namespaces here")
    for name in ("task", "scratch", "lib"):
        (tmp_path / name).mkdir()
    plan = plan_launch(backend="bwrap", task_dir=tmp_path / "task", scratch_dir=tmp_path / "scratch",
                       lib_dir=tmp_path / "lib", limits=Limits(memory_mb=1024, cpu_seconds=10), cpu_threads=1,
                       uid=None, secret_dirs=[])
    argv = plan.argv
    tmpfs_at = next(i for i, arg in enumerate(argv) if arg == "--tmpfs" and argv[i + 1] == "/tmp")
    binds = [i for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind", "--dir", "--symlink")]
    assert binds and all(i > tmpfs_at for i in binds), "a bind precedes the /tmp tmpfs and may be hidden by it"
