"""The README and the pages under docs/ say what the code does: the game example runs and
prints what its page shows, CI runs the README's test command, every link points at a file
(and heading) of the repository, and every flag of every command and every benchmark script
is documented."""

import argparse
import re
import runpy

from .conftest import ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
GAME_PAGE = DOCS / "training.md"  # the page holding "## The game" and its example


def _pages():
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = heading.strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def test_game_usage_example_runs(tmp_path, capsys):
    section = GAME_PAGE.read_text().split("\n## The game\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"It prints:\n\n```text\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code)
    runpy.run_path(str(script))
    out = capsys.readouterr().out
    m = re.fullmatch(r"length (\d+), correct (True|False), distinct rows (\d+)\n", out)
    assert m, out
    assert 0 < int(m[1]) <= 20 and int(m[3]) >= 1
    assert out == shown  # the output the page shows is the one the example prints


def test_ci_runs_the_readmes_test_command():
    text = README.read_text()
    setup = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    test_command = next(line for line in setup.splitlines() if "pytest" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_links_point_into_the_repository():
    broken = []
    for page in _pages():
        prose = _prose(page.read_text())
        assert not re.search(r"https?://[\w-]", prose), f"{page.name}: a link leaves the repository"
        targets = re.findall(r"\]\(([^)\s]+)\)", prose)
        targets += re.findall(r"^\[[^\]]+\]: (\S+)$", prose, re.M)
        for target in targets:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken


def test_the_readme_links_every_page_of_docs():
    text = README.read_text()
    assert all(f"(docs/{page.name})" in text for page in DOCS.glob("*.md"))


def test_every_flag_of_every_command_is_documented():
    from alphadev.cli import build_parser
    from alphadev.train.cli import build_parser as train_parser

    parsers = {}
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers.update(action.choices)
    parsers["train"] = train_parser()  # `alphadev train` parses its own flags
    text = (DOCS / "commands.md").read_text()
    missing = []
    for name, parser in parsers.items():
        assert f"\n## `alphadev {name}`\n" in text, name
        section = text.split(f"\n## `alphadev {name}`\n", 1)[1].split("\n## ", 1)[0]
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help") and not re.search(f"`{flag}[` ]", section):
                    missing.append(f"alphadev {name} {flag}")
    assert not missing


def test_every_benchmark_script_is_documented():
    text = (DOCS / "benchmarks.md").read_text()
    names = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem != "common")
    assert names
    assert [name for name in names if f"\n## {name}\n" not in text] == []
