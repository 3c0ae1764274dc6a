"""Atomic file writes: write a temporary file in the same folder, then rename it over the
target, so a reader never sees a half-written file and a failure leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "write_bytes_atomic", "write_with"]


def write_with(path: str | Path, fill: Callable[[BinaryIO], None]) -> Path:
    """Call ``fill(handle)`` on a temporary file next to ``path``, then rename it to ``path``.
    The folder is created if missing; on any error the temporary file is removed."""
    path = Path(path)
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
