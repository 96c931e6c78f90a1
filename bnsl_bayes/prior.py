"""`prior(x, y)` -> `PriorFit`: what a spec's priors say about a curve before its data are fitted.

The priors are scaled to the data window (model.py: break positions in z units, the offset
relative to mean log y, the limit below the smallest y), so "what do my priors say?" has an
answer only for a given curve. `prior` draws the spec's parameters forward from the same PyMC
model `fit` samples, on the same window, and returns them as a `PriorFit`: the same forecasts,
break positions, reach, summary and plots as a `Fit`, computed from prior draws. Set side by side
with the fit it shows what the data taught (a break interval that barely narrowed is the prior
speaking) and catches priors that put the curve somewhere absurd before any sampling is spent.
"""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np

from .fit import Fit, curve_input, metadata, observed
from .model import CurveData, build_model
from .spec import load_spec


class PriorFit(Fit):
    """Independent draws from a spec's prior on one curve's data window (one chain).

    Answers as a `Fit` does (`forecast`, `draws`, `break_positions`, `reach`, `summary`,
    `log_predictive_density`, `save`; `bnsl_bayes.load` reads it back) from the prior draws, with the
    spec's drift past the window as in a fit's forecasts. It has no sampler to diagnose and no
    likelihood to compare: `diagnostics` and LOO refuse by name.
    """

    group = "prior"
    source = "prior"

    def __repr__(self) -> str:
        n = self.posterior.sizes["chain"] * self.posterior.sizes["draw"]
        return (f"<PriorFit {self.spec.name}: {n} prior draws on the window of {len(self.x)} points, "
                f"x in [{self.x.min():.4g}, {self.x.max():.4g}]>")

    def diagnostics(self) -> dict:
        raise ValueError("a prior sample has no sampler diagnostics: its draws are independent by construction")

    def loo_idata(self):
        raise ValueError("a prior sample has no posterior log-likelihood: compare and stacking weights need fits "
                         "(average priors with explicit weights=)")

    def posterior_predictive(self):
        raise ValueError("a prior sample fitted no data, so there is nothing to check against it: "
                         "`draws` gives its prior predictive; check a fit with fit.posterior_predictive()")

    def warn_if_unconverged(self) -> None:  # independent draws: nothing to warn about
        return None


def prior(x, y, breaks: int | None = None, seed: int = 0, *, spec=None, priors: dict | None = None,
          likelihood: str | None = None, drift_per_efold: float | None = None, draws: int = 4000,
          x_name: str | None = None, y_name: str | None = None) -> PriorFit:
    """Draw from the prior `fit(x, y, ...)` would use, on the window of this curve.

    Takes the arguments of `fit` that define the model (x, y, breaks, spec, priors, likelihood,
    drift_per_efold, names) and `draws`, the number of independent prior draws. y enters only
    through the window constants the priors are scaled by (smallest and mean log y); the
    likelihood is not used, so nothing is fitted. Reproducible with `seed`.

    >>> p = prior([1e6, 2e6, 4e6, 8e6], [0.9, 0.8, 0.72, 0.66], breaks=1)  # doctest: +SKIP
    >>> p.break_positions()   # median at the largest x: half the prior mass is past the data  # doctest: +SKIP
    """
    import arviz as az
    import pymc as pm

    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    xs, ys, x_name, y_name, _ = curve_input(x, y, x_name, y_name)
    spec = load_spec(spec, breaks=breaks, priors=priors, likelihood=likelihood, drift_per_efold=drift_per_efold)
    model = build_model(spec, CurveData.from_xy(xs, ys))
    names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
    pymc_log = logging.getLogger("pymc")
    level = pymc_log.level
    pymc_log.setLevel(logging.WARNING)  # not PyMC's "Sampling: [...]" line on every call: nothing is sampled by MCMC
    try:
        with warnings.catch_warnings(), model:
            warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
            idata = pm.sample_prior_predictive(draws=int(draws), var_names=names, random_seed=seed)
    finally:
        pymc_log.setLevel(level)
    draws_ds = idata.prior
    if spec.breaks >= 2:
        draws_ds = _ordered_breaks(draws_ds, model)
    draws_ds.attrs = metadata(spec, seed, xs, ys, x_name, y_name)
    draws_ds.attrs["chain_weights"] = json.dumps([1.0])
    return PriorFit(az.InferenceData(prior=draws_ds, observed_data=observed(xs, ys)))


def _ordered_breaks(draws_ds, model):
    """Forward sampling ignores the ordered transform the model puts on break positions. Its density
    is the product of the same per-break prior restricted to delta_1 < delta_2 < ..., which is the law
    of the sorted draws (spec priors are scalars, so the breaks are exchangeable); c and f are drawn
    independently of delta, so sorting delta alone keeps the joint prior."""
    delta = np.sort(draws_ds["delta"].values, axis=-1)
    data = {k: float(model[k].get_value()) for k in ("centre", "half_range")}
    out = draws_ds.copy()
    out["delta"] = (draws_ds["delta"].dims, delta)
    out["log_d"] = (draws_ds["log_d"].dims, data["centre"] + data["half_range"] * delta)
    return out
