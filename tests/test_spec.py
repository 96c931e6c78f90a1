"""Model specs: shipped TOML files, overrides and their validation."""

import pytest

from bnsl_bayes.spec import builtin_specs, load_spec


def test_shipped_specs_load():
    assert {"bnsl-0", "bnsl-1", "bnsl-2"} <= set(builtin_specs())
    for n in (0, 1, 2):
        spec = load_spec(f"bnsl-{n}")
        # bnsl-1's Student-t won its context validation (models/bnsl-1.toml); the others were not tried
        assert spec.breaks == n and spec.likelihood == ("student_t" if n == 1 else "normal")


def test_overrides_from_python_change_the_model_key():
    base = load_spec("bnsl-1")
    new = load_spec("bnsl-1", priors={"c0": {"dist": "Normal", "mu": 0.5, "sigma": 0.2}}, likelihood="student_t")
    assert new.priors["c0"]["mu"] == 0.5 and new.likelihood == "student_t"
    assert new.model_key() != base.model_key()
    # sampler settings do not change the compiled model
    assert load_spec("bnsl-1", sampler={"draws": 10}).model_key() == base.model_key()


def test_spec_from_toml_path(tmp_path):
    text = (load_spec.__globals__["resources"].files("bnsl_bayes.models") / "bnsl-1.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "bnsl-1"', 'name = "mine"'))
    assert load_spec(str(path)).name == "mine"


@pytest.mark.parametrize(
    "priors, match",
    [
        ({"c0": {"dist": "Cauchy", "alpha": 0, "beta": 1}}, "unknown dist 'Cauchy'"),
        ({"c0": {"dist": "Normal", "mu": 0}}, r"needs parameters \('mu', 'sigma'\)"),
        ({"c0": {"dist": "Normal", "mu": "zero", "sigma": 1}}, "must be a finite number"),
        ({"c0": {"dist": "Normal", "mu": float("nan"), "sigma": 1}}, "'mu' must be a finite number"),
        # ranges: PyMC accepts these and nutpie then fails with a backtrace (and a crash at exit)
        ({"sigma": {"dist": "HalfNormal", "sigma": -0.1}}, r"'sigma' \(HalfNormal\) parameter 'sigma' must be > 0"),
        ({"f": {"dist": "LogNormal", "mu": -1.9, "sigma": 0}}, "parameter 'sigma' must be > 0"),
        ({"nu": {"dist": "Gamma", "alpha": 2, "beta": 0}}, "parameter 'beta' must be > 0"),
        ({"c": {"dist": "StudentT", "nu": -3, "mu": 0, "sigma": 1}}, "parameter 'nu' must be > 0"),
        ({"limit_fraction": {"dist": "Uniform", "lower": 1, "upper": 0}}, "needs lower < upper"),
        ({"slope": {"dist": "Normal", "mu": 0, "sigma": 1}}, "unknown prior 'slope'"),
    ],
)
def test_bad_priors_named(priors, match):
    with pytest.raises(ValueError, match=match):
        load_spec("bnsl-1", priors=priors)


def test_bad_spec_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("breaks = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_spec(str(p))
    with pytest.raises(ValueError, match="not found"):
        load_spec(str(tmp_path / "missing.toml"))


def test_shipped_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    """A store or output folder called "bnsl-1" in the working directory does not hide the spec."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bnsl-1").mkdir()
    assert load_spec("bnsl-1").breaks == 1
    with pytest.raises(ValueError, match="it is a directory"):
        load_spec("./bnsl-1")


def test_breaks_pick_or_check_the_spec():
    assert load_spec().name == "bnsl-1" and load_spec(breaks=2).name == "bnsl-2"
    assert load_spec("bnsl-2", breaks=2).breaks == 2
    with pytest.raises(ValueError, match="has 1 breaks but breaks=2"):
        load_spec("bnsl-1", breaks=2)
    with pytest.raises(ValueError, match="breaks must be an integer"):
        load_spec(breaks=1.5)


def test_monotone_specs_ship_and_draw_slope_ratios():
    for n in (0, 1, 2):
        spec = load_spec(f"bnsl-{n}-monotone")
        assert spec.monotone and spec.breaks == n
        assert "log_slope_ratio" in spec.parameters and "c" not in spec.parameters
        assert spec.priors["c0"]["dist"] == "HalfNormal"
        # the flag survives a round trip through a saved fit's dict and changes the compiled model
        assert load_spec(spec.to_dict()).monotone
    assert not load_spec("bnsl-1").monotone and "c" in load_spec("bnsl-1").parameters
    # absent from other specs' dicts, so fingerprints of stores made before the option still match
    assert "monotone" not in load_spec("bnsl-1").to_dict()


@pytest.mark.parametrize(
    "spec, priors, match",
    [
        ("bnsl-1-monotone", {"c": {"dist": "Normal", "mu": 0, "sigma": 1}},
         "prior 'c' does not apply to a monotone spec: its slope changes follow 'log_slope_ratio'"),
        ("bnsl-1", {"log_slope_ratio": {"dist": "Normal", "mu": 0, "sigma": 1}},
         "'log_slope_ratio' is for specs with monotone = true"),
        ("bnsl-1-monotone", {"c0": {"dist": "Normal", "mu": 0, "sigma": 1}},
         "c0 that cannot be negative.*got \\{'dist': 'Normal'"),
        ("bnsl-1-monotone", {"c0": {"dist": "Uniform", "lower": -0.1, "upper": 1}},
         "or a Uniform with lower >= 0"),
    ],
)
def test_monotone_priors_checked(spec, priors, match):
    with pytest.raises(ValueError, match=match):
        load_spec(spec, priors=priors)


def test_monotone_spec_accepts_a_nonnegative_uniform_slope_and_names_itself():
    d = load_spec("bnsl-1-monotone").to_dict()
    d.pop("name")
    spec = load_spec(d, priors={"c0": {"dist": "Uniform", "lower": 0.0, "upper": 2.0}})
    # not "bnsl-1", which compare() would confuse with the default; the changed prior is named too
    assert spec.name == "bnsl-1-monotone+priors:c0"


def test_monotone_flag_must_be_boolean():
    d = load_spec("bnsl-1-monotone").to_dict()
    with pytest.raises(ValueError, match="'monotone' must be true or false, got 'yes'"):
        load_spec({**d, "monotone": "yes"})


def test_monotone_model_derives_falling_slopes():
    """Every prior draw of the monotone model has slopes c0, c0 + c_1, ... that never go below 0, and
    its curve never rises anywhere, also between two breaks (they share one sharpness: with their own,
    a steepening break followed by a sharper flattening one rose between them in ~1% of draws)."""
    import numpy as np
    import pymc as pm

    from bnsl_bayes.forms import log_excess
    from bnsl_bayes.model import CurveData, build_model

    m = build_model(load_spec("bnsl-2-monotone"), CurveData.from_xy([1, 2, 4, 8], [4, 3, 2.5, 2.2]))
    assert sorted(v.name for v in m.free_RVs) == ["c0", "delta", "f_shared", "limit_fraction", "log_offset",
                                                  "log_slope_ratio", "sigma"]
    c0, g, c, log_d, f = pm.draw([m["c0"], m["log_slope_ratio"], m["c"], m["log_d"], m["f"]], draws=4000,
                                 random_seed=1)
    slopes = c0[:, None] + np.cumsum(c, axis=1)
    assert (c0 >= 0).all() and (slopes >= 0).all()
    np.testing.assert_allclose(slopes, c0[:, None] * np.exp(np.cumsum(g, axis=1)), rtol=1e-9, atol=1e-12)
    assert (c < 0).any() and (c > 0).any()  # breaks may flatten or steepen
    assert np.all(f[:, 0] == f[:, 1])
    # forward draws ignore the ordered transform that sampling applies to break positions: keep the
    # draws whose breaks come in order, as every posterior draw's do
    keep = log_d[:, 0] < log_d[:, 1]
    c0, c, log_d, f = c0[keep], c[keep], log_d[keep], f[keep]
    log_x = np.linspace(-30, 30, 2001)
    curve = log_excess(log_x[None, :], 0.0, c0[:, None], c[:, None, :], log_d[:, None, :], f[:, None, :])
    assert np.all(np.diff(curve, axis=1) <= 1e-9 * (1 + np.abs(curve[:, 1:])))


def test_overrides_rename_the_spec():
    """A changed model is not the shipped one: its name says what changed, so compare() and saved
    fits tell them apart; sampler settings and values equal to the spec's keep the name."""
    assert load_spec("bnsl-1", likelihood="normal").name == "bnsl-1+normal"
    assert load_spec("bnsl-1", drift_per_efold=0).name == "bnsl-1+drift=0"
    assert load_spec("bnsl-2", priors={"c": {"dist": "Normal", "mu": 0, "sigma": 2}},
                     likelihood="student_t").name == "bnsl-2+student_t+priors:c"
    same = load_spec("bnsl-1")
    assert load_spec("bnsl-1", likelihood="student_t", priors={"c": same.priors["c"]},
                     sampler={"draws": 10}).name == "bnsl-1"
    t = load_spec("bnsl-1", likelihood="normal")
    assert load_spec(t).name == "bnsl-1+normal" and t.model_key() != same.model_key()
    # the drift is not part of the compiled model: renaming it must not force a recompile
    assert load_spec("bnsl-1", drift_per_efold=0).model_key() == same.model_key()
