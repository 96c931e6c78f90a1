"""The benchmark runner: `--quick` end to end into a temporary directory, and its scoring rules.

The quick run (12 curves, one compile, small sampler) takes about 2 minutes on 2 cores. The notebook
that plots the committed results (notebooks/benchmark.ipynb) is executed by tests/test_notebooks.py,
which runs every notebook.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
DOMAINS = ("IC", "NMT", "LM", "BB", "DD", "Nano")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    md = out / "BENCHMARKS.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out), "--markdown", str(md)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, md


@pytest.mark.slow
def test_quick_run_writes_sane_json(quick_run):
    from bnsl_bayes import datasets

    data = datasets.benchmark()
    out, _ = quick_run
    summary = json.loads((out / "summary.json").read_text())
    curves = json.loads((out / "curves.json").read_text())
    assert summary["meta"]["quick"] is True and summary["complete"] is True
    assert summary["n_curves_done"] == len(curves["curves"]) == 2 * len(DOMAINS)
    assert set(summary["domains"]) == {*DOMAINS, "NLP+Nano", "all"}
    assert summary["domains"]["NLP+Nano"]["n_curves"] == 8
    for rec in curves["curves"]:
        assert rec["domain"] in DOMAINS and rec["n_context"] >= 2 and rec["n_target"] >= 1
        d = rec["default"]
        assert d["status"] == "ok", d
        assert 0 <= d["rmsle"] < 1
        assert math.isfinite(d["ll"])
        assert 0 <= d["coverage90"] <= 1 and 0 <= d["msce"] <= 1
        cal = d["calibration"]
        assert len(cal) == 7 and all(0 <= c <= 1 for c in cal)
        assert all(b >= a for a, b in zip(cal, cal[1:])), "central intervals nest, so coverage cannot fall with level"
        assert rec["pointfit"]["status"] == "ok" and 0 <= rec["pointfit"]["rmsle"] < 1
        assert rec["averaged"]["status"] == "not_run"  # --quick fits the default model only
        ctx_y = data.loc[(data["curve"] == rec["curve"]) & (data["split"] == "context"), "y"]
        assert rec["y_divisor"] == (ctx_y.max() if rec["domain"] in ("DD", "Nano") else 1.0)
    for g, row in summary["domains"].items():
        for m in ("default", "pointfit"):
            assert row[m]["n_failed"] == 0
            assert 0 <= row[m]["rmsle"]["mean"] < 1
        assert math.isfinite(row["default"]["ll"]["mean"])
        assert 0 <= row["default"]["coverage90"]["mean"] <= 1
    sp = summary["speed"]
    assert sp["compile_seconds"]["bnsl-1"] > 0
    assert 0 < sp["default_warm_seconds_per_curve"] < sp["default_cold_seconds_per_curve"]
    assert sp["pointfit_seconds_per_curve"] > 0 and sp["ratio_default_warm_to_pointfit"] > 0
    assert sp["total_wall_seconds"] > 0
    mem = summary["memory"]
    assert mem["self_max_rss_mb"] > 0 and mem["pointfit_child_max_rss_mb"] > 0
    assert len(summary["load"]["start"]) == 3 and len(summary["load"]["end"]) == 3
    assert summary["reported"]["metrics"]["NSL-PFN"]["IC"]["rmsle"] == 0.0280


@pytest.mark.slow
def test_quick_markdown_and_render_only(quick_run):
    out, md = quick_run
    text = md.read_text()
    assert "QUICK SUBSET, NOT THE BENCHMARK" in text
    assert "reported, not re-run" in text
    for heading in ("## Ours vs reported", "## Every domain", "## Calibration", "## Speed and memory",
                    "## How the numbers are computed"):
        assert heading in text
    for g in ("IC", "NLP+Nano", "DD"):
        assert f"| {g} | NSL-PFN *(reported, not re-run)* |" in text
    summary = json.loads((out / "summary.json").read_text())
    again = out / "again.md"
    proc = subprocess.run([sys.executable, "benchmarks/run.py", "--render-only", "--out", str(out), "--markdown",
                           str(again)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert again.read_text() == text
    # --render-only recomputes the summary from the per-curve records: the same records, the same summary
    assert json.loads((out / "summary.json").read_text()) == summary


def test_committed_results_are_consistent():
    """What the repository ships: BENCHMARKS.md is the render of the committed JSON."""
    from benchmarks import render
    from benchmarks.run import read_throughput

    res = REPO / "benchmarks" / "results"
    if not (res / "summary.json").is_file():
        pytest.skip("no committed full results yet")
    summary = json.loads((res / "summary.json").read_text())
    records = json.loads((res / "curves.json").read_text())["curves"]
    assert (REPO / "BENCHMARKS.md").read_text() == render.render(summary, records, read_throughput(res))


# ---- scoring rules, no sampling ------------------------------------------------------------------
def test_score_draws_adds_log_of_y_divisor():
    from benchmarks.scoring import score_draws

    rng = np.random.default_rng(1)
    draws = np.exp(rng.normal(0.0, 0.05, size=(2000, 3)))
    lpd = np.array([2.0, 2.5, 3.0])
    plain = score_draws([1.0, 1.02, 0.98], draws, lpd)
    scaled = score_draws([1.0, 1.02, 0.98], draws, lpd, y_divisor=2.0)
    assert scaled["ll"] == pytest.approx(plain["ll"] + np.log(2.0))
    assert scaled["rmsle"] == plain["rmsle"] and scaled["msce"] == plain["msce"]
    assert plain["ll"] == pytest.approx(2.5)


def test_score_draws_ranks_overflowed_draws_as_the_extremes():
    """A Student-t predictive can draw y = inf or 0 (log y past +-709): scored as the largest and
    smallest draws, the same as huge finite ones, instead of failing or giving NaN quantiles."""
    from benchmarks.scoring import score_draws

    rng = np.random.default_rng(2)
    draws = np.exp(rng.normal(0.0, 0.05, size=(2000, 2)))
    extreme = draws.copy()
    extreme[:150, 0], extreme[150:300, 0] = np.inf, 0.0  # 7.5% each side: the 90% interval ends on them
    finite = draws.copy()
    finite[:150, 0], finite[150:300, 0] = 1e300, 1e-300
    lpd = np.array([1.0, 1.0])
    got, want = score_draws([1.0, 1.0], extreme, lpd), score_draws([1.0, 1.0], finite, lpd)
    assert got == want
    assert got["coverage90"] == 1.0  # truth 1.0 lies between the overflowed ends


def test_mixture_log_density_is_the_weighted_mixture():
    from bnsl_bayes.compare import mixture_log_density

    lp = {"a": np.log([0.1, 1.0]), "b": np.log([0.3, 2.0]), "c": np.log([5.0, 5.0])}
    got = mixture_log_density(lp, {"a": 0.25, "b": 0.75, "c": 0.0})
    assert np.exp(got) == pytest.approx([0.25 * 0.1 + 0.75 * 0.3, 0.25 * 1.0 + 0.75 * 2.0])


def test_learned_prior_returns_the_prior_when_data_say_nothing_and_pools_what_they_do():
    """benchmarks.learned_prior.learn: posteriors equal to the default prior give the default prior
    back; a parameter that every curve pins down gives its spread across curves (domains equal)."""
    from benchmarks.learned_prior import learn
    from bnsl_bayes.spec import load_spec

    defaults = {n: dict(p) for n, p in load_spec("bnsl-1").priors.items()}
    rng = np.random.default_rng(0)
    draws, domain = {}, {}
    for i in range(40):
        # domain A has 30 curves with first slope 0.2, domain B 10 curves with 0.6: equal weight -> 0.4
        c0 = 0.2 if i < 30 else 0.6
        draws[i] = {"c0": rng.normal(c0, 0.01, 4000), "c": rng.standard_t(3, 4000),
                    "delta": rng.normal(1.0, 1.0, 4000), "f": np.exp(rng.normal(-1.9, 1.5, 4000)),
                    "limit_fraction": rng.beta(1.0, 1.0, 4000), "sigma": np.abs(rng.normal(0.0, 0.1, 4000))}
        domain[i] = "A" if i < 30 else "B"
    priors = learn(draws, domain, list(draws), defaults)["priors"]
    assert priors["c0"]["mu"] == pytest.approx(0.4, abs=0.01)
    assert priors["c0"]["sigma"] == pytest.approx(0.2, abs=0.01)
    for name in ("c", "delta", "f", "limit_fraction", "sigma"):
        for key, value in defaults[name].items():
            if key != "dist":
                assert priors[name][key] == pytest.approx(value, rel=0.05, abs=0.02), (name, key)


def test_summaries_skip_failed_curves_and_count_them():
    from benchmarks.scoring import summarize_method

    ok = {"status": "ok", "rmsle": 0.1, "ll": 2.0, "msce": 0.01, "coverage90": 1.0, "calibration": [1.0] * 7}
    recs = [{"default": ok}, {"default": {**ok, "rmsle": 0.3, "ll": None}}, {"default": {"status": "failed"}}]
    s = summarize_method(recs, "default")
    assert (s["n_curves"], s["n_scored"], s["n_failed"]) == (3, 2, 1)
    assert s["rmsle"]["mean"] == pytest.approx(0.2)
    assert s["ll"]["n"] == 1 and s["ll"]["n_missing"] == 1


def test_quick_plan_takes_curves_by_name_round_robin():
    from bnsl_bayes import datasets

    from benchmarks.run import plan_curves

    data = datasets.benchmark()
    quick = plan_curves(data, quick=True)
    assert len(quick) == 12 and [c.split("/")[0] for c in quick[:6]] == list(DOMAINS)
    full = plan_curves(data, quick=False)
    assert sorted(full) == sorted(data["curve"].unique()) and len(full) == 132


def test_fits_see_context_points_only(monkeypatch):
    """The rule of the benchmark: targets are for scoring only. Fake fit_many records what it is given."""
    import bnsl_bayes.many

    from benchmarks import run

    seen = []

    class FakeFit:
        def draws(self, x, kind="predictive"):
            import xarray as xr

            vals = np.exp(np.random.default_rng(0).normal(0, 0.05, size=(1, 200, len(x))))
            return xr.DataArray(vals * 0.5, dims=("chain", "draw", "x"))

        def log_predictive_density(self, x, y):
            return np.zeros(len(x))

    class FakeResult:
        def __init__(self, keys):
            self.outcomes = {k: bnsl_bayes.many.Outcome(k, "done", diagnostics={"divergences": 0, "r_hat_max": 1.0},
                                                        seconds=0.1) for k in keys}
            self.fits = {k: FakeFit() for k in keys}

    def fake_fit_many(data, x, y, group, **kw):
        seen.append(data.copy())
        return FakeResult(sorted(data[group].unique()))

    monkeypatch.setattr(bnsl_bayes.many, "fit_many", fake_fit_many)
    from bnsl_bayes import datasets

    data = datasets.benchmark(["NMT", "Nano"])
    names = run.plan_curves(data, quick=True)
    recs = run.run_chunk(data, names, seed=0, sampler={}, with_average=False)
    assert len(seen) == len(run.fitted_specs(with_average=False)) == 1 + len(run.OPTION_SPECS)
    ctx = data[data["curve"].isin(names) & (data["split"] == "context")]
    for passed in seen:  # the default and every option spec
        assert set(passed["split"]) == {"context"}
        pd.testing.assert_frame_equal(passed.reset_index(drop=True), ctx.reset_index(drop=True))
    assert [r["curve"] for r in recs] == names
    assert all(r[m]["status"] == "ok" for r in recs for m in ("default", *run.OPTION_SPECS))


def test_ranking_pairs_curves_of_one_task_at_held_out_points_near_x_star():
    from benchmarks.ranking import pairs_of, summarize

    rows = []
    for curve, targets in (("A", [100, 200]), ("B", [101, 150]), ("C", [300, 400])):
        rows += [{"domain": "IC", "task": "t", "curve": curve, "x": x, "y": 1.0, "split": "context"} for x in (10, 20)]
        rows += [{"domain": "IC", "task": "t", "curve": curve, "x": x, "y": 0.5, "split": "target"} for x in targets]
    rows += [{"domain": "BB", "task": "u", "curve": "D", "x": 200, "y": 0.5, "split": "target"}]
    pairs, none = pairs_of(pd.DataFrame(rows))
    # A-B: x* = 150 (B's largest); A has no held-out point within 1% of it, so neither has A-C
    # (x* = 200, C starts at 300) nor B-C; D is alone in its task.
    assert pairs == [] and none == 3
    rows[2]["x"], rows[3]["x"] = 149.0, 151.0  # now A's held-out points 149 and 151 lie near B's 150
    pairs, none = pairs_of(pd.DataFrame(rows))
    assert pairs == [("A", "B", 150.0)] and none == 2

    recs = [{"truth_a_lower": t, "ours_predictive": p, "ours_curve": p, "pointfit": float(p > 0.5),
             "leader": 1.0, "paired_draws": 4000} for t, p in ((True, 0.9), (False, 0.2), (True, 0.4))]
    s = summarize(recs)
    assert s["ours_predictive"]["accuracy"] == pytest.approx(2 / 3)
    assert s["ours_predictive"]["brier"] == pytest.approx((0.01 + 0.04 + 0.36) / 3)
    assert s["leader"]["accuracy"] == pytest.approx(2 / 3) and s["leader"]["brier"] == pytest.approx(1 / 3)
    assert s["ours_predictive"]["log_score"] == pytest.approx(np.mean(np.log([0.9, 0.8, 0.4])))
