"""A folder nobody here has seen: 1,500 damaged copies of benign corpus checkpoints (byte
flips, truncations, hits in the header), random noise with checkpoint names, files and a
folder the scanning user cannot read, hard links across folders, symbolic links, hostile
names, text and images.  The scan never crashes, and every path found is in the output
exactly once, as a report or as an alias; what is not scanned is counted by reason."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pthforensics.batch import has_checkpoint_name
from pthforensics.core import FileReport
from pthforensics.report import BatchReport, batch_summary
from tests._helpers import CORPUS, ROOT
from tests._schema import check_document
from tests.report.test_escape import RAW

DAMAGED = 1500
SEED = 20261126


def _sources() -> list[Path]:
    return [
        path
        for folder in ("benign", "models")
        for path in sorted((CORPUS / folder).iterdir())
        if path.is_file() and not path.name.endswith((".json", ".py", ".md"))
    ]


def _damage(data: bytes, rng: random.Random) -> bytes:
    """One of: flip a few bytes anywhere, cut the file short, hit its first 16 bytes
    (zip magic, safetensors header length, pickle protocol)."""
    out = bytearray(data)
    how = rng.choice(("flip", "truncate", "header"))
    if how == "flip" or not out:
        for _ in range(rng.randint(1, 8)):
            if out:
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del out[rng.randrange(len(out)) :]
    else:
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(min(16, len(out)))] = rng.randrange(256)
    return bytes(out)


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, set[str], set[str]]]:
    """The folder, every path in it
    (files and links to files, the unlistable folder's content excluded), and the paths
    the scanning user cannot read."""
    rng = random.Random(SEED)
    root = Path(tempfile.mkdtemp(prefix="pthforensics-hidden-"))
    raw = os.fsencode(root)
    sources = _sources()
    (root / "a" / "b").mkdir(parents=True)
    (root / "c").mkdir()
    for i in range(DAMAGED):
        source = rng.choice(sources)
        folder = ("a", "a/b", "c")[i % 3]
        # most keep their name; one in ten loses its extension (found by content, or not)
        name = f"{source.stem}_{i:04d}" + ("" if i % 10 == 9 else source.suffix)
        (root / folder / name).write_bytes(_damage(source.read_bytes(), rng))
    for i, ext in enumerate((".pt", ".bin", ".safetensors", ".ckpt", ".pkl", ".pth") * 4):
        (root / f"noise_{i}{ext}").write_bytes(rng.randbytes(rng.randint(1, 20000)))
    (root / "readme.md").write_text("# models\n")
    (root / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + rng.randbytes(500))
    (root / "empty.bin").write_bytes(b"")
    (root / "empty_no_ext").write_bytes(b"")
    locked = [root / "locked.pt", root / "locked_no_ext", root / "a" / "locked.safetensors"]
    for path in locked:
        shutil.copy(CORPUS / "benign" / "state_dict.pt", path)
    (root / "private").mkdir()
    shutil.copy(CORPUS / "benign" / "state_dict.pt", root / "private" / "inside.pt")
    # one file, three hard links in three folders, a symbolic link to it, a dangling link
    shutil.copy(CORPUS / "benign" / "bf16.pt", root / "a" / "shared.pt")
    os.link(root / "a" / "shared.pt", root / "a" / "b" / "shared_hard.pt")
    os.link(root / "a" / "shared.pt", root / "c" / "shared_hard2.bin")
    os.symlink(root / "a" / "shared.pt", root / "c" / "shared_soft.pth")
    os.symlink(root / "gone.pt", root / "dangling.pt")
    for name in (b"new\nline.pt", b"\x1b[31mred.pt", b"latin\xff.pt"):
        with open(raw + b"/c/" + name, "wb") as f:
            f.write((CORPUS / "malicious" / "os_system.pkl").read_bytes())
    everything = set()
    for folder, dirs, files in os.walk(raw):
        dirs[:] = [d for d in dirs if d != b"private"]
        everything.update(os.fsdecode(os.path.join(folder, f)) for f in files)
    for folder, dirs, _ in os.walk(root):
        os.chmod(folder, 0o755)
        for name in dirs:
            os.chmod(os.path.join(folder, name), 0o755)
    for path in locked:
        path.chmod(0)
    (root / "private").chmod(0)
    yield root, everything, {str(p) for p in locked}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                os.chmod(full, stat.S_IRWXU)
    (root / "private").chmod(stat.S_IRWXU)
    shutil.rmtree(root)


#: prctl(2) option and capabilities(7) numbers: root without these two capabilities obeys
#: file modes like anyone else.
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2


def _scan_as_unprivileged(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess that obeys file modes: as root, with the capabilities that
    bypass them dropped from its bounding set before exec (as ``setpriv`` does)."""

    def drop() -> None:
        if os.geteuid() == 0:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
                if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")

    env = {**os.environ, "HOME": tempfile.gettempdir(), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "pthforensics", *argv],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=ROOT,
        env=env,
        preexec_fn=drop,
        timeout=600,
    )


def test_every_path_once(hidden: tuple[Path, set[str], set[str]]) -> None:
    root, everything, locked = hidden
    out = Path(tempfile.mkdtemp(prefix="pthforensics-hidden-out-"))
    out.chmod(0o777)
    try:
        done = _scan_as_unprivileged(
            ["scan", "-j", "2", str(root), "-o", str(out / "scan.json"), "--sarif", str(out / "s")]
        )
        doc = json.loads((out / "scan.json").read_text())
        sarif = json.loads((out / "s").read_text())
    finally:
        shutil.rmtree(out)
    assert done.returncode == 1, done.stderr[-2000:]  # findings: the hostile-named payloads
    assert "Traceback" not in done.stderr
    check_document(doc)
    reports = doc["reports"]
    paths = [r["path"] for r in reports]
    aliases = [a for r in reports for a in r["aliases"]]
    listed = paths + aliases
    assert len(listed) == len(set(listed))  # each path at most once
    assert set(listed) <= everything
    # Everything not listed was skipped for a reason the summary counts: no checkpoint name,
    # no checkpoint content (extension-less damaged copies, text, images) or empty.
    missing = everything - set(listed)
    assert not any(has_checkpoint_name(p) for p in missing), sorted(missing)[:5]
    skipped = doc["summary"]["skipped"]
    assert len(missing) == skipped.get("not-a-checkpoint", 0) + skipped.get("empty", 0)
    assert skipped.get("unlistable-folder") == 1  # private/, which nobody may list
    # Unreadable files are error reports, named or not.
    by_path = {r["path"]: r for r in reports}
    for path in locked:
        assert by_path[path]["status"] == "error", by_path[path]
        assert "ermission" in by_path[path]["error"]["message"]
    # One file, four paths: one report, three aliases.
    [shared] = [r for r in reports if r["path"].endswith("shared.pt")]
    assert len(shared["aliases"]) == 3
    assert by_path[str(root / "dangling.pt")]["status"] == "error"
    # Damaged copies: each a verdict or an error; none crashed a worker into a lost file.
    damaged = [r for r in reports if "_" in os.path.basename(r["path"])]
    assert len(damaged) > DAMAGED * 0.85
    assert all(r["error"] is None or r["error"]["type"] != "WorkerCrashed" for r in damaged)
    # The human summary of the same reports renders, escaped, without a raw control char.
    batch = BatchReport(tuple(FileReport.from_dict(r) for r in reports))
    text = batch_summary(batch, [], 1.0, listed=len(reports))
    assert RAW.search(text) is None
    assert "latin\\xff.pt" in text and "new\\nline.pt" in text and "\\x1b[31mred.pt" in text
    results = sarif["runs"][0]["results"]
    assert len(results) == sum(len(r["findings"]) for r in reports)
