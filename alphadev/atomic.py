"""Atomic file writes: write a temporary file in the same folder, then rename it over the
target, so a reader never sees a half-written file and a failure leaves nothing behind.

The one output-path rule of every command that writes (the CLI's, the benchmarks'): a file is
written only where nothing is yet or a regular file is; a folder, FIFO, device, socket or
symbolic link at the path is never replaced (:func:`not_regular`, checked again by
:func:`write_with`), and the folder it goes in must be one where a file can be created
(:func:`unwritable_folder`). Both answer with the reason, for a one-line message."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "NotRegularFile",
    "not_regular",
    "unwritable_folder",
    "write_atomic",
    "write_bytes_atomic",
    "write_with",
]


class NotRegularFile(OSError):
    """:func:`write_with` was asked to replace what is not a regular file (``strerror`` says
    what it is)."""


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def not_regular(path: str | Path) -> str | None:
    """Why a file may not be written at ``path``: what is there is a symbolic link (even a
    dangling one), a folder, a FIFO, a device or a socket, or the path cannot be looked at;
    None when it is a regular file or a new name."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # a new name (a parent that is not a folder: unwritable_folder says so)
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        return f"cannot look at it ({_why(exc)})"
    if stat.S_ISLNK(mode):
        return "is a symbolic link; give the path of a regular file"
    if stat.S_ISDIR(mode):
        return "is a folder, expected a file name"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket)"
    return None


def unwritable_folder(folder: str | Path) -> str | None:
    """Why no file can be created in ``folder`` (made with its parents if missing): it exists
    and is not a folder, a part of it is a broken symbolic link, the nearest existing folder
    above it is a file, or a file cannot be created there (a probe file is made and removed:
    this also catches read-only file systems and permissions); None when one can."""
    folder = probe = Path(folder)
    try:
        if folder.exists() and not folder.is_dir():
            return f"{folder} exists and is not a folder"
        while not probe.exists():
            if probe.is_symlink():  # nothing could be made there
                return f"{probe} is a broken symbolic link, not a folder"
            probe = probe.parent
        if not probe.is_dir():
            return f"{probe} is a file, not a folder"
        fd, name = tempfile.mkstemp(dir=probe, prefix=".alphadev-probe-")
    except (OSError, ValueError) as exc:
        return f"{probe} is not writable ({_why(exc)})"
    os.close(fd)
    os.unlink(name)
    return None


def write_with(path: str | Path, fill: Callable[[BinaryIO], None]) -> Path:
    """Call ``fill(handle)`` on a temporary file next to ``path``, then rename it to ``path``.
    The folder is created if missing; on any error the temporary file is removed. What is at
    ``path`` must be a regular file (or nothing): else :class:`NotRegularFile`, and nothing is
    written."""
    path = Path(path)
    why = not_regular(path)
    if why is not None:
        raise NotRegularFile(0, why, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return write_with(path, lambda handle: handle.write(data))


def write_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode())
