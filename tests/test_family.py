"""fit_family: related curves fitted jointly, the law's shape partially pooled (bnsl_bayes/family.py)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes.family import Family, build_family_model, check_pool, fit_family
from bnsl_bayes.forms import bnsl
from bnsl_bayes.model import CurveData, build_model
from bnsl_bayes.spec import load_spec


def _table(n_curves=3, n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = np.geomspace(10, 1e4, n)
    return pd.concat([pd.DataFrame({"run": f"r{j}", "x": x,
                                    "y": bnsl(x, 0.2, 5.0 + j, 0.3) * np.exp(rng.normal(0, 0.02, n))})
                      for j in range(n_curves)], ignore_index=True)


# ---- the model ------------------------------------------------------------------------------------
@pytest.mark.parametrize("breaks, likelihood", [(0, "normal"), (1, "student_t"), (2, "normal")])
def test_an_unpooled_family_is_the_sum_of_its_curves_models(breaks, likelihood):
    """With nothing pooled, the family's log density is exactly the sum of the one-curve models'
    at the same parameters: the family reuses the one-curve law, priors and likelihood."""
    spec = load_spec(breaks=breaks, likelihood=likelihood)
    df = _table(3, seed=1)
    datas = [CurveData.from_xy(p["x"].to_numpy(), p["y"].to_numpy()) for _, p in df.groupby("run")]
    fam = build_family_model(spec, datas, ["r0", "r1", "r2"], pool=(), spread={})
    rng = np.random.default_rng(0)
    point = {k: np.sort(v + rng.normal(0, 0.3, np.shape(v)), axis=-1) if k.startswith("delta") else
             v + rng.normal(0, 0.3, np.shape(v)) for k, v in fam.initial_point().items()}
    total = sum(build_model(spec, d).compile_logp()({k: v[j] for k, v in point.items()})
                for j, d in enumerate(datas))
    assert fam.compile_logp()(point) == pytest.approx(total, rel=1e-10)


def test_a_pooled_parameter_is_its_centre_plus_spread_times_a_standard_normal():
    spec = load_spec(breaks=1)
    df = _table(3)
    datas = [CurveData.from_xy(p["x"].to_numpy(), p["y"].to_numpy()) for _, p in df.groupby("run")]
    m = build_family_model(spec, datas, ["r0", "r1", "r2"], *check_pool(None, 1, None))
    assert {"c0_centre", "c0_spread", "c_centre", "c_spread", "f_centre", "f_spread"} <= {v.name for v in m.free_RVs}
    point = m.initial_point()
    point.update({"c0_centre": np.array(0.4), "c0_spread_log__": np.array(np.log(0.1)),
                  "c0_z__": np.array([-1.0, 0.0, 2.0]), "f_centre": np.array([-1.0]),
                  "f_spread_log__": np.array([np.log(0.5)]), "f_z__": np.array([[1.0], [0.0], [-1.0]])})
    # in terms of the value variables (the sampler's coordinates), not of random draws of the priors
    c0, f = m.compile_fn(m.replace_rvs_by_values([m["c0"], m["f"]]), inputs=m.value_vars,
                         on_unused_input="ignore")(point)
    np.testing.assert_allclose(c0, [0.3, 0.4, 0.6])
    np.testing.assert_allclose(f[:, 0], np.exp([-0.5, -1.0, -1.5]))


# ---- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pool, spread, breaks, message", [
    (["c0", "d"], None, 1, r"\['d'\] cannot be pooled"),
    (["c"], None, 0, r"belong to breaks, and the spec has none"),
    (["c0", "c0"], None, 1, "twice"),
    (["c0"], {"c": 0.5}, 1, r"spread: \['c'\] are not pooled"),
    (["c0"], {"c0": -1}, 1, r"spread\['c0'\] must be a positive number"),
    (["c0"], {"c0": float("nan")}, 1, r"spread\['c0'\] must be a positive number"),
])
def test_bad_pools_and_spreads_are_named(pool, spread, breaks, message):
    with pytest.raises(ValueError, match=message):
        check_pool(pool, breaks, spread)


def test_default_pools_the_shape_and_c0_alone_without_breaks():
    assert check_pool(None, 1, None) == (("c0", "c", "f"), {"c0": 0.5, "c": 0.5, "f": 0.75})
    assert check_pool("c0", 0, {"c0": 0.2}) == (("c0",), {"c0": 0.2})


def test_bad_tables_are_refused_naming_the_curve():
    df = _table(3)
    with pytest.raises(ValueError, match="at least 2 curves"):
        fit_family(df[df.run == "r0"], "x", "y", "run")
    bad = df.copy()
    bad.loc[bad.index[bad.run == "r1"][2], "y"] = np.nan
    with pytest.raises(ValueError, match=r"curve 'r1': .*'y'"):
        fit_family(bad, "x", "y", "run")
    with pytest.raises(ValueError, match="monotone"):
        fit_family(df, "x", "y", "run", spec="bnsl-1-monotone")
    with pytest.raises(ValueError, match="plain coordinates"):
        fit_family(df, "x", "y", "run", coordinates="anchored")
    with pytest.raises(ValueError, match=r"column\(s\) \['loss'\] not in the data"):
        fit_family(df, "x", "loss", "run")


# ---- a real family --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nano_family(small_sampler):
    """4 nanoGPT settings' final validation loss against width (the benchmark's context points)."""
    from bnsl_bayes.datasets import benchmark

    b = benchmark(["Nano"])
    ctx = b[(b.task == "final_val_loss") & (b.split == "context") & b.model.isin([f"setting{i}" for i in range(4)])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fit_family(ctx, "x", "y", "model", seed=0, **small_sampler), ctx


def test_every_member_of_a_family_is_a_fit_of_its_own_points(nano_family):
    fam, ctx = nano_family
    assert fam.names == ["setting0", "setting1", "setting2", "setting3"] and len(fam) == 4
    for name in fam:
        member = fam[name]
        assert isinstance(member, bnsl_bayes.Fit)
        np.testing.assert_array_equal(member.x, np.sort(ctx[ctx.model == name]["x"].to_numpy()))
        table = member.forecast([384.0])
        assert table.loc[0, "lower"] < table.loc[0, "median"] < table.loc[0, "upper"]
        assert len(member.break_positions()) == 1
        assert member.idata.log_likelihood["y"].sizes["obs"] == len(member.x)
    # the member's draws are its slice of the joint posterior
    np.testing.assert_array_equal(fam["setting2"].posterior["c0"].values,
                                  fam.idata.posterior["c0"].sel(curve="setting2").values)
    with pytest.raises(KeyError, match="no curve 'setting9'"):
        fam["setting9"]


def test_population_and_diagnostics_tables(nano_family):
    fam, _ = nano_family
    pop = fam.population(prob=0.8)
    assert list(pop["parameter"]) == ["c0", "c", "log f"]
    assert (pop["centre_lower"] <= pop["centre_median"]).all() and (pop["centre_median"] <= pop["centre_upper"]).all()
    assert (pop["spread_lower"] > 0).all()
    d = fam.diagnostics()
    assert set(d["r_hat_max_by_curve"]) == set(fam.names)
    assert d["draws"] == 2 * 300 and d["r_hat_max"] >= max(d["r_hat_max_by_curve"].values()) - 1e-12
    assert "pooled ['c0', 'c', 'f']" in repr(fam)


def test_a_saved_family_loads_back_to_the_same_numbers(nano_family, tmp_path):
    fam, _ = nano_family
    fam.save(tmp_path / "fam.nc")
    back = bnsl_bayes.load(tmp_path / "fam.nc")
    assert isinstance(back, Family) and back.names == fam.names and back.pool == fam.pool
    for name in fam:
        pd.testing.assert_frame_equal(back[name].forecast([100.0, 384.0]), fam[name].forecast([100.0, 384.0]))
    pd.testing.assert_frame_equal(back.population(), fam.population())
    # a member saved alone is a Fit, and says which family it came from
    fam["setting1"].save(tmp_path / "one.nc")
    one = bnsl_bayes.load(tmp_path / "one.nc")
    assert isinstance(one, bnsl_bayes.Fit)
    assert json.loads(one.posterior.attrs["family_member"])["curve"] == "setting1"
    pd.testing.assert_frame_equal(one.forecast([384.0]), fam["setting1"].forecast([384.0]))


def test_an_unconverged_family_warns_naming_its_worst_curves(nano_family, monkeypatch):
    fam, _ = nano_family
    bad = {"r_hat_max": 1.8, "r_hat_worst": "delta[setting2][1]", "divergences": 3,
           "r_hat_max_by_curve": {"setting0": 1.01, "setting1": 1.2, "setting2": 1.8, "setting3": 1.0}}
    monkeypatch.setattr(fam, "diagnostics", lambda: bad)
    with pytest.warns(RuntimeWarning, match=r"3 divergent transitions; r_hat_max=1.800 > 1.01 \(at delta\[setting2\]"
                                            r"\[1\]\); worst curves: setting2 \(r_hat 1.800\), setting1 \(r_hat 1.200\)"):
        fam.warn_if_unconverged()
    monkeypatch.setattr(fam, "diagnostics", lambda: {**bad, "r_hat_max": 1.005, "divergences": 0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fam.warn_if_unconverged()  # converged: silent


def test_a_member_is_not_refitted_alone(nano_family):
    fam, _ = nano_family
    with pytest.raises(ValueError, match="curve 'setting0' of a family fit"):
        fam["setting0"].run_value([300.0], 384.0)


# ---- science: pooling reaches a short curve -------------------------------------------------------
def _simulated_family(seed):
    """Six power laws with nearly one slope (c0 = 0.35 + N(0, 0.02)); five measured over 3 decades,
    the sixth only over its first decade."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for j in range(6):
        p = dict(a=rng.uniform(0.05, 0.3), b=rng.uniform(3, 8), c0=0.35 + rng.normal(0, 0.02))
        x = np.geomspace(1e2, 1e5, 12) if j < 5 else np.geomspace(1e2, 1e3, 4)
        rows.append(pd.DataFrame({"run": f"r{j}", "x": x, "y": bnsl(x, **p) * np.exp(rng.normal(0, 0.02, x.size))}))
        truth[f"r{j}"] = p
    return pd.concat(rows, ignore_index=True), truth


@pytest.mark.slow
def test_pooling_narrows_a_short_curves_forecast_and_keeps_the_truth():
    """Real NUTS, seeds fixed. Measured 2026-12-03 (log width of the 90% band of the short curve at
    x = 1e5, two decades past its data, family vs alone): 0.70 vs 1.19, 0.50 vs 0.95, 1.04 vs 1.05;
    every family band held the truth, and every population slope interval held 0.35."""
    ratios = []
    for seed in (1, 2, 3):
        df, truth = _simulated_family(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fam = fit_family(df, "x", "y", "run", breaks=0, seed=0)
            short = df[df.run == "r5"]
            alone = bnsl_bayes.fit(short.x, short.y, breaks=0, seed=0, warn=False)
        true = bnsl(np.array([1e5]), **truth["r5"])[0]
        pooled, single = fam["r5"].forecast([1e5]).iloc[0], alone.forecast([1e5]).iloc[0]
        assert pooled["lower"] < true < pooled["upper"], seed
        ratios.append(np.log(pooled["upper"] / pooled["lower"]) / np.log(single["upper"] / single["lower"]))
        pop = fam.population().iloc[0]
        assert pop["centre_lower"] < 0.35 < pop["centre_upper"], seed
    assert max(ratios) < 1.05 and np.mean(ratios) < 0.8, ratios


# ---- command line ---------------------------------------------------------------------------------
def test_cli_fit_family_writes_each_member_where_a_grouped_fit_would(tmp_path, monkeypatch, capsys):
    from bnsl_bayes import cli

    _table(3, seed=2).to_csv(tmp_path / "runs.csv", index=False)
    monkeypatch.chdir(tmp_path)
    args = ["fit", "runs.csv", "--x", "x", "--y", "y", "--group", "run", "--breaks", "0", "--family",
            "--chains", "2", "--tune", "200", "--draws", "200", "--out", "fits/"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "family of 3 curves, pooled c0" in out and "centre_median" in out
    for run in ("r0", "r1", "r2"):
        assert f"[{run}] bnsl-0: 8 points" in out
        member = bnsl_bayes.load(tmp_path / "fits" / f"{run}.nc")
        assert json.loads(member.posterior.attrs["family_member"])["curve"] == run
    # the members answer every other command as fits do
    assert cli.main(["forecast", "fits/r1.nc", "--at", "1e5"]) == 0
    assert "posterior predictive of y" in capsys.readouterr().out
    # --family needs groups, and one model
    assert cli.main(["fit", "runs.csv", "--x", "x", "--y", "y", "--family", "--out", "one.nc"]) == 2
    assert "it needs --group" in capsys.readouterr().err
    assert cli.main(["fit", "runs.csv", "--x", "x", "--y", "y", "--group", "run", "--breaks", "auto", "--family",
                     "--out", "auto/"]) == 2
    assert "not --breaks auto" in capsys.readouterr().err and not (tmp_path / "auto").exists()
