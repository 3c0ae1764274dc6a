"""numba's cache keyed by a module and the compiled modules it imports (alphadev.jit)."""

from pathlib import Path

from alphadev import emulator, hashing
from alphadev.exact import best_first, moves
from alphadev.jit import PACKAGE, source_stamp

from .conftest import ROOT


def test_a_stamp_follows_the_compiled_modules_a_module_imports_and_only_those(tmp_path):
    package = tmp_path / "alphadev"
    (package / "exact").mkdir(parents=True)
    kernel = package / "exact" / "kernel.py"
    helper = package / "exact" / "moves.py"
    plain = package / "cli.py"
    unrelated = package / "network.py"
    kernel.write_text("from alphadev.jit import njit\nfrom alphadev.exact.moves import g\n"
                      "from alphadev import cli\n@njit\ndef f(x):\n    return g(x)\n")  # fmt: skip
    helper.write_text("@njit(inline='always')\ndef g(x):\n    return x + 1\n")
    plain.write_text("print('no compiled code here')\n")
    unrelated.write_text("@njit\ndef h(x):\n    return x\n")
    first = source_stamp(kernel, package)
    plain.write_text("print('still none')\n")
    unrelated.write_text("@njit\ndef h(x):\n    return -x\n")
    assert source_stamp(kernel, package) == first
    helper.write_text("@njit(inline='always')\ndef g(x):\n    return x + 2\n")
    assert source_stamp(kernel, package) != first


def test_every_function_of_the_package_is_cached_under_its_stamp():
    for function in (emulator.result_of, hashing.renaming_key_of, moves.may_play,
                     best_first._kernel):  # fmt: skip
        locator = function._cache._impl._locator
        assert type(locator).__module__ == "alphadev.jit", function
        path = Path(function.py_func.__code__.co_filename).resolve()
        assert locator.get_source_stamp() == source_stamp(path, PACKAGE)
    kernel = source_stamp(Path(best_first.__file__).resolve(), PACKAGE)
    moves_path = Path(moves.__file__).resolve()
    assert kernel != source_stamp(moves_path, PACKAGE)  # the kernel's covers moves and more


def test_every_module_takes_njit_from_the_package():
    for path in sorted((ROOT / "alphadev").rglob("*.py")):
        if path.name == "jit.py":
            continue
        text = path.read_text()
        assert "from numba import njit" not in text and "numba.njit" not in text, path
