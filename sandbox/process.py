"""One sandboxed harness process and the plumbing around it: control channel, bounded output capture.

Everything read from the child is bounded (line length, number of records, bytes of stdout/stderr), because
the child is hostile until proven otherwise: it may print gigabytes or write garbage to the channel.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .isolation import LaunchPlan

MAX_LINE_BYTES = 1 << 20
MAX_MESSAGES = 50_000


class BoundedText:
    """Keeps the first and last ``limit`` bytes of a stream and counts what was dropped between."""

    def __init__(self, limit: int = 32 * 1024) -> None:
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - self.limit
            if excess > 0:
                self.dropped += excess
                del self.tail[:excess]

    def text(self) -> str:
        middle = f"\n... [{self.dropped} bytes dropped] ...\n" if self.dropped else ""
        return (bytes(self.head) + middle.encode() + bytes(self.tail)).decode("utf-8", errors="replace")


@dataclass
class ExitInfo:
    returncode: int
    signal: int | None
    cpu_seconds: float
    max_rss_mb: float


@dataclass
class SandboxProcess:
    """A started harness process; messages from its control channel arrive on ``messages``."""

    plan: LaunchPlan
    popen: subprocess.Popen
    control_fd: int
    messages: "queue.Queue[dict[str, Any]]" = field(default_factory=queue.Queue)
    stdout: BoundedText = field(default_factory=BoundedText)
    stderr: BoundedText = field(default_factory=BoundedText)
    spawned_at: float = field(default_factory=time.monotonic)
    _threads: list[threading.Thread] = field(default_factory=list)
    _exit: ExitInfo | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def spawn(cls, plan: LaunchPlan, *, stdin_job: bool, extra_env: dict[str, str] | None = None) -> "SandboxProcess":
        read_fd, write_fd = os.pipe()
        env = dict(plan.env)
        env["SCIML_CONTROL_FD"] = str(write_fd)
        if extra_env:
            env.update(extra_env)
        argv = list(plan.argv)
        if argv and os.path.basename(argv[0]) == "bwrap":
            # bubblewrap clears the environment: pass the per-process values through its own flags.
            insert_at = argv.index("--chdir")
            extra: list[str] = []
            for key in ("SCIML_CONTROL_FD", *(extra_env or {})):
                extra += ["--setenv", key, env[key]]
            argv[insert_at:insert_at] = extra
        try:
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_job else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=(write_fd,),
                preexec_fn=plan.preexec,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(write_fd)
        proc = cls(plan=plan, popen=popen, control_fd=read_fd)
        proc._start_readers()
        return proc

    # -- readers -------------------------------------------------------------------------------------------
    def _start_readers(self) -> None:
        def pump(stream, sink: BoundedText) -> None:
            while True:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
                if not chunk:
                    break
                sink.feed(chunk)

        def control() -> None:
            buffer = b""
            count = 0
            with os.fdopen(self.control_fd, "rb", buffering=0) as handle:
                while True:
                    chunk = handle.read(65536)
                    if not chunk:
                        break
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        count += 1
                        if count <= MAX_MESSAGES:
                            self._deliver(line)
                    if len(buffer) > MAX_LINE_BYTES:
                        buffer = b""  # an unterminated giant line is noise; drop it
            self.messages.put({"type": "_eof"})

        for target, args in ((pump, (self.popen.stdout, self.stdout)), (pump, (self.popen.stderr, self.stderr)),
                             (control, ())):
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _deliver(self, line: bytes) -> None:
        if len(line) > MAX_LINE_BYTES:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        if isinstance(message, dict) and isinstance(message.get("type"), str):
            self.messages.put(message)

    # -- control -------------------------------------------------------------------------------------------
    def send_job(self, job: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write((json.dumps(job) + "\n").encode())
            self.popen.stdin.close()
        except BrokenPipeError:
            pass

    def kill(self) -> None:
        # Once reaped, the pid may belong to someone else: never signal it again.
        with self._lock:
            reaped = self._exit is not None
        if not reaped:
            # os.kill, not Popen.kill: Popen.send_signal polls first and would reap a child that died of the
            # group kill, leaving wait4 below nothing to collect (the exit code and rusage were lost and every
            # wait_exit ran to its timeout). Until we reap it, the pid (a zombie at worst) is still ours.
            for target in (lambda: os.killpg(self.popen.pid, signal.SIGKILL),
                           lambda: os.kill(self.popen.pid, signal.SIGKILL)):
                try:
                    target()
                except (ProcessLookupError, PermissionError, OSError):
                    pass
        # A jail that outlived its bwrap parent still reads its job from this pipe; end of file makes the
        # harness exit instead of waiting forever.
        if self.popen.stdin is not None:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def poll_exit(self) -> ExitInfo | None:
        """Reap the process if it has exited, collecting its resource usage; never blocks."""
        with self._lock:
            if self._exit is not None:
                return self._exit
            try:
                pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
            except ChildProcessError:
                # Reaped elsewhere (subprocess' own bookkeeping): the exit is known, its rusage is not.
                if self.popen.returncode is None:
                    return None
                return self._record_reaped_elsewhere(self.popen.returncode)
            if pid == 0:
                return None
            return self._record_exit(status, usage)

    def wait_exit(self, timeout: float) -> ExitInfo | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.poll_exit()
            if info is not None:
                return info
            time.sleep(0.01)
        return self.poll_exit()

    def _record_exit(self, status: int, usage: Any) -> ExitInfo:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -(sig or 0)
        self.popen.returncode = code
        self._exit = ExitInfo(
            returncode=code,
            signal=sig,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            max_rss_mb=usage.ru_maxrss / 1024.0,
        )
        return self._exit

    def _record_reaped_elsewhere(self, returncode: int) -> ExitInfo:
        sig = -returncode if returncode < 0 else None
        self._exit = ExitInfo(returncode=returncode, signal=sig, cpu_seconds=0.0, max_rss_mb=0.0)
        return self._exit

    def join_readers(self, timeout: float = 5.0) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def drain(self, handler: Callable[[dict[str, Any]], None], timeout: float) -> bool:
        """Hand queued messages to ``handler`` for up to ``timeout`` s; True once the channel closed."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = self.messages.get(timeout=max(0.0, remaining)) if remaining > 0 else self.messages.get_nowait()
            except queue.Empty:
                return False
            if message.get("type") == "_eof":
                self.messages.put(message)  # keep the marker for later drains
                return True
            handler(message)
