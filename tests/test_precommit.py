"""The pre-commit hook definitions: well formed, run the installed CLI, and select every
file name discovery treats as a checkpoint."""

from __future__ import annotations

import re
import shlex

from pthforensics.batch import CHECKPOINT_EXTENSIONS
from pthforensics.cli import main
from tests._helpers import CORPUS, ROOT


def _hooks() -> list[dict[str, str]]:
    """The hooks of ``.pre-commit-hooks.yaml``: a list of flat ``key: value`` mappings
    (the only YAML it uses)."""
    hooks: list[dict[str, str]] = []
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        key, _, value = line.strip().partition(": ")
        hooks[-1][key] = value
    return hooks


def test_hooks_are_well_formed() -> None:
    hooks = _hooks()
    assert [h["id"] for h in hooks] == ["pthforensics", "pthforensics-malicious"]
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        assert hook["language"] == "python" and hook["entry"].startswith("pthforensics scan")
        files = re.compile(hook["files"])
        for ext in CHECKPOINT_EXTENSIONS:
            assert files.search(f"models/x{ext}") and files.search(f"X{ext.upper()}")
        assert not files.search("README.md") and not files.search("model.pth.json")


def test_hook_entries_run() -> None:
    """pre-commit appends the staged file names to ``entry``: the same argv through main."""
    for hook, code in zip(_hooks(), (1, 1), strict=True):
        argv = shlex.split(hook["entry"])[1:]
        assert main([*argv, str(CORPUS / "malicious" / "os_system.pkl")]) == code
        assert main([*argv, str(CORPUS / "benign" / "state_dict.pt")]) == 0
