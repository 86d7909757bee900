"""Which GPUs this node may hand to candidates, and what a budget's ``device`` means on it.

An evaluation gets at most one GPU. Whoever grants it (the local executor's slots, or Ray through
``ray.get_gpu_ids()``) passes the ids to the runner, which pins them with ``CUDA_VISIBLE_DEVICES`` inside
the jail and binds the NVIDIA device nodes. A CPU evaluation gets ``CUDA_VISIBLE_DEVICES=""`` so that it
does not wander onto a GPU of the node by accident. Nothing here imports torch: probing the driver through
torch would initialise CUDA in the trusted process.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset")
_NUMBERED = re.compile(r"^nvidia(\d+)$")
_HIDDEN = ("", "-1", "none", "nodevfiles", "void")


def device_nodes(dev: Path = Path("/dev")) -> list[str]:
    """The NVIDIA character devices present on this node (empty without a driver)."""
    if not (dev / "nvidiactl").exists():
        return []
    found = [str(dev / name) for name in _CONTROL_NODES if (dev / name).exists()]
    try:
        numbered = sorted((p for p in dev.iterdir() if _NUMBERED.match(p.name)),
                          key=lambda p: int(_NUMBERED.match(p.name).group(1)))  # type: ignore[union-attr]
    except OSError:
        numbered = []
    return found + [str(p) for p in numbered]


def visible_gpu_ids(environ: dict[str, str] | None = None, dev: Path = Path("/dev")) -> list[str]:
    """GPU ids this process may use: ``CUDA_VISIBLE_DEVICES`` when set, else every ``/dev/nvidiaN``."""
    env = os.environ if environ is None else environ
    nodes = device_nodes(dev)
    if not nodes:
        return []
    if "CUDA_VISIBLE_DEVICES" in env:
        value = env["CUDA_VISIBLE_DEVICES"].strip()
        if value.lower() in _HIDDEN:
            return []
        return [part.strip() for part in value.split(",") if part.strip()]
    return [_NUMBERED.match(Path(n).name).group(1) for n in nodes if _NUMBERED.match(Path(n).name)]  # type: ignore[union-attr]


def wants_gpu(device: str) -> bool:
    """``cuda``/``cuda:N`` must have a GPU; ``auto`` takes one when the node has one; ``cpu`` never."""
    return device == "auto" or device.startswith("cuda")


def resolve_device(requested: str, gpu_ids: list[str] | None) -> str | None:
    """The device string the candidate sees, or ``None`` when a GPU is required but none was granted.

    Inside the jail the one granted GPU is always ``cuda`` (ordinal 0 under ``CUDA_VISIBLE_DEVICES``).
    """
    if requested == "cpu":
        return "cpu"
    if gpu_ids:
        return "cuda"
    return "cpu" if requested == "auto" else None
