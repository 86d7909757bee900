"""In-process guards installed by the harness just before candidate code runs.

Two layers with different jobs:

* a **seccomp filter** (kernel-enforced, cannot be undone by the process): kills the process on any
  network ``socket()`` call (unix sockets are refused with EACCES), on process creation (``fork``/``vfork``/``clone`` without ``CLONE_THREAD``) and on
  ``execve``; refuses ptrace, mounts, namespace changes, BPF, keyrings. This is a security boundary.
* a **Python audit hook** (PEP 578): turns the same behaviour, and writes outside the writable roots, into a
  clear, named violation before the kernel has to step in. It is diagnostics, not a boundary: code that
  reaches into the interpreter's internals could defeat it, and then the kernel layers (read-only mounts,
  network namespace, seccomp, rlimits, unprivileged uid) still hold.

A violation is reported on the control channel and ends the process at once with ``VIOLATION_EXIT`` so
that the candidate cannot catch it and carry on.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

VIOLATION_EXIT = 97

_PROCESS_EVENTS = {
    "os.fork": "tried to fork a process",
    "os.forkpty": "tried to fork a process",
    "os.posix_spawn": "tried to start a process",
    "os.spawn": "tried to start a process",
    "os.exec": "tried to exec a program",
    "os.system": "tried to run a shell command",
    "subprocess.Popen": "tried to start a subprocess",
    "os.startfile": "tried to start a program",
}
_PATH_EVENTS = {  # event -> indices of the path arguments that are modified
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (1,),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_ALLOWED_WRITE_FILES = ("/dev/null",)


class Violation(Exception):
    """A candidate did something the contract forbids."""


def _install_audit_hook(channel: Any, writable: list[Path]) -> None:
    roots = tuple(os.path.realpath(str(p)) for p in writable)
    send = channel.send
    exit_now = os._exit
    realpath = os.path.realpath
    fspath = os.fspath

    def forbid(what: str) -> None:
        try:
            send({"type": "violation", "what": what})
        finally:
            exit_now(VIOLATION_EXIT)

    def outside(path: Any) -> str | None:
        if isinstance(path, int) or path is None:
            return None
        try:
            text = fspath(path)
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            resolved = realpath(text)
        except Exception:  # noqa: BLE001 - an unresolvable path is not ours to judge here
            return None
        if resolved in _ALLOWED_WRITE_FILES:
            return None
        for root in roots:
            if resolved == root or resolved.startswith(root + "/"):
                return None
        return resolved

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            wants_write = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
            )
            if wants_write:
                bad = outside(path)
                if bad is not None:
                    forbid(f"tried to write outside its scratch directory: {bad}")
        elif event == "socket.__new__":
            family = args[1] if len(args) > 1 else None
            forbid(f"tried to open a network socket (family {family})")
        elif event in ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname"):
            forbid(f"tried to use the network ({event})")
        elif event in _PROCESS_EVENTS:
            forbid(_PROCESS_EVENTS[event])
        elif event in _PATH_EVENTS:
            for index in _PATH_EVENTS[event]:
                if index < len(args):
                    bad = outside(args[index])
                    if bad is not None:
                        forbid(f"tried to modify a path outside its scratch directory: {bad} ({event})")

    sys.addaudithook(hook)


def preload() -> None:
    """Import libseccomp's binding early (warm workers do this before any job arrives)."""
    import ctypes.util

    # pyseccomp locates its libraries with ctypes.util.find_library, which shells out to ldconfig/gcc;
    # inside the jail we know the sonames, so answer directly instead of spawning helpers.
    original = ctypes.util.find_library
    known = {"seccomp": "libseccomp.so.2", "c": "libc.so.6"}
    ctypes.util.find_library = lambda name: known.get(name) or original(name)
    try:
        import pyseccomp  # noqa: F401
    except Exception:  # noqa: BLE001 - lock_down reports the missing layer
        pass
    finally:
        ctypes.util.find_library = original


def _install_seccomp() -> str:
    """Load the filter; returns a description, or raises when libseccomp is unavailable."""
    import pyseccomp as sc

    clone_thread = 0x00010000
    filt = sc.SyscallFilter(sc.ALLOW)
    af_unix = 1
    # glibc's user and host lookups (NSS) probe the nscd unix socket and fall back to files when refused;
    # refusing is enough there. Every other family is the network: kill.
    filt.add_rule(sc.ERRNO(errno.EACCES), "socket", sc.Arg(0, sc.EQ, af_unix))
    filt.add_rule(sc.KILL_PROCESS, "socket", sc.Arg(0, sc.NE, af_unix))
    for name in ("fork", "vfork", "execve", "execveat"):
        filt.add_rule(sc.KILL_PROCESS, name)
    filt.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, clone_thread, 0))
    # clone3 passes its flags in memory, out of a filter's reach: make it look absent so libc falls back
    # to clone(2), whose flags the rule above can inspect.
    filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for name in (
        "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
        "unshare", "setns", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
        "init_module", "finit_module", "delete_module", "kexec_load", "reboot", "swapon", "swapoff",
    ):
        try:
            filt.add_rule(sc.ERRNO(errno.EPERM), name)
        except OSError:  # a syscall this architecture lacks
            continue
    filt.load()
    return ("kill on network sockets, fork and exec; unix sockets refused; "
            "EPERM on ptrace, mount, namespaces, bpf, keyrings")


def lock_down(channel: Any, writable: list[Path]) -> dict[str, Any]:
    """Apply both layers; returns what is active, for the run record."""
    active: dict[str, Any] = {}
    if os.environ.get("SCIML_SECCOMP", "1") == "1":
        try:
            active["seccomp"] = _install_seccomp()
        except Exception as exc:  # noqa: BLE001 - reported as a missing protection, not hidden
            active["seccomp"] = False
            active["seccomp_error"] = f"{type(exc).__name__}: {exc}"
    else:
        active["seccomp"] = False
        active["seccomp_error"] = "disabled by configuration"
    # The hook goes in last: loading libseccomp may itself run helpers (ctypes.util) that it forbids.
    _install_audit_hook(channel, writable)
    active["audit_hook"] = "network, process creation and writes outside scratch are named violations"
    return active
