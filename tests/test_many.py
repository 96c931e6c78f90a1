"""fit_many and its store, run in this process with real (small) sampling."""

import argparse
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes import forecast as fc
from bnsl_bayes.compare import stacking_weights
from bnsl_bayes.forms import bnsl
from bnsl_bayes.many import add_fit_many_command, curve_seed, fingerprint, fit_many
from bnsl_bayes.spec import load_spec
from bnsl_bayes.store import load_store

OPTS = dict(chains=2, tune=200, draws=200)
X_NEW = [2e6, 1e7]


def long_table(keys, n=10, seed=0) -> pd.DataFrame:
    """Noisy 1-break BNSL curves in long format, one per key, with breaks at different places."""
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e3, 1e6, n)
    frames = []
    for i, k in enumerate(keys):
        y = bnsl(x, a=0.3, b=20.0, c0=0.25, c=[0.4], d=[10 ** (3.8 + 0.3 * i)], f=[0.3])
        frames.append(pd.DataFrame({"task": k, "n": x, "loss": y * np.exp(rng.normal(0, 0.02, n))}))
    return pd.concat(frames, ignore_index=True)


def store_files(path):
    """Visible record files, after checking every one of them reads back (nothing corrupt or partial)."""
    names = sorted(p for p in os.listdir(path) if not p.startswith("."))
    for name in names:
        if name.endswith(".nc"):
            bnsl_bayes.load(os.path.join(path, name))
        else:
            assert name.endswith(".json"), name
            json.loads(open(os.path.join(path, name)).read())
    assert not [p for p in os.listdir(path) if p.endswith(".tmp")]
    return [n for n in names if n != "store.json"]


def test_resume_skips_done_curves_and_refits_only_changed_ones(tmp_path):
    df = long_table("abc")
    first = fit_many(df, "n", "loss", "task", store=tmp_path, **OPTS)
    assert first.ok and first.done == ["a", "b", "c"] and first.skipped == []

    again = fit_many(df, "n", "loss", "task", store=tmp_path, **OPTS)
    assert again.done == [] and again.skipped == ["a", "b", "c"]

    changed = df.copy()
    changed.loc[changed.task == "b", "loss"] *= 1.01
    third = fit_many(changed, "n", "loss", "task", store=tmp_path, **OPTS)
    assert third.done == ["b"] and third.skipped == ["a", "c"]
    assert len(store_files(tmp_path)) == 3  # b's old record was replaced, not kept beside the new one
    assert "1 fitted, 2 skipped" in third.summary()


def test_fingerprint_changes_with_data_spec_seed_and_sampler_but_not_threads():
    df = long_table("a")
    spec = load_spec("bnsl-1")
    base = fingerprint(df.n, df.loss, spec, 1, OPTS)
    assert fingerprint(df.n, df.loss, spec, 1, {**OPTS, "cores": 1}) == base
    assert fingerprint(df.n, df.loss * 1.001, spec, 1, OPTS) != base
    assert fingerprint(df.n, df.loss, load_spec("bnsl-2"), 1, OPTS) != base
    assert fingerprint(df.n, df.loss, spec, 2, OPTS) != base
    assert fingerprint(df.n, df.loss, spec, 1, {**OPTS, "draws": 300}) != base
    # row order and passing the spec's own default do not change it
    rev = df.iloc[::-1]
    assert fingerprint(rev.n, rev.loss, spec, 1, OPTS) == base
    assert fingerprint(df.n, df.loss, spec, 1, {**OPTS, "mass_matrix": spec.sampler["mass_matrix"]}) == base
    assert curve_seed(0, "a") == curve_seed(0, "a") != curve_seed(0, "b") != curve_seed(1, "b")


def test_invalid_rows_fail_their_curve_only_and_name_curve_and_row(tmp_path):
    df = long_table("abc")
    bad = df.copy()
    bad.loc[23, "loss"] = -1.0  # row 3 of curve "c"
    res = fit_many(bad, "n", "loss", "task", store=tmp_path, **OPTS)
    assert not res.ok and res.done == ["a", "b"]
    reason = res.failed["c"]
    assert "curve 'c'" in reason and "'loss'" in reason and "row 3 (index 23)" in reason
    assert load_store(tmp_path).errors().set_index("task").loc["c", "error"] == reason

    fixed = fit_many(df, "n", "loss", "task", store=tmp_path, **OPTS)
    assert fixed.ok and fixed.done == ["c"] and fixed.skipped == ["a", "b"]
    assert load_store(tmp_path).errors().empty and len(store_files(tmp_path)) == 3


def test_store_loads_back_the_numbers_of_an_in_memory_run_and_of_fit(tmp_path):
    df = long_table(["p", "q"])
    df["size"] = "small"
    stored = fit_many(df, "n", "loss", ["task", "size"], seed=5, store=tmp_path, **OPTS)
    in_memory = fit_many(df, "n", "loss", ["task", "size"], seed=5, **OPTS)
    assert list(stored.fits) == list(in_memory.fits) == [("p", "small"), ("q", "small")]

    s = load_store(tmp_path)
    table = s.forecasts(X_NEW, prob=0.8)
    measured = s.forecasts(X_NEW, prob=0.8, y_err=0.02)  # what a reading with that error will show
    assert list(table.columns[:3]) == ["task", "size", "x"] and len(table) == 4
    for key, fit in in_memory.fits.items():
        which = (table.task == key[0]) & (table["size"] == key[1])
        rows = table[which].drop(columns=["task", "size"])
        pd.testing.assert_frame_equal(rows.reset_index(drop=True), fit.forecast(X_NEW, prob=0.8))
        pd.testing.assert_frame_equal(measured[which].drop(columns=["task", "size"]).reset_index(drop=True),
                                      fit.forecast(X_NEW, prob=0.8, y_err=0.02))
        reach = s.reach(0.45, x_max=1e8)
        pd.testing.assert_frame_equal(
            reach[(reach.task == key[0]) & (reach["size"] == key[1])].drop(columns=["task", "size"]).reset_index(drop=True),
            fit.reach([0.45], x_max=1e8))
    # Each curve is exactly bnsl_bayes.fit with the curve's derived seed.
    one = bnsl_bayes.fit(df.n[df.task == "q"], df.loss[df.task == "q"], seed=curve_seed(5, ("q", "small")),
                         warn=False, **OPTS)
    np.testing.assert_array_equal(s.fits[("q", "small")].idata.posterior["c0"].values,
                                  one.idata.posterior["c0"].values)
    assert set(s.breaks().columns) >= {"task", "size", "break", "median", "prob_beyond_data"}
    diag = s.diagnostics()
    assert len(diag) == 2 and (diag.draws == 400).all()
    # a file that is not a record is named, not a KeyError from deep inside
    (tmp_path / "notes.nc").write_bytes(b"junk")
    with pytest.raises(ValueError, match="holds notes.nc, which is not a fit_many record"):
        load_store(tmp_path).keys


def test_bad_usage_raises_before_fitting(tmp_path):
    df = long_table("ab")
    with pytest.raises(ValueError, match="'steps'"):
        fit_many(df, "steps", "loss", "task", store=tmp_path)
    holes = df.copy()
    holes.loc[4, "task"] = None
    with pytest.raises(ValueError, match="group column 'task': missing value at row 4"):
        fit_many(holes, "n", "loss", "task")
    with pytest.raises(TypeError, match="draw"):
        fit_many(df, "n", "loss", "task", draw=10)
    fit_many(df, "n", "loss", "task", store=tmp_path, **OPTS)
    with pytest.raises(ValueError, match="keyed by 'task'"):
        fit_many(df.assign(t2=df.task), "n", "loss", "t2", store=tmp_path)
    # A bad sampler setting is refused once, before any curve: it used to fail every curve and
    # replace each one's finished fit with an error record.
    before = store_files(tmp_path)
    for bad, needle in (({"chains": 0}, "chains must be an integer >= 1"),
                        ({"backend": "stan"}, "unknown backend 'stan'"),
                        ({"target_accept": 1.5}, "target_accept")):
        with pytest.raises(ValueError, match=needle):
            fit_many(df, "n", "loss", "task", store=tmp_path, **{**OPTS, **bad})
    assert store_files(tmp_path) == before
    for workers, needle in ((0, "workers must be an integer >= 1"), (2.5, "workers must be")):
        with pytest.raises(ValueError, match=needle):
            fit_many(df, "n", "loss", "task", workers=workers, **OPTS)
    with pytest.raises(ValueError, match="give one or the other"):
        fit_many(df, "n", "loss", "task", workers=2, client="tcp://127.0.0.1:1", **OPTS)
    with pytest.raises(ValueError, match="data has no rows"):
        fit_many(df.iloc[:0], "n", "loss", "task", **OPTS)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file; a store is a directory"):
        fit_many(df, "n", "loss", "task", store=tmp_path / "file", **OPTS)
    # the same group given as a list, and fit's own default passed explicitly, change nothing
    again = fit_many(df, "n", "loss", ["task"], store=tmp_path, stack_chains=False, **OPTS)
    assert again.skipped == ["a", "b"] and again.done == []


@pytest.mark.parametrize("text, needle", [
    ('{"format": 1, "group": "task"', "is not valid JSON"),  # truncated
    ('{"group": "task"}', "no format/group fields"),
    ('["task"]', "no format/group fields"),
    ('{"format": 99, "group": "task"}', "is in store format 99; this version of bnsl-bayes reads format 1"),
])
def test_a_damaged_or_foreign_store_json_is_named(tmp_path, text, needle):
    (tmp_path / "store.json").write_text(text)
    for open_store in (lambda: load_store(tmp_path), lambda: fit_many(long_table("a"), "n", "loss", "task",
                                                                      store=tmp_path, **OPTS)):
        with pytest.raises(ValueError) as e:
            open_store()
        assert str(tmp_path / "store.json") in str(e.value) and needle in str(e.value)


def test_store_tables_keys_and_curves_left_out(tmp_path):
    """A group column named like a result column keeps its name (the result's becomes fit_<name>);
    load_store gives keys in order; curves the store holds but the data no longer has are reported."""
    df = pd.concat([long_table("ab").assign(seed=s) for s in (2, 1)], ignore_index=True)
    run = fit_many(df, "n", "loss", ["task", "seed"], store=tmp_path, **OPTS)
    s = load_store(tmp_path)
    assert s.keys == [("a", 1), ("a", 2), ("b", 1), ("b", 2)] == list(run.fits)
    diag = s.diagnostics()
    assert list(diag.columns[:2]) == ["task", "seed"] and list(diag["seed"]) == [1, 2, 1, 2]
    assert list(diag["fit_seed"]) == [run.fits[k].seed for k in s.keys]
    fewer = fit_many(df[df.task == "a"], "n", "loss", ["task", "seed"], store=tmp_path, **OPTS)
    assert fewer.skipped == [("a", 1), ("a", 2)] and len(fewer.not_in_data) == 2
    assert all(cid.startswith("b-") for cid in fewer.not_in_data)
    assert "2 curves in the store are not in this data" in fewer.summary()
    # fits saved by `fit` into a directory are not a store: refused before it becomes a mixed one
    loose = tmp_path / "loose"
    run.fits[("a", 1)].save(loose / "a.nc")
    with pytest.raises(ValueError, match=r"already holds fits that are not a fit_many store \(a.nc"):
        fit_many(df, "n", "loss", ["task", "seed"], store=loose, **OPTS)
    from bnsl_bayes.store import curve_id
    assert not curve_id("-α").startswith("-")


def _cli(argv) -> int:
    parser = argparse.ArgumentParser(prog="bnsl-bayes")
    add_fit_many_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_exit_codes_and_summary(tmp_path, capsys):
    df = long_table("ab")
    df.loc[3, "loss"] = np.nan
    data = tmp_path / "curves.csv"
    df.to_csv(data, index=False)
    argv = ["fit-many", str(data), "--x", "n", "--y", "loss", "--group", "task", "--store", str(tmp_path / "s"),
            "--chains", "2", "--tune", "200", "--draws", "200", "--quiet"]
    assert _cli(argv) == 1
    out, err = capsys.readouterr()
    assert "1 fitted, 0 skipped (unchanged, already in the store), 1 failed" in out and "curve 'a'" not in out
    # a failed curve is reported as every command reports an error: one line on stderr, shared prefix
    (line,) = err.strip().splitlines()
    assert line.startswith("bnsl-bayes: error: curve 'a': ValueError: ") and "row 3" in line

    long_table("ab").to_parquet(tmp_path / "curves.parquet")
    assert _cli([*argv[:1], str(tmp_path / "curves.parquet"), *argv[2:]]) == 0
    assert "1 fitted, 1 skipped" in capsys.readouterr().out

    # one stray word fails its own curve, named; the other curve's numbers still parse
    stray = long_table("ab").astype({"loss": object})
    stray.loc[stray.index[stray.task == "b"][1], "loss"] = "oops"
    stray.to_csv(tmp_path / "stray.csv", index=False)
    assert _cli([*argv[:1], str(tmp_path / "stray.csv"), *argv[2:9], str(tmp_path / "s2"), *argv[10:]]) == 1
    out, err = capsys.readouterr()
    assert "1 fitted" in out and "curve 'b'" in err and "'oops'" in err and "curve 'a'" not in err

    assert _cli([*argv[:3], "steps", *argv[4:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bnsl-bayes: error: ") and "'steps'" in err
    # group cells are names: runs '01' and '1' are two curves, not one of 20 points
    padded = tmp_path / "padded.csv"
    long_table(["01", "1"]).to_csv(padded, index=False)
    assert _cli([*argv[:1], str(padded), *argv[2:9], str(tmp_path / "s3"), *argv[10:]]) == 0
    assert "2 curves" in capsys.readouterr().out
    assert sorted(load_store(tmp_path / "s3").keys) == ["01", "1"]
    with pytest.raises(SystemExit) as e:
        _cli([*argv, "--workers", "0"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        _cli(["fit-many", str(data), "--x", "n"])
    assert e.value.code == 2


def test_cli_monotone_picks_the_monotone_spec(tmp_path, capsys):
    import bnsl_bayes

    data = tmp_path / "curves.csv"
    long_table("a").to_csv(data, index=False)
    argv = ["fit-many", str(data), "--x", "n", "--y", "loss", "--group", "task", "--store", str(tmp_path / "s"),
            "--chains", "2", "--tune", "200", "--draws", "200", "--quiet", "--monotone"]
    assert _cli([*argv, "--spec", "bnsl-1"]) == 2
    assert "give --monotone or --spec, not both" in capsys.readouterr().err
    assert _cli([*argv, "--breaks", "0"]) == 0
    (stored,) = (tmp_path / "s").glob("*.nc")
    assert bnsl_bayes.load(stored).spec.name == "bnsl-0-monotone"


def test_local_process_pool_gives_the_same_draws(tmp_path):
    df = long_table("ab")
    pooled = fit_many(df, "n", "loss", "task", workers=2, store=tmp_path, **OPTS)
    here = fit_many(df, "n", "loss", "task", **OPTS)
    assert pooled.ok and pooled.done == ["a", "b"]
    for key in "ab":
        np.testing.assert_array_equal(pooled.fits[key].idata.posterior["log_d"].values,
                                      here.fits[key].idata.posterior["log_d"].values)


def test_driver_killed_mid_run_then_rerun_completes(tmp_path):
    df = long_table("abcdefgh")
    data = tmp_path / "curves.csv"
    df.to_csv(data, index=False)
    store = tmp_path / "s"
    script = textwrap.dedent(f"""
        import pandas as pd
        from bnsl_bayes.many import fit_many
        fit_many(pd.read_csv({str(data)!r}), "n", "loss", "task", store={str(store)!r}, **{OPTS!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (store.is_dir() and any(p.endswith(".nc") for p in os.listdir(store))):
            assert proc.poll() is None and time.time() < deadline, "the run ended before writing a record"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)  # no cleanup at all: as bad as an interruption gets
    finally:
        proc.wait()
    assert 1 <= sum(p.endswith(".nc") for p in os.listdir(store)) < 8

    res = fit_many(df, "n", "loss", "task", store=store, **OPTS)
    assert res.ok and len(res.skipped) >= 1 and sorted(res.done + res.skipped) == list("abcdefgh")
    assert len(store_files(store)) == 8
    assert sorted(load_store(store).keys) == list("abcdefgh")


def test_breaks_auto_fits_every_spec_and_the_store_reads_back_their_average(tmp_path):
    """breaks="auto": one ordinary store per spec inside the store; load_store answers for each
    curve's LOO-stacked average, the same numbers as averaged_forecast/averaged_reach of its fits."""
    from bnsl_bayes.store import AveragedStore, Store

    df = long_table("ab")
    path = tmp_path / "s"
    run = fit_many(df, "n", "loss", "task", breaks="auto", store=path, **OPTS)
    assert run.ok and run.done == ["a", "b"] and run.skipped == [] and list(run.parts) == ["bnsl-0", "bnsl-1", "bnsl-2"]
    assert sorted(os.listdir(path)) == ["bnsl-0", "bnsl-1", "bnsl-2", "specs.json"]
    assert "2 curves x 3 specs (bnsl-0, bnsl-1, bnsl-2)" in run.summary()
    for b in (0, 1, 2):  # each spec's store is an ordinary one, readable alone
        alone = load_store(path / f"bnsl-{b}")
        assert isinstance(alone, Store) and alone.keys == ["a", "b"] and len(store_files(path / f"bnsl-{b}")) == 2
        assert {f.spec.name for f in alone.fits.values()} == {f"bnsl-{b}"}

    s = load_store(path)
    assert isinstance(s, AveragedStore) and s.keys == ["a", "b"] and s.incomplete == {}
    assert list(s.fits["a"]) == ["bnsl-0", "bnsl-1", "bnsl-2"]
    w = s.weights()
    assert list(w.columns) == ["task", "bnsl-0", "bnsl-1", "bnsl-2"]
    np.testing.assert_allclose(w[["bnsl-0", "bnsl-1", "bnsl-2"]].sum(axis=1), 1.0)
    table, reach = s.forecasts(X_NEW, prob=0.8), s.reach([0.5, 0.4])
    measured = s.forecasts(X_NEW, prob=0.8, y_err=fc.error_rate_se(500))
    for key in ("a", "b"):
        fits = s.fits[key]
        weights = stacking_weights(fits)
        assert weights == {k: w.set_index("task").loc[key, k] for k in fits}
        expected = bnsl_bayes.averaged_forecast(fits, X_NEW, prob=0.8)
        rows = table[table.task == key].drop(columns="task").reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, expected)
        pd.testing.assert_frame_equal(measured[measured.task == key].drop(columns="task").reset_index(drop=True),
                                      bnsl_bayes.averaged_forecast(fits, X_NEW, prob=0.8,
                                                                   y_err=fc.error_rate_se(500)))
        pd.testing.assert_frame_equal(reach[reach.task == key].drop(columns="task").reset_index(drop=True),
                                      bnsl_bayes.averaged_reach(fits, [0.5, 0.4]))
        # the run's in-memory view holds the same fits
        np.testing.assert_array_equal(run.fits[key]["bnsl-2"].idata.posterior["c0"].values,
                                      fits["bnsl-2"].idata.posterior["c0"].values)
    diag = s.diagnostics()
    assert list(diag.columns[:2]) == ["task", "spec"] and len(diag) == 6
    assert list(s.breaks().spec.unique()) == ["bnsl-1", "bnsl-2"] and s.errors().empty

    again = fit_many(df, "n", "loss", "task", breaks="auto", store=path, **OPTS)
    assert again.done == [] and again.skipped == ["a", "b"]
    # a store of one spec and a store of several never mix
    with pytest.raises(ValueError, match="holds one store per spec"):
        fit_many(df, "n", "loss", "task", store=path, **OPTS)
    with pytest.raises(ValueError, match=r"holds fits of the specs \['bnsl-0', 'bnsl-1', 'bnsl-2'\]"):
        fit_many(df, "n", "loss", "task", spec=["bnsl-0", "bnsl-1"], store=path, **OPTS)
    single = tmp_path / "single"
    fit_many(df[df.task == "a"], "n", "loss", "task", store=single, **OPTS)
    with pytest.raises(ValueError, match="holds fits of one spec"):
        fit_many(df, "n", "loss", "task", breaks="auto", store=single, **OPTS)

    # a curve fitted under some specs only is named and left out of the averages, never averaged over fewer
    (stored,) = [p for p in (path / "bnsl-2").glob("b-*.nc")]
    stored.unlink()
    s = load_store(path)
    assert s.keys == ["a"] and s.incomplete == {"b": ["bnsl-2"]}
    with pytest.warns(UserWarning, match=r"1 curve\(s\) .* lack a fit under some spec .*'b' \(no bnsl-2\)"):
        assert list(s.forecasts(X_NEW).task.unique()) == ["a"]


def test_breaks_auto_names_the_spec_of_each_failure_and_refuses_bad_usage(tmp_path):
    bad = long_table("ab")
    bad.loc[3, "loss"] = -1.0  # row 3 of curve "a"
    run = fit_many(bad, "n", "loss", "task", breaks="auto", **OPTS)  # in memory
    assert not run.ok and run.done == ["b"] and list(run.fits) == ["b"]
    reason = run.failed["a"]
    assert [part.split(":")[0] for part in reason.split("; ")] == ["bnsl-0", "bnsl-1", "bnsl-2"]
    assert reason.count("-1.0 at row 3 must be > 0") == 3
    assert "1 failed under some spec" in run.summary()
    for kwargs, needle in (({"breaks": "auto", "spec": "bnsl-1"}, 'breaks="auto" fits the shipped'),
                           ({"breaks": 1, "spec": ["bnsl-0", "bnsl-1"]}, "cannot apply to all of them"),
                           ({"spec": ["bnsl-1"]}, "at least two specs"),
                           ({"spec": ["bnsl-1", "bnsl-1"]}, "must differ by name"),
                           ({"breaks": "two"}, "or 'auto', got 'two'")):
        with pytest.raises(ValueError, match=needle):
            fit_many(bad, "n", "loss", "task", store=tmp_path / "never", **kwargs, **OPTS)
    assert not (tmp_path / "never").exists()

    # a run killed after making the spec stores but before specs.json carries on when rerun
    from bnsl_bayes.store import AveragedStore, Store

    half = tmp_path / "half"
    for b in (0, 1, 2):
        Store(half / f"bnsl-{b}", "task")
    assert AveragedStore(half, "task", ["bnsl-0", "bnsl-1", "bnsl-2"]).specs == ["bnsl-0", "bnsl-1", "bnsl-2"]
    (tmp_path / "other" / "notes").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"is not empty \(notes\) and holds no specs.json"):
        fit_many(bad, "n", "loss", "task", breaks="auto", store=tmp_path / "other", **OPTS)


def test_cli_breaks_auto(tmp_path, capsys, monkeypatch):
    from bnsl_bayes import many

    data = tmp_path / "curves.csv"
    long_table("a").to_csv(data, index=False)
    argv = ["fit-many", str(data), "--x", "n", "--y", "loss", "--group", "task", "--store", str(tmp_path / "s"),
            "--quiet", "--breaks", "auto"]
    # --monotone with auto asks for the three monotone specs (the call is checked, not run)
    seen = {}
    monkeypatch.setattr(many, "fit_many", lambda *a, **kw: seen.update(kw) or fit_many(*a, **kw))
    with pytest.raises(SystemExit) as e:
        _cli([*argv[:-1], "two"])
    assert e.value.code == 2 and "use a number of breaks (0, 1, 2, ...) or 'auto'" in capsys.readouterr().err
    assert _cli([*argv, "--monotone", "--chains", "0"]) == 2  # bad setting: refused before fitting
    assert seen["spec"] == ["bnsl-0-monotone", "bnsl-1-monotone", "bnsl-2-monotone"] and seen["breaks"] is None
    assert _cli([*argv, "--chains", "2", "--tune", "200", "--draws", "200"]) == 0
    out = capsys.readouterr().out
    assert "1 curve x 3 specs (bnsl-0, bnsl-1, bnsl-2)" in out and "load_store reads the LOO-stacked average" in out
    store = load_store(tmp_path / "s")
    assert store.keys == ["a"]

    # forecast, reach and breaks read a store directory: one row per curve (per break), as the Python API
    from bnsl_bayes import cli

    assert cli.main(["forecast", str(tmp_path / "s"), "--at", "2e6", "1e7", "--json"]) == 0
    got = pd.DataFrame(json.loads(capsys.readouterr().out))
    pd.testing.assert_frame_equal(got, store.forecasts([2e6, 1e7]))
    assert cli.main(["reach", str(tmp_path / "s"), "--target", "0.45", "0.4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"1 curve of {tmp_path / 's'}, LOO-stacked average per curve of bnsl-0, bnsl-1, bnsl-2: "
                          "n at which each curve reaches loss = target")
    assert len(out.strip().splitlines()) == 4  # header, column names, one row per level
    assert cli.main(["breaks", str(tmp_path / "s" / "bnsl-2"), "--json"]) == 0
    assert [r["break"] for r in json.loads(capsys.readouterr().out)] == [1, 2]
    assert cli.main(["breaks", str(tmp_path / "s"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["spec"], r["break"]) for r in rows] == [("bnsl-1", 1), ("bnsl-2", 1), ("bnsl-2", 2)]
    assert sum({r["spec"]: r["weight"] for r in rows}.values()) <= 1 + 1e-9
    assert cli.main(["plot", str(tmp_path / "s"), "--out", str(tmp_path / "p.png")]) == 2
    assert "is a directory, not a fit file" in capsys.readouterr().err
