"""``njit`` for the package, with numba's on-disk cache keyed by a function's module *and*
the compiled modules it imports, instead of its own file only.

Numba stamps a cached function with its own source file (a SHA-256 of that file in numba
0.68). A kernel of ``exact/best_first.py`` inlines the move rules of ``exact/moves.py``, the
instruction semantics of ``emulator.py`` and the keys of ``hashing.py``; after an edit or an
upgrade that changes only those files, numba would load the old machine code, which searches a
different space than the source states. So a function defined in the package is stamped with
the digest of its module and of every package module that module imports, directly or not,
that holds compiled code (a module whose text mentions ``njit``). A change to ``moves.py``
recompiles the exact engines; a change to the network or the CLI recompiles nothing of them.

Every module of the package takes ``njit`` from here (``tests/test_jit.py`` checks);
importing this module loads numba, so modules that must stay cheap to import do not.
``NUMBA_CACHE_LOCATOR_CLASSES``, when a user sets it, is left alone (numba then uses exactly the
locators it names).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

from numba import njit
from numba.core import caching

__all__ = ["PACKAGE", "njit", "source_stamp"]

#: The package's folder: the functions defined below it get the package-wide stamp.
PACKAGE = Path(__file__).resolve().parent


def _imports(path: Path, root: Path) -> set[Path]:
    """The files below ``root`` of the package modules ``path`` imports (absolute imports of
    ``alphadev...``; ``from alphadev.x import y`` counts ``x`` and, when it is a module, ``y``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != root.name:
                continue
            for candidate in (root.joinpath(*parts[1:]).with_suffix(".py"),
                              root.joinpath(*parts[1:], "__init__.py")):  # fmt: skip
                if candidate.is_file():
                    found.add(candidate)
    return found


def source_stamp(path: Path, root: Path) -> bytes:
    """SHA-256 over ``path`` and every module below ``root`` it imports, directly or through
    other modules, whose text mentions ``njit`` (each by relative path and content, in path
    order)."""
    seen, todo = {path}, [path]
    while todo:
        for other in _imports(todo.pop(), root):
            if other not in seen and b"njit" in other.read_bytes():
                seen.add(other)
                todo.append(other)
    digest = hashlib.sha256()
    for file in sorted(seen):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.digest()


@functools.cache
def _stamp(path: str) -> bytes:
    # Once per module and process: a source edited while a process runs is not compiled by it.
    return source_stamp(Path(path).resolve(), PACKAGE)


def _inside_package(py_file: str) -> bool:
    try:
        Path(py_file).resolve().relative_to(PACKAGE)
    except ValueError:
        return False
    return True


def _package_wide(base: type) -> type:
    """``base`` (a numba cache locator) for the package's functions only, stamped by
    :func:`source_stamp`."""

    class Locator(base):
        def get_source_stamp(self):
            return _stamp(self._py_file)

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _inside_package(py_file):
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = Locator.__qualname__ = f"Package{base.__name__}"
    return Locator


def _install() -> None:
    """Put the package-wide locators first in numba's list (same order as numba's own)."""
    locators = caching.CacheImpl._locator_classes
    if any(getattr(cls, "__module__", "") == __name__ for cls in locators):
        return
    ours = [
        _package_wide(base)
        for base in (
            caching.UserProvidedCacheLocator,
            caching.InTreeCacheLocator,
            caching.UserWideCacheLocator,
        )
    ]
    locators[:0] = ours


_install()
