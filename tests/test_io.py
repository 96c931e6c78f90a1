"""atomic_write: all or nothing, and files as readable as a plain open() would make them."""

import os
import stat

import pytest

from bnsl_bayes.io import atomic_write


def test_atomic_write_gives_the_umask_mode(tmp_path):
    path = atomic_write(tmp_path / "out.txt", lambda tmp: open(tmp, "w").write("hello"))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "hello"


def test_atomic_write_failure_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def broken(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_gitignore_covers_demo_output_and_atomic_write_temps():
    """`bnsl-bayes demo` writes ./bnsl-demo/ and a killed writer leaves .<name>.<random>.tmp: neither
    belongs in a commit."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    # atomic_write's temp names: tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")
    names = ["bnsl-demo/four_digit_addition.nc", ".fit.nc.k3j2_x.tmp", "fits/.store.json.abc123.tmp"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=root, capture_output=True, text=True)
    assert result.stdout.split() == names
