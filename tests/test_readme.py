"""The README's usage example runs as written."""

import re
import runpy

from .conftest import ROOT


def test_game_usage_example_runs(tmp_path, capsys):
    text = (ROOT / "README.md").read_text()
    section = text.split("## The game", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code)
    runpy.run_path(str(script))
    length, correct, distinct = capsys.readouterr().out.split()
    assert 0 < int(length) <= 20 and correct in ("True", "False") and int(distinct) >= 1


def test_ci_runs_the_readmes_test_command():
    text = (ROOT / "README.md").read_text()
    setup = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    test_command = next(line for line in setup.splitlines() if "pytest" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text()
