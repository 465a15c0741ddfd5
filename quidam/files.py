"""Atomic result files (a reader sees the old file or the new one, never half of one) and file locks."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

__all__ = ["locked", "write_bytes", "write_json", "write_text"]

# The process umask, read once (os.umask can only be read by setting it): files are written 0666 less it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def locked(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock (:func:`fcntl.flock`) on the file ``path`` while the block runs.

    The lock file is created when missing (with its parent folders) and left
    in place; another process (or another thread) locking the same path waits.
    The kernel releases the lock when its holder dies, so a killed run never
    leaves a stale lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream, fcntl.LOCK_UN)


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, in UTF-8 (see :func:`write_bytes`)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then :func:`os.replace`).

    Missing parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o666 & ~_UMASK)  # mkstemp's 0600 would make every result private
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2) + "\n")
