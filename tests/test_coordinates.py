"""coordinates="anchored" (bnsl_bayes/model.py) is the same model in other coordinates.

The exact check: at any point, the log density in the anchored coordinates equals the plain one plus
the log Jacobian of the rescaled slope changes, and every quantity the forecasts read is the same.
The sampling check (real NUTS, fixed seeds): both coordinates give the same forecasts of a curve.
"""

import numpy as np
import pytest

from bnsl_bayes.model import CurveData, build_model
from bnsl_bayes.spec import load_spec

DATA = CurveData.from_xy([1, 2, 4, 8, 16, 32, 64], [4.0, 3.1, 2.5, 2.2, 2.05, 1.98, 1.95])
# What forecasts read from a posterior (forecast.py), and the priors' own parameters.
READ = ("log_a", "log_b", "c0", "noise", "log_offset", "limit_fraction")
READ_BREAKS = ("c", "log_d", "f")
FAST = "FAST_COMPILE"  # Python-evaluated graphs: a few points need no C compilation


@pytest.mark.parametrize("name", ["bnsl-0", "bnsl-1", "bnsl-2", "bnsl-1-monotone", "bnsl-2-monotone"])
def test_anchored_coordinates_carry_the_same_law(name):
    spec = load_spec(name)
    plain, anchored = build_model(spec, DATA), build_model(spec, DATA, "anchored")
    names = READ + (READ_BREAKS if spec.breaks else ())
    values_a, values_p = (m.compile_fn(m.replace_rvs_by_values([m[v] for v in names]), inputs=m.value_vars,
                                       on_unused_input="ignore", mode=FAST) for m in (anchored, plain))
    logp_a, logp_p = anchored.compile_logp(mode=FAST), plain.compile_logp(mode=FAST)
    moved = {v.name for v in anchored.value_vars} - {v.name for v in plain.value_vars}
    assert moved == {"log_offset_moved__"} | ({"c_moved__"} if spec.breaks and not spec.monotone else set())
    rng = np.random.default_rng(0)
    start = anchored.initial_point()
    for _ in range(5):
        point_a = {k: v + rng.normal(0, 0.7, np.shape(v)) for k, v in start.items()}
        got = dict(zip(names, values_a(point_a)))
        # The same parameters in plain coordinates: the shared transformed values, log_offset and c as they are.
        point_p = {k: v for k, v in point_a.items() if k not in moved}
        point_p["log_offset"] = got["log_offset"]
        if "c_moved__" in moved:
            point_p["c"] = got["c"]
        for n, v in zip(names, values_p(point_p)):
            np.testing.assert_allclose(v, got[n], rtol=1e-10, atol=1e-12, err_msg=n)
        # d c / d c_moved__ = 1 / (1 - limit_fraction * min(y) / exp(mean log y)), once per break.
        above = 1 - got["limit_fraction"] * np.exp(DATA.log_y.min() - DATA.log_y.mean())
        jacobian = -spec.breaks * np.log(above) if "c_moved__" in moved else 0.0
        np.testing.assert_allclose(logp_a(point_a), logp_p(point_p) + jacobian, rtol=1e-10)


def test_unknown_coordinates_are_named():
    with pytest.raises(ValueError, match="coordinates must be one of"):
        build_model(load_spec("bnsl-1"), DATA, "polar")


@pytest.mark.slow
def test_both_coordinates_forecast_a_simulated_curve_alike():
    """Real NUTS in plain and anchored coordinates: the same law, so the same curve past the data up to
    Monte Carlo error; the anchored coordinates mix better on this curve (measured: smallest bulk ESS
    133 vs 14, 3 vs 87 divergences; quantiles within 2 combined MCSE of each other)."""
    import arviz as az

    import bnsl_bayes
    from bnsl_bayes.simulate import simulated_curves

    curve = simulated_curves(1, seed=5)[0]
    fits = {c: bnsl_bayes.fit(curve.x, curve.y, breaks=1, seed=3, warn=False, coordinates=c)
            for c in ("plain", "anchored")}
    for c, f in fits.items():  # the saved settings say which coordinates
        assert f.idata.posterior.attrs["sampler"].count(f'"coordinates": "{c}"') == 1
    # log of the noise-free curve at the 6 held-out x (1.4x to 7x past the data): (chain, draw, x)
    logs = {c: np.log(f.draws(curve.x_heldout, kind="curve").transpose("chain", "draw", "x").values)
            for c, f in fits.items()}
    for q in (0.05, 0.5, 0.95):
        est = {c: np.quantile(v, q, axis=(0, 1)) for c, v in logs.items()}
        mcse = {c: np.array([float(az.mcse(v[..., i], method="quantile", prob=q)) for i in range(v.shape[-1])])
                for c, v in logs.items()}
        gap = np.abs(est["anchored"] - est["plain"])
        assert np.all(gap <= 3 * np.hypot(mcse["anchored"], mcse["plain"])), (q, gap, mcse)
    d = {c: f.diagnostics() for c, f in fits.items()}
    assert d["anchored"]["ess_bulk_min"] > 3 * d["plain"]["ess_bulk_min"], d
    assert d["anchored"]["divergences"] < d["plain"]["divergences"], d


def test_cli_passes_coordinates_to_the_sampler():
    from bnsl_bayes.cli import build_parser, sampler_options

    parser = build_parser()
    for command in (["fit", "d.csv", "--x", "x", "--y", "y", "--out", "f.nc"], ["fit-many", "d.csv", "--x", "x", "--y", "y",
                                                                "--group", "g", "--store", "s"]):
        assert sampler_options(parser.parse_args([*command, "--coordinates", "anchored"]))["coordinates"] == "anchored"
        assert "coordinates" not in sampler_options(parser.parse_args(command))  # the spec's own setting


def test_plain_fits_keep_the_store_fingerprints_they_had_before_coordinates_existed():
    """A store written before the setting existed (2026-12-03) is still reused, not refitted:
    the fingerprint below is what bnsl_bayes 52419d2 computed for this curve."""
    import pandas as pd

    from bnsl_bayes.many import fingerprint

    x, y, spec = pd.Series([1.0, 2, 4]), pd.Series([3.0, 2, 1.5]), load_spec("bnsl-1")
    assert fingerprint(x, y, spec, 0, {}) == fingerprint(x, y, spec, 0, {"coordinates": "plain"}) == "29be842baf4091eb"
    assert fingerprint(x, y, spec, 0, {"coordinates": "anchored"}) != "29be842baf4091eb"
