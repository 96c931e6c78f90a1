"""The `bnsl-bayes` command, run as a user runs it: a subprocess, exit codes, stdout and stderr."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes import cli

SMALL = ["--chains", "2", "--tune", "300", "--draws", "300", "--quiet"]


def command():
    exe = Path(sys.executable).with_name("bnsl-bayes")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "bnsl_bayes.cli"]


def run(*args, cwd=None):
    return subprocess.run([*command(), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bnsl-bayes: error: ") and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


# ------------------------------------------------------------------------------------- usage


def test_help_lists_commands_and_examples():
    result = run("--help")
    assert result.returncode == 0
    for name in ("fit", "forecast", "breaks", "reach", "compare", "plot", "demo", "examples:"):
        assert name in result.stdout


def test_subcommand_help():
    result = run("fit", "--help")
    assert result.returncode == 0 and "--breaks" in result.stdout and "example:" in result.stdout


def test_module_entry_point():
    result = subprocess.run([sys.executable, "-m", "bnsl_bayes.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("bnsl-bayes ")


@pytest.mark.parametrize("args, needle", [
    ((), "COMMAND"),
    (("fit", "data.csv"), "--x"),
    (("forecast", "fit.nc", "--at", "abc"), "--at"),
    # bad values are named by the option the user typed (checked before the fit file is read)
    (("forecast", "fit.nc", "--at", "10", "0"), "column '--at': 0.0 at row 1 must be > 0"),
    (("forecast", "fit.nc", "--at", "nan"), "column '--at': nan at row 0"),
    (("fit", "data.csv", "--x", "n", "--y", "l", "--out", "o.nc", "--breaks", "two"), "--breaks"),
    # --spec names the model: settings that disagree are refused before the data is read
    (("fit", "data.csv", "--x", "n", "--y", "l", "--out", "o.nc", "--spec", "bnsl-1", "--monotone"),
     "not with --monotone or --breaks auto"),
    (("fit", "data.csv", "--x", "n", "--y", "l", "--out", "o.nc", "--spec", "bnsl-2", "--breaks", "1"),
     "has 2 breaks but breaks=1"),
    (("fit", "data.csv", "--x", "n", "--y", "l", "--out", "o.nc", "--spec", "nope.toml"), "nope.toml"),
])
def test_bad_usage_is_one_line(args, needle):
    assert_one_line_error(run(*args), needle)


# ---------------------------------------------------------------------------------- bad input


BAD_CSVS = {
    "missing_column": ("n,error\n1,2\n2,1.5\n4,1\n", "no column 'loss'"),
    # a stray space in the header is shown, not hidden
    "header_space": ("n, loss\n1,2\n2,1.5\n4,1\n", "no column 'loss' (columns: 'n', ' loss')"),
    "non_numeric": ("n,loss\n1,2\n2,abc\n4,1\n", "column 'loss': non-numeric value 'abc' at row 1 (line 3)"),
    "empty_cell": ("n,loss\n1,2\n2,1.5\n,1\n", "column 'n': empty or NaN cell at row 2 (line 4)"),
    # a blank line is not a row, but the line number still points into the file
    "blank_line": ("n,loss\n1,2\n\n2,abc\n4,1\n", "column 'loss': non-numeric value 'abc' at row 1 (line 4)"),
    # a row of empty or NaN cells is a row, not a blank line: named, never dropped
    "nan_row": ("n,loss\n1,2\n2,1.5\nnan,nan\n4,1\n8,0.9\n", "column 'n': empty or NaN cell at row 2 (line 4)"),
    "comma_row": ("n,loss\n1,2\n2,1.5\n,\n4,1\n8,0.9\n", "column 'n': empty or NaN cell at row 2 (line 4)"),
    # the core's checks cite the file line too, after blank lines
    "negative": ("n,loss\n1,2\n\n2,-1.5\n4,1\n", "column 'loss': -1.5 at row 1 (line 4)"),
    # a quoted cell spanning lines does not shift the line cited after it
    "quoted_newline": ('note,n,loss\n"two\nlines",1,2\nok,2,abc\n', "non-numeric value 'abc' at row 1 (line 4)"),
    "duplicate_header": ("n,loss,loss\n1,2,3\n", "duplicate column name(s) 'loss'"),
    "empty_file": ("", "is empty"),
    "header_only": ("n,loss\n", "no data rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSVS))
def test_bad_csv_is_one_clear_line(case, tmp_path):
    text, needle = BAD_CSVS[case]
    (tmp_path / "data.csv").write_text(text)
    result = run("fit", "data.csv", "--x", "n", "--y", "loss", "--out", "fit.nc", cwd=tmp_path)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "fit.nc").exists()


@pytest.mark.parametrize("groups, needle", [
    (("gpt/2", "gpt_2"), "groups 'gpt/2' and 'gpt_2' both map to the file name"),
    # an empty group cell is named, not fitted as a curve called 'nan' (as fit-many does)
    (("a", ""), "group column 'model': missing value at row 4 (line 6)"),
])
def test_bad_groups_are_named_before_any_fit(groups, needle, tmp_path):
    rows = "".join(f"{g},{n},{3 / n ** 0.2}\n" for g in groups for n in (1, 2, 4, 8))
    (tmp_path / "data.csv").write_text("model,n,loss\n" + rows)
    result = run("fit", "data.csv", "--x", "n", "--y", "loss", "--group", "model", "--out", "fits/", cwd=tmp_path)
    assert_one_line_error(result, needle)
    assert not (tmp_path / "fits").exists()


def test_missing_files(tmp_path):
    assert_one_line_error(run("fit", "nope.csv", "--x", "n", "--y", "l", "--out", "o.nc", cwd=tmp_path), "nope.csv")
    assert_one_line_error(run("forecast", "nope.nc", "--at", "3", cwd=tmp_path), "nope.nc")
    (tmp_path / "junk.nc").write_text("not a fit")
    assert_one_line_error(run("breaks", "junk.nc", cwd=tmp_path), "junk.nc")


def test_output_paths(tmp_path):
    (tmp_path / "existing").mkdir()
    # an existing directory is written into, with or without the trailing slash
    assert cli.output_path(str(tmp_path / "existing"), "a", Path("runs.csv")) == tmp_path / "existing" / "a.nc"
    assert cli.output_path(str(tmp_path / "existing"), None, Path("runs.csv")) == tmp_path / "existing" / "runs.nc"
    data = Path("runs.csv")
    assert cli.output_path("fit.nc", None, data) == Path("fit.nc")
    assert cli.output_path("out/fit.nc", "big model", data) == Path("out/fit.big_model.nc")
    assert cli.output_path("fits/", "a", data) == Path("fits/a.nc")
    assert cli.output_path("fits/", None, data) == Path("fits/runs.nc")


def test_an_output_that_is_an_input_is_refused(addition_fit, tmp_path):
    """fit --out runs.csv used to sample, then replace the data with the fit; plot FIT --out FIT
    replaced the fit with a PNG (a suffix-less name is written as PNG)."""
    csv = "n,loss\n1,2\n2,1.5\n4,1.2\n8,1.1\n"
    (tmp_path / "runs.csv").write_text(csv)
    for out in ("runs.csv", "./sub/../runs.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        result = run("fit", "runs.csv", "--x", "n", "--y", "loss", "--out", out, *SMALL, cwd=tmp_path)
        assert_one_line_error(result, f"output {Path(out)} is the input file runs.csv")
    assert (tmp_path / "runs.csv").read_text() == csv
    addition_fit.save(tmp_path / "fit")
    assert_one_line_error(run("plot", "fit", "--out", "fit", cwd=tmp_path), "output fit is the input file fit")
    assert bnsl_bayes.load(tmp_path / "fit").spec.name == "bnsl-1"
    # an output that does not exist yet is not an input
    cli.refuse_overwriting_inputs([tmp_path / "new.nc", tmp_path / "sub"], [tmp_path / "runs.csv", None])


# --------------------------------------------------------------------------- real round trip


@pytest.fixture(scope="module")
def grouped_fits(addition_data, tmp_path_factory):
    """`bnsl-bayes fit --group` on two curves (the addition data and a copy 10% higher)."""
    train, _ = addition_data
    d = tmp_path_factory.mktemp("cli")
    table = pd.concat([train.assign(task="add"), train.assign(task="add high", y=train["y"] * 1.1)])
    table[["task", "x", "y"]].rename(columns={"x": "examples", "y": "loss"}).to_csv(d / "runs.csv", index=False)
    result = run("fit", "runs.csv", "--x", "examples", "--y", "loss", "--group", "task", "--out", "fits/",
                 "--seed", "0", *SMALL, cwd=d)
    return d, result


def test_fit_writes_one_file_per_group_with_a_summary_line(grouped_fits):
    d, result = grouped_fits
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (d / "fits").iterdir()) == ["add.nc", "add_high.nc"]
    lines = result.stdout.strip().splitlines()
    assert [line.split("]")[0] for line in lines] == ["[add", "[add high"]
    assert all("bnsl-1: 14 points" in line and "r_hat_max" in line and "divergences" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_forecast_json_matches_the_api(grouped_fits):
    d, _ = grouped_fits
    result = run("forecast", "fits/add.nc", "--at", "800", "864", "928", "--json", cwd=d)
    assert result.returncode == 0, result.stderr
    got = pd.DataFrame(json.loads(result.stdout))
    want = bnsl_bayes.load(d / "fits" / "add.nc").forecast([800, 864, 928])
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want)
    table = run("forecast", "fits/add.nc", "--at", "800", "--prob", "0.5", "--kind", "curve", cwd=d)
    assert table.returncode == 0 and "50% interval" in table.stdout and "median" in table.stdout


def test_breaks_reach_compare_plot(grouped_fits, addition_fit_path, addition_data):
    d, _ = grouped_fits
    breaks = run("breaks", "fits/add.nc", "--json", cwd=d)
    assert breaks.returncode == 0, breaks.stderr
    (row,) = json.loads(breaks.stdout)
    assert row["break"] == 1 and row["lower"] < row["median"] < row["upper"]
    assert 160 < row["median"] < 736  # the transition is inside the data

    reach = run("reach", "fits/add.nc", "--target", "0.5", "--x-max", "1e5", "--json", cwd=d)
    assert reach.returncode == 0, reach.stderr
    r = json.loads(reach.stdout)
    assert r["target"] == 0.5 and r["x_max"] == 1e5 and 736 < r["median"] < 1e5 and 0 < r["prob_reached"] <= 1
    several = run("reach", "fits/add.nc", "--target", "0.5", "0.45", "--x-max", "1e5", "--json", cwd=d)
    assert several.returncode == 0, several.stderr
    rows = json.loads(several.stdout)
    assert [row["target"] for row in rows] == [0.5, 0.45] and rows[0] == r
    assert rows[1]["median"] is None or rows[1]["median"] >= r["median"]  # a lower loss comes later

    # The session fit and the CLI fit are fits of the same data, so LOO can compare them.
    cmp = run("compare", "fits/add.nc", addition_fit_path, cwd=d)
    assert cmp.returncode == 0, cmp.stderr
    assert "elpd_loo" in cmp.stdout and "add " in cmp.stdout and "addition" in cmp.stdout
    assert_one_line_error(run("compare", "fits/add.nc", "fits/add_high.nc", cwd=d), "different data")

    _, held = addition_data
    held.to_csv(d / "held.csv", index=False)
    plot = run("plot", "fits/add.nc", "--out", "plots/add.png", "--heldout", "held.csv", "--x", "x", "--y", "y",
               "--at-max", "2000", cwd=d)
    assert plot.returncode == 0, plot.stderr
    assert (d / "plots" / "add.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_one_line_error(run("plot", "fits/add.nc", "--out", "p.png", "--heldout", "held.csv", cwd=d), "--x")


def test_forecast_and_reach_average_several_fits(addition_fit, addition_fit_path, addition_data, small_sampler,
                                                 tmp_path):
    """Several fit files of the same data: forecast and reach answer for their LOO-stacked mixture,
    exactly as the API's averaged_forecast / averaged_reach with compare's weights (fits named by file stem)."""
    train, _ = addition_data
    fit0 = bnsl_bayes.fit(train.x, train.y, breaks=0, seed=0, warn=False, **small_sampler)
    fit0.save(tmp_path / "zero.nc")
    fits = {"zero": fit0, "addition": addition_fit}
    weights = bnsl_bayes.compare(fits)["weight"].to_dict()
    # Stacking gives the 0-break fit (almost) no weight here: the break is plain in these points. The
    # mixture then differs from the first file's forecast, so a command that read only the first
    # file, or mixed equally, would fail below; equal mixing itself is tested in test_fit_api.

    got = run("forecast", tmp_path / "zero.nc", addition_fit_path, "--at", "800", "1200", "--json")
    assert got.returncode == 0, got.stderr
    want = bnsl_bayes.averaged_forecast(fits, [800.0, 1200.0], weights=weights)
    assert not np.allclose(want["median"], fit0.forecast([800.0, 1200.0])["median"], rtol=1e-3)
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(got.stdout)), want)
    text = run("forecast", tmp_path / "zero.nc", addition_fit_path, "--at", "800")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("LOO-stacked average of ") and f"zero ({weights['zero']:.2f})" in text.stdout

    reach = run("reach", tmp_path / "zero.nc", addition_fit_path, "--target", "0.5", "--x-max", "1e5", "--json")
    assert reach.returncode == 0, reach.stderr
    want = bnsl_bayes.averaged_reach(fits, 0.5, x_max=1e5, weights=weights)
    assert json.loads(reach.stdout) == {k: (float(v) if np.isfinite(v) else None) for k, v in want.items()}

    plot = run("plot", tmp_path / "zero.nc", addition_fit_path, "--out", tmp_path / "avg.png")
    assert plot.returncode == 0, plot.stderr
    assert (tmp_path / "avg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_one_line_error(run("forecast", addition_fit_path, addition_fit_path, "--at", "800"), "given twice")


def test_a_reader_that_stops_early_ends_the_command_quietly(addition_fit_path):
    """`bnsl-bayes forecast ... | head -1`: stdout closed before we write. It used to end with Python's
    'Exception ignored ... BrokenPipeError' on stderr and exit code 120."""
    proc = subprocess.Popen([*command(), "forecast", str(addition_fit_path), "--at", *map(str, range(1, 2000))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before the command prints anything
    err = proc.stderr.read()
    assert proc.wait(timeout=600) == 1 and err == ""


def test_compare_refuses_a_fit_of_one_draw(addition_fit, tmp_path):
    """PSIS-LOO of a single draw raised IndexError inside ArviZ: refused by name, in the API and the CLI."""
    idata = addition_fit.idata.isel(chain=slice(0, 1), draw=slice(0, 1))
    idata.posterior.attrs = {**idata.posterior.attrs, "chain_weights": "[1.0]", "chain_stacking_weights": "[1.0]"}
    one = bnsl_bayes.Fit(idata)
    with pytest.raises(ValueError, match=r"fit 'one' has 1 posterior draw\(s\); LOO needs at least 2"):
        bnsl_bayes.compare({"full": addition_fit, "one": one})
    addition_fit.save(tmp_path / "full.nc")
    one.save(tmp_path / "one.nc")
    assert_one_line_error(run("compare", "full.nc", "one.nc", cwd=tmp_path), "fit 'one' has 1 posterior draw")


def test_auto_breaks_reports_only_the_kept_fits_warnings(addition_fit, monkeypatch):
    """--breaks auto fits 0, 1 and 2 breaks and saves one: the other two fits' convergence warnings
    must not be printed next to it. (Sampling is replaced by one real fit made to warn.)"""
    idata = addition_fit.idata.copy()
    idata.sample_stats["diverging"] = idata.sample_stats["diverging"] | True
    warns = bnsl_bayes.Fit(idata)
    calls = []

    def fake_fit(x, y, breaks=None, warn=True, spec=None, **kw):
        calls.append((spec, warn))
        if warn:
            warns.warn_if_unconverged()
        return warns

    monkeypatch.setattr(bnsl_bayes, "fit", fake_fit)
    args = argparse.Namespace(seed=0, quiet=True, chains=None, tune=None, draws=None, target_accept=None,
                              coordinates=None)
    fit, fits, note, problems = cli.fit_one(addition_fit.x, addition_fit.y, "auto", args, "x", "y")
    assert calls == [("bnsl-0", False), ("bnsl-1", False), ("bnsl-2", False)] and fit is warns
    assert list(fits) == ["bnsl-0", "bnsl-1", "bnsl-2"]
    assert note.startswith("kept")
    assert len([p for p in problems if "divergent transitions" in p]) == 1
    # --monotone picks the monotone spec of each number of breaks
    calls.clear()
    cli.fit_one(addition_fit.x, addition_fit.y, "auto", argparse.Namespace(**vars(args), monotone=True), "x", "y")
    assert [c[0] for c in calls] == ["bnsl-0-monotone", "bnsl-1-monotone", "bnsl-2-monotone"]
    calls.clear()
    cli.fit_one(addition_fit.x, addition_fit.y, 2, argparse.Namespace(**vars(args), monotone=True), "x", "y")
    assert calls == [("bnsl-2-monotone", True)]


def test_keep_all_writes_the_three_fits_for_averaging(addition_fit, addition_data, monkeypatch, tmp_path, capsys):
    """--breaks auto --keep-all writes the kept fit to OUT and each compared fit to OUT_STEM.<spec>.nc,
    which forecast then averages. (Sampling is replaced by real fits: bnsl-1 and a 10%-lower copy.)"""
    lower = addition_fit.idata.copy()
    lower.posterior["log_b"] = lower.posterior["log_b"] - 0.1
    made = {"bnsl-0": bnsl_bayes.Fit(lower), "bnsl-1": addition_fit, "bnsl-2": bnsl_bayes.Fit(lower)}
    monkeypatch.setattr(bnsl_bayes, "fit", lambda x, y, spec=None, **kw: made[spec])
    train, _ = addition_data
    train.to_csv(tmp_path / "runs.csv", index=False)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["fit", "runs.csv", "--x", "x", "--y", "y", "--breaks", "auto", "--keep-all", "--out", "fit.nc"]) == 0
    out = capsys.readouterr().out
    paths = [tmp_path / f"fit.bnsl-{b}.nc" for b in (0, 1, 2)]
    assert all(p.is_file() for p in paths) and (tmp_path / "fit.nc").is_file()
    assert "all 3 fits -> fit.bnsl-0.nc, fit.bnsl-1.nc, fit.bnsl-2.nc" in out
    for p, f in zip(paths, made.values()):  # each file is its own fit, not the kept one three times
        pd.testing.assert_frame_equal(bnsl_bayes.load(p).forecast([800.0]), f.forecast([800.0]))
    assert cli.main(["forecast", *map(str, paths), "--at", "800"]) == 0
    assert capsys.readouterr().out.startswith("LOO-stacked average of ")
    # only with --breaks auto: a single number of breaks has nothing else to keep
    assert cli.main(["fit", "runs.csv", "--x", "x", "--y", "y", "--keep-all", "--out", "one.nc"]) == 2
    assert "use it with --breaks auto" in capsys.readouterr().err and not (tmp_path / "one.nc").exists()


def test_choose_by_loo_says_which_and_why(addition_fit, addition_data, small_sampler):
    train, _ = addition_data
    other = bnsl_bayes.fit(train["x"], train["y"], breaks=1, seed=1, warn=False, **small_sampler)
    chosen, note = cli.choose_by_loo({"bnsl-1": addition_fit, "bnsl-1 seed 1": other})
    assert chosen in (addition_fit, other)
    assert note.startswith("kept bnsl-1") and "elpd_loo" in note and "stacking weights" in note
    # a LOO flagged by ArviZ (Pareto k > 0.7) is said to be rough, and only then
    table = bnsl_bayes.compare({"bnsl-1": addition_fit, "bnsl-1 seed 1": other})
    assert ("PSIS-LOO is rough" in note) == bool(table["warning"].any()), (note, table)


def test_demo(tmp_path):
    result = run("demo", "--out", "demo", *SMALL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "true" in out and "lower" in out and "upper" in out
    for x in ("800", "864", "928"):
        assert any(line.lstrip().startswith(x) for line in out.splitlines())
    assert "break: training set size" in out and "90% interval" in out
    assert (tmp_path / "demo" / "four_digit_addition.nc").is_file()
    assert (tmp_path / "demo" / "four_digit_addition.png").is_file()
    assert bnsl_bayes.load(tmp_path / "demo" / "four_digit_addition.nc").breaks == 1


def test_fit_with_a_spec_file(addition_data, tmp_path):
    """`fit --spec my.toml`: the user's own spec (here bnsl-0 under another name)
    is the model fitted, saved and named."""
    from bnsl_bayes.spec import load_spec

    train, _ = addition_data
    train.rename(columns={"x": "examples", "y": "loss"}).to_csv(tmp_path / "runs.csv", index=False)
    text = (load_spec.__globals__["resources"].files("bnsl_bayes.models") / "bnsl-0.toml").read_text()
    (tmp_path / "mine.toml").write_text(text.replace('name = "bnsl-0"', 'name = "mine"'))
    result = run("fit", "runs.csv", "--x", "examples", "--y", "loss", "--spec", "mine.toml", "--out", "f.nc",
                 *SMALL, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mine: 14 points"), result.stdout
    fit = bnsl_bayes.load(tmp_path / "f.nc")
    assert fit.spec.name == "mine" and fit.breaks == 0


def test_choose_by_loo_says_when_it_keeps_fewer_breaks_than_the_best(monkeypatch):
    """--breaks auto keeps the fewest breaks within one SE of the LOO-best, and says so with numbers."""
    from types import SimpleNamespace

    import numpy as np

    fits = {f"bnsl-{b}": SimpleNamespace(spec=SimpleNamespace(breaks=b), x=np.arange(3.0), y=np.ones(3)) for b in (0, 1, 2)}
    table = pd.DataFrame({"elpd_loo": [10.0, 9.7, 5.0], "elpd_diff": [0.0, 0.3, 5.0], "dse": [0.0, 1.5, 1.0],
                          "weight": [0.6, 0.4, 0.0], "warning": [False, False, False]},
                         index=["bnsl-2", "bnsl-1", "bnsl-0"])
    monkeypatch.setattr(bnsl_bayes, "compare", lambda f: table)
    fit, note = cli.choose_by_loo(fits)
    assert fit is fits["bnsl-1"]
    assert note.startswith("kept bnsl-1, the fewest breaks within one standard error of the LOO-best bnsl-2: "
                           "elpd_loo 9.7 vs 10.0 (difference 0.3 +/- 1.5); stacking weights bnsl-2 0.60"), note
