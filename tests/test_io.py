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


def _without_group(idata, group):
    import arviz as az

    return az.InferenceData(**{g: idata[g] for g in idata.groups() if g != group})


def _with_attrs(idata, **attrs):
    out = idata.copy()
    out.posterior.attrs = {k: v for k, v in {**out.posterior.attrs, **attrs}.items() if v is not None}
    return out


@pytest.mark.parametrize("damage, needle", [
    (lambda d: _without_group(d, "observed_data"), "damaged bnsl-bayes fit: no observed_data"),
    (lambda d: _without_group(d, "log_likelihood"), "damaged bnsl-bayes fit: no log_likelihood"),
    (lambda d: _without_group(d, "sample_stats"), "damaged bnsl-bayes fit: no sample_stats"),
    (lambda d: _with_attrs(d, seed=None), "damaged bnsl-bayes fit: no attribute seed"),
    (lambda d: _with_attrs(d, spec='{"name": "bnsl-1"'), "its spec is not valid JSON"),
    (lambda d: _with_attrs(d, format_version="one"), "format_version 'one' is not a number"),
    (lambda d: _with_attrs(d, format_version=99), "in format 99; this version reads format 1"),
    (lambda d: _with_attrs(d, chain_weights="[1.0]"), "chain_weights has 1 entries for 2 chains"),
])
def test_load_names_what_a_damaged_file_lacks(addition_fit, tmp_path, damage, needle):
    """Before, most of these loaded and then failed later with an AttributeError or KeyError."""
    from bnsl_bayes import load

    path = tmp_path / "fit.nc"
    damage(addition_fit.idata).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ValueError) as e:
        load(path)
    assert str(path) in str(e.value) and needle in str(e.value)


def test_atomic_write_syncs_the_file_then_the_directory_after_the_rename(tmp_path, monkeypatch):
    """The rename is durable only once the directory entry is on disk: the file's data is synced
    before the rename, the directory after it."""
    import os

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))), real_replace(a, b)))
    target = tmp_path / "out.txt"
    atomic_write(target, lambda tmp: open(tmp, "w").write("hello"))
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].startswith(str(tmp_path / ".out.txt.")) and events[1][1] == str(target)
    assert events[2][1] == str(tmp_path)
    assert target.read_text() == "hello"
