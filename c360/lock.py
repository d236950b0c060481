"""One writer per lake: the run lock of the commands that change a lake (run, generate, stage, build, export,
import).

A local lake is locked with ``fcntl.flock`` on ``<lake>/logs/run.lock``. The kernel holds the lock for the life of
the process and drops it when the process ends, however it ends, so a killed run never blocks the next one. The
file itself records the holder (pid, host, command, start time) so that a refused command can say who holds the
lake; it is emptied on a clean release. A record left in a file whose lock is free is therefore a killed run's:
on the same host it is cleared with a message; from another host (a lake on a shared file system) the command is
refused, because this host cannot tell whether that run is still going, and the message says which file to remove.

The lock is re-entrant within one process: ``c360 run`` holds it across its steps, and the steps it calls take it
again without waiting for themselves.

An ``s3://`` lake is not locked (S3 has no lock that a killed run releases); a warning says so, and a deployment
relies on its scheduler (Step Functions runs one execution of the pipeline at a time).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from c360.errors import C360Error
from c360.storage import Lake

LOCK_FILE = "run.lock"
logger = logging.getLogger(__name__)


class LakeLockedError(C360Error):
    """Another process holds the lake's run lock."""


class LockError(C360Error):
    """The lock file cannot be created or written (a read-only lake, a full disk...)."""


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    command: str
    started: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} ({self.command}, started {self.started})"

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        """The holder recorded in a lock file; None for an empty file, or one whose record is unreadable."""
        if not text.strip():
            return None
        try:
            value = json.loads(text)
            return cls(int(value["pid"]), str(value["host"]), str(value["command"]), str(value["started"]))
        except (ValueError, KeyError, TypeError):
            return cls(pid=-1, host="?", command=f"unreadable lock record {text[:80]!r}", started="?")


@dataclass
class _Held:
    fd: int
    depth: int


_held: dict[str, _Held] = {}
"""The locks this process holds, by lock file path, with their nesting depth (the re-entrant part)."""


def lock_path(lake: Lake) -> str:
    return lake.uri("logs", LOCK_FILE)


def _os_error(path: str, exc: OSError) -> LockError:
    reasons = {
        errno.EROFS: "the lake is on a read-only file system",
        errno.ENOSPC: "no space left on the lake's device",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
    }
    reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
    return LockError(
        f"cannot lock the lake at {path}: {reason}; make the lake writable (and free space) first"
    )


def _read(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _write_record(fd: int, holder: LockHolder) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(asdict(holder), sort_keys=True) + "\n").encode())
    os.fsync(fd)


def _acquire(path: str, command: str, notify: Callable[[str], None]) -> int:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _os_error(path, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockHolder.parse(_read(fd))
            who = holder.describe() if holder else "another process (it is just starting)"
            raise LakeLockedError(
                f"the lake is in use by {who}; wait for it to finish (lock file: {path})"
            ) from None
        host = socket.gethostname()
        previous = LockHolder.parse(_read(fd))
        if previous is not None and previous.host != host:
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise LakeLockedError(
                f"the lake was locked by {previous.describe()}, which this host cannot check; if that run is "
                f"over, delete {path} and retry"
            )
        if previous is not None:
            notify(f"cleared a stale lock of a run that is gone: {previous.describe()}")
        _write_record(
            fd, LockHolder(os.getpid(), host, command, datetime.now(UTC).isoformat(timespec="seconds"))
        )
        return fd
    except OSError as exc:
        os.close(fd)
        raise _os_error(path, exc) from exc
    except BaseException:
        os.close(fd)
        raise


def _release(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)  # a clean release leaves no record: only a killed run's record is stale
    except OSError as exc:  # pragma: no cover - the lock is released with the descriptor all the same
        logger.warning("could not clear the run lock record: %s", exc)
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


@contextmanager
def lake_lock(lake: Lake, command: str, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lake's run lock for ``command`` (e.g. ``"c360 stage"``); raise :class:`LakeLockedError` naming the
    holder when another process has it. ``notify`` receives the note about a cleared stale lock."""
    if not lake.is_local:
        logger.warning("%s is on S3: no run lock; do not run two c360 commands on it at once", lake.root)
        yield
        return
    path = lock_path(lake)
    held = _held.get(path)
    if held is not None:
        held.depth += 1
    else:
        held = _held[path] = _Held(_acquire(path, command, notify or logger.warning), depth=1)
    try:
        yield
    finally:
        held.depth -= 1
        if held.depth == 0:
            del _held[path]
            _release(held.fd)
