"""The import graph follows the layers of docs/architecture.md (read from the document)."""

import ast
import re

from .conftest import ROOT

PACKAGE = ROOT / "alphadev"


def layers() -> dict[str, int]:
    """Room name (``isa``, ``exact``, ``alphadev`` for the package root) -> layer number."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- layers: begin -->", 1)[1].split("<!-- layers: end -->", 1)[0]
    table = {}
    for number, names in re.findall(r"layer (\d+): (.+)", block):
        for name in names.split():
            table[name] = int(number)
    return table


def room_of(module: str) -> str:
    """``alphadev.exact.space`` -> ``exact``; ``alphadev`` -> ``alphadev``."""
    parts = [p for p in module.split(".") if p != "__init__"]
    return parts[1] if len(parts) > 1 else "alphadev"


def imports_of(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "alphadev":
                found |= {f"alphadev.{alias.name}" for alias in node.names}
            elif node.module.startswith("alphadev."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("alphadev")}
    return found


def test_every_module_has_a_layer_and_imports_only_lower_layers_or_its_own_package():
    table = layers()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        room = room_of(module)
        if room not in table:
            problems.append(f"{module}: room {room!r} has no layer in docs/architecture.md")
            continue
        for target in imports_of(path):
            other = room_of(target)
            if other == room or target == "alphadev.__version__":
                continue
            if other not in table:
                problems.append(f"{module} imports {target}, which has no layer")
            elif table[other] >= table[room]:
                problems.append(
                    f"{module} (layer {table[room]}) imports {target} (layer {table[other]})"
                )
    assert not problems, "\n".join(problems)


def test_gymnasium_and_torch_stay_in_their_rooms():
    table = layers()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        tops = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                tops.add(node.module.split(".")[0])
        if "gymnasium" in tops:
            assert room_of(module) == "env", module
        if "torch" in tops:
            assert table[room_of(module)] >= table["network"], module
