"""`fit(x, y)` -> `Fit`: the posterior of one curve and everything asked of it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from . import forecast as fc
from .model import CurveData
from .sampling import sample
from .spec import ModelSpec, load_spec
from .validate import check_paired, check_planned_y_err, check_prob, check_targets, check_x_new, check_xy, check_y_err

R_HAT_LIMIT = 1.01
# Chains whose median break positions differ by more than this factor sit in different modes.
MODE_RATIO = 1.5
# A known error above this share of y is warned about: on log y it is taken as y_err / y, the first
# order of log(y + e) - log(y); at half of y, a normal error e makes y + e negative 2% of the time,
# where the log has no value at all.
ROUGH_RELATIVE_ERROR = 0.5


class Fit:
    """A fitted BNSL posterior. Build with `bnsl_bayes.fit` or `bnsl_bayes.load`.

    Intervals everywhere are central (equal-tailed) posterior intervals: the `prob` interval runs
    from the (1-prob)/2 to the (1+prob)/2 quantile. Forecasts, break positions and reach take
    their quantiles of log y or log x and exponentiate them; `summary` uses ArviZ on the natural
    parameters (d, not log d). Forecast, break and summary quantiles interpolate between draws on
    the scale they are taken on; `reach` does not (its quantiles are draws, so one falling among
    draws that never reach the target stays inf). Usually they agree to the last digits; where the
    posterior has a gap between modes (a
    break in one of two places) the two medians can differ by the width of that gap: trust
    `break_positions` for x, and read its interval, not the median alone, there.

    Every answer (forecasts, breaks, reach, summary, LOO) is computed from `posterior`: the sampled
    chains with equal weight by default, or, for a fit made with ``stack_chains=True``, mixed by their
    chain-stacking weights (see `forecast.chain_stacking_weights`), which drops chains stuck in modes
    that predict the data clearly worse. The raw chains always stay in `idata.posterior`, and
    `diagnostics()` reports on them.
    """

    # The InferenceData group every answer is computed from (`prior.PriorFit` reads "prior"), and
    # the word answers and plots use for it.
    group = "posterior"
    source = "posterior"

    def __init__(self, idata):
        self.idata = idata
        draws = idata[self.group]
        attrs = draws.attrs
        self.spec = ModelSpec.from_dict(json.loads(attrs["spec"]), source="saved fit")
        self.seed = int(attrs["seed"])
        # Noise, drift and chain resampling draw from streams keyed by seed, data and spec
        # (`forecast.stream_key`). Fits saved before that key existed carry none and keep the
        # seed-keyed streams they were made with, so they load back to the same forecasts.
        key = attrs.get("stream_key")
        self.stream_key = self.seed if key is None else int(key, 16)
        self.x_name = attrs.get("x_name", "x")
        self.y_name = attrs.get("y_name", "y")
        n_chain = draws.sizes["chain"]
        self.chain_weights = np.asarray(json.loads(attrs.get("chain_weights", "null")) or [1 / n_chain] * n_chain)
        if self.chain_weights.shape != (n_chain,):
            raise ValueError(f"saved fit: chain_weights has {self.chain_weights.size} entries for {n_chain} chains")
        stacking = attrs.get("chain_stacking_weights")
        self.chain_stacking_weights = None if stacking is None else np.asarray(json.loads(stacking))
        if np.allclose(self.chain_weights, 1 / n_chain):
            self._index = None  # equal weights: the chains as sampled
            self.posterior = draws
        else:
            self._index = fc.stacked_index(self.chain_weights, draws.sizes["draw"], self.stream_key)
            self.posterior = fc.take_draws(draws, self._index)

    def loo_idata(self):
        """InferenceData of the draws answers come from, with their pointwise log-likelihood (PSIS-LOO)."""
        import arviz as az

        if self._index is None:
            return self.idata
        kept = np.flatnonzero(self.chain_weights > 0)
        if np.allclose(self.chain_weights[kept], self.chain_weights[kept[0]]):
            # Chain stacking keeps a subset of chains with equal weights: LOO reads those chains' draws
            # once each. The resampled mix repeats them, which leaves elpd alone but skews the Pareto k
            # diagnostics and ArviZ's k threshold, both of which depend on the number of distinct draws.
            return az.InferenceData(posterior=self.idata.posterior.isel(chain=kept),
                                    log_likelihood=self.idata.log_likelihood.isel(chain=kept))
        return az.InferenceData(posterior=self.posterior,
                                log_likelihood=fc.take_draws(self.idata.log_likelihood, self._index))

    def posterior_predictive(self):
        """InferenceData for ArviZ's posterior predictive checks of the fitted data: the draws LOO reads
        (`loo_idata`: posterior and pointwise log-likelihood), the observed data, and
        posterior_predictive "y", one replicate of every fitted measurement per draw (the noise-free
        curve plus the model's noise, widened by the point's known error if the fit had errors).

        So ArviZ answers "does the law fit the curve I gave it?": ``az.plot_ppc(pp)``, and
        ``az.loo_pit(pp, y="y")`` / ``az.plot_loo_pit(pp, y="y")``, where each point's LOO-PIT is the
        share of its leave-one-out predictive below it: near-uniform for a law that fits, piled at 0
        or 1 where points fall outside what the rest of the curve predicts (a break or a bend the
        law does not follow, a noise level too small).

        >>> pp = fit.posterior_predictive(); az.loo_pit(pp, y="y")  # doctest: +SKIP
        """
        import arviz as az

        base = self.loo_idata()
        se = fc.log_y_se(self.y, self.y_err)
        rep = fc.exp_draws(fc.log_predictive_draws(base.posterior, self.x, self.stream_key, None, se)).values
        # y alone, x a coordinate along obs: ArviZ's checks compare every observed variable with its replicate
        at = {"x": ("obs", self.x)}
        return az.InferenceData(
            posterior=base.posterior, log_likelihood=base.log_likelihood,
            posterior_predictive=xr.Dataset({"y": (("chain", "draw", "obs"), rep)}, coords=at),
            observed_data=xr.Dataset({"y": ("obs", self.y)}, coords=at))

    # data --------------------------------------------------------------------------------------
    @property
    def x(self) -> np.ndarray:
        return self.idata.observed_data["x"].values

    @property
    def y(self) -> np.ndarray:
        return self.idata.observed_data["y"].values

    @property
    def y_err(self) -> np.ndarray | None:
        """The known standard errors of y the fit was given (`fit(..., y_err=)`), or None."""
        obs = self.idata.observed_data
        return obs["y_err"].values if "y_err" in obs else None

    @property
    def breaks(self) -> int:
        return self.spec.breaks

    def __repr__(self) -> str:
        d = self.diagnostics()
        return (f"<Fit {self.spec.name}: {len(self.x)} points, x in [{self.x.min():.4g}, {self.x.max():.4g}], "
                f"{d['draws']} draws, r_hat_max={d['r_hat_max']:.3f}, divergences={d['divergences']}>")

    # posterior curves --------------------------------------------------------------------------
    @property
    def drift(self) -> fc.Drift:
        """The spec's drift past the fitted window (`forecast.Drift`), which every forecast includes."""
        return fc.Drift(float(self.x.min()), float(self.x.max()), self.spec.drift_per_efold, self.stream_key)

    def _log_draws(self, x_new, kind: str, log_y_se=None, y_err=None) -> xr.DataArray:
        """log y draws at x_new; `log_y_se` (known standard errors of log y of measurements at x_new,
        as backtests score them) or `y_err` (errors of measurements still to be made, `forecast`)
        widens the predictive noise as in the likelihood."""
        x_new = check_x_new(x_new)
        if y_err is not None:
            if kind != "predictive":
                raise ValueError("y_err is the error of a measurement: it applies to kind='predictive', "
                                 "not to the noise-free curve")
            y_err = check_planned_y_err(y_err, len(x_new))
        if kind == "predictive":
            return fc.log_predictive_draws(self.posterior, x_new, self.stream_key, self.drift, log_y_se, y_err)
        if kind == "curve":
            return fc.log_curve_draws(self.posterior, x_new, self.drift)
        raise ValueError(f"kind must be 'predictive' or 'curve', got {kind!r}")

    def draws(self, x_new, kind: str = "predictive", y_err=None) -> xr.DataArray:
        """Posterior draws of y at x_new, dims (chain, draw, x): the chains as sampled, or for a fit
        made with stack_chains=True and unequal weights, one chain holding the weighted mix of all draws.

        kind="predictive" includes observation noise (what a new run would measure);
        kind="curve" is the noise-free scaling law. Past the fitted window both include the spec's
        drift from the law (`Fit.drift`), so bands widen with distance from the data.
        Noise and drift come from streams keyed by the fit's seed, data and spec
        (`forecast.stream_key`): the same fit always gives the same draws, and fits of other data
        or under another spec draw independently, even with the same seed.
        `y_err`: the standard errors the measurements at x_new will have (see `forecast`).
        """
        return fc.exp_draws(self._log_draws(x_new, kind, y_err=y_err))

    def forecast(self, x_new, prob: float = 0.9, kind: str = "predictive", y_err=None) -> pd.DataFrame:
        """Posterior forecast at x_new: columns x, median, mean, lower, upper.

        lower/upper bound the central (equal-tailed) `prob` interval. By default the posterior
        predictive (observation noise included); kind="curve" for the noise-free law. Both include
        the drift past the fitted window (`Fit.drift`; spec key drift_per_efold, 0 turns it off).

        y_err: the standard error the measurement at each x_new will have, in y units (one number,
        one per x, or a callable of y such as `lambda y: np.sqrt(y * (1 - y) / 2000)` for an error
        rate read off 2000 test examples): the band is then that of the value you will read, the
        model's noise widened by the measurement's as in the likelihood (`fit(..., y_err=)`), with
        each draw's error on log y taken relative to that draw's curve (`forecast.planned_log_y_se`).
        Without it, the band is that of a new run's y with the model's noise only.

        >>> fit.forecast([1e3, 1e4], prob=0.9)  # doctest: +SKIP
        """
        ly = self._log_draws(x_new, kind, y_err=y_err)
        prob = check_prob(prob)
        return fc.summarize(ly, prob)

    def log_predictive_density(self, x_new, y_new, y_err=None) -> np.ndarray:
        """log posterior predictive density of each observed y_new at x_new (density of y).

        y_err: known standard errors of the y_new measurements (as `fit`'s), which widen each
        point's noise as in the likelihood; without them a new point carries the model's noise only.
        """
        x_new, y_new = check_xy(x_new, y_new, "x_new", "y_new", min_distinct_x=1)
        errs = None if y_err is None else check_y_err(y_err, len(y_new), "y_err")
        return fc.log_predictive_density(self.posterior, x_new, y_new, self.drift, fc.log_y_se(y_new, errs))

    # breaks and targets ------------------------------------------------------------------------
    def break_positions(self, prob: float = 0.9) -> pd.DataFrame:
        """Where each break sits, in x units: columns break, median, lower, upper, prob_beyond_data,
        slope_change, slope_change_lower, slope_change_upper.

        prob_beyond_data is the posterior probability that the break lies past the largest x
        fitted: a break the data cannot have seen yet. slope_change (median and central `prob`
        interval) is c_i, the change of log-log slope at the break: positive, the curve falls
        faster after it; negative, flatter (or rising). A break mostly past the data whose slope
        change spans zero widely is the prior speaking, not a bend the data predict.
        """
        prob = check_prob(prob)
        cols = ["break", "median", "lower", "upper", "prob_beyond_data",
                "slope_change", "slope_change_lower", "slope_change_upper"]
        if self.breaks == 0:
            return pd.DataFrame(columns=cols)
        q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
        log_d, c = self.break_draws("log_d"), self.break_draws("c")
        lo, med, hi = np.quantile(log_d, q, axis=1)
        c_lo, c_med, c_hi = np.quantile(c, q, axis=1)
        beyond = (log_d > np.log(self.x.max())).mean(axis=1)
        return pd.DataFrame({"break": np.arange(1, self.breaks + 1), "median": np.exp(med),
                             "lower": np.exp(lo), "upper": np.exp(hi), "prob_beyond_data": beyond,
                             "slope_change": c_med, "slope_change_lower": c_lo, "slope_change_upper": c_hi})[cols]

    def break_draws(self, name: str) -> np.ndarray:
        """All draws of a per-break parameter ("log_d", "c", "f"), shape (break, draws)."""
        return self.posterior[name].stack(s=("chain", "draw")).transpose("break", "s").values

    def reach_range(self, x_max: float | None = None, x_from: float | None = None) -> tuple[float, float]:
        """(start, end) of the x range `reach` searches: from x_from (default the smallest fitted x)
        to x_max (default 1000 x the largest fitted x), finite positive numbers with start < end."""
        x_lo = float(self.x.min()) if x_from is None else float(x_from)
        if not (np.isfinite(x_lo) and x_lo > 0):
            raise ValueError(f"x_from={x_lo} must be a finite number > 0")
        x_max = float(x_max) if x_max is not None else 1e3 * float(self.x.max())
        if not (np.isfinite(x_max) and x_max > x_lo):  # inf would make a grid of nan, read as "reached"
            where = "the smallest fitted x" if x_from is None else "x_from"
            raise ValueError(f"x_max={x_max} must be a finite number above {where} ({x_lo})")
        return x_lo, x_max

    def reach_grid(self, x_max: float | None = None, x_from: float | None = None, n_grid: int = 2000) -> np.ndarray:
        """The x grid `reach_draws` evaluates the curves on: geometric over `reach_range`, exact ends."""
        x_lo, x_max = self.reach_range(x_max, x_from)
        grid = np.geomspace(x_lo, x_max, n_grid)
        grid[0], grid[-1] = x_lo, x_max  # exact ends: a target reached at once answers x_min itself
        return grid

    def reach_draws(self, target, x_max: float | None = None, n_grid: int = 2000,
                    direction: str | None = None, x_from: float | None = None) -> np.ndarray:
        """Per-draw x at which the noise-free curve first reaches `target` (inf: not within x_max).

        target: one level (returns shape (draws,)) or a sequence of levels (shape (levels, draws));
        the curve grid is evaluated once for all of them.
        direction: "down" (first x where the curve is at or below the target: loss, error) or "up"
        (at or above it). Default: the way the posterior median curve moves across the searched
        part of the fitted window (for a curve that falls and rises again inside it, say which you
        mean: a level below the valley is "down" and never reached, but "up" and reached at once).
        A target already passed inside the window is reached there, not at x_max. The search starts at x_from (default the smallest fitted x) and answers the first x
        from there: to time the rise of a double-descent curve that starts above the target, start
        the search in the valley (x_from at its bottom, direction="up"); from the smallest x the
        curve is already above the target and the answer is that x.
        """
        targets = check_targets(target)
        grid = self.reach_grid(x_max, x_from, n_grid)
        curves = self._log_draws(grid, "curve").values.reshape(-1, len(grid))
        xs = fc.reach_from_curves(curves, grid, targets, direction, float(self.x.max()))
        return xs if np.ndim(target) else xs[0]

    def reach(self, target, prob: float = 0.9, x_max: float | None = None,
              direction: str | None = None, x_from: float | None = None):
        """When the curve reaches `target`: the posterior of that x.

        Returns median, lower, upper (central `prob` interval, inf where fewer draws than needed
        reach the target), prob_reached (share of draws reaching it by x_max), prob_before_data
        (share of draws already at the target at the smallest fitted x: for those the answer is
        "x_min or earlier", so an interval ending at x_min is cut off there, not exact) and x_max
        searched (default 1000 x the largest fitted x): a Series for one target, a DataFrame with
        one row per target for a sequence of them. direction: "down" (loss, error: first x at or below the
        target), "up" (at or above it) or None: the way the curve moves across the fitted data.
        x_from: where the search starts (default the smallest fitted x; `reach_draws` says how to
        time the rise of a double-descent curve); prob_before_data is then the share already there.
        Draws that never reach the target count as x = inf, so when prob_reached is just above q
        the q-quantile sits among the largest x any draw reaches and moves with x_max: read prob_reached
        first (a target just above the fitted floor is reached or not depending on the drift past
        the data, whose sign is unknown).
        """
        prob = check_prob(prob)
        x_min, x_max = self.reach_range(x_max, x_from)
        xs = self.reach_draws(target, x_max, direction=direction, x_from=x_from)
        return fc.reach_table(xs, target, prob, x_min, x_max)

    def run_value(self, x_run, x_target, prob: float = 0.9, readings: int = 5, y_err=None,
                  workers: int | None = None, client=None) -> pd.DataFrame:
        """Which run to make next: how much a measurement at each x_run would narrow the band of the
        curve at each x_target, expected over what it may read (`design.run_value`: `readings`
        refits with the point added, per x_run; in local processes with `workers`, on Dask with `client`)."""
        from .design import run_value

        return run_value(self, x_run, x_target, prob, readings, y_err, workers, client)

    # checks ------------------------------------------------------------------------------------
    def diagnostics(self) -> dict:
        """Convergence checks: r_hat_max (and the parameter it belongs to), ess_bulk_min, ess_tail_min,
        divergences, draws, chains, and for break models each chain's median break positions."""
        import arviz as az

        post = self.idata.posterior
        names = [v for v in self.spec.parameters if v in post]
        rhat = az.rhat(post[names])
        ess_b = az.ess(post[names], method="bulk")
        ess_t = az.ess(post[names], method="tail")
        def mn(ds):  # smallest finite value; NaN (not an All-NaN warning) when a parameter never moved
            vals = np.concatenate([np.ravel(ds[v].values) for v in ds.data_vars])
            vals = vals[~np.isnan(vals)]
            return float(vals.min()) if vals.size else float("nan")

        # (name, r_hat) of the worst parameter, break parameters named per break: "delta[1]"
        worst_name, worst_rhat = max(((f"{v}[{i + 1}]" if rhat[v].ndim else v, float(r))
                                      for v in rhat.data_vars for i, r in enumerate(np.atleast_1d(rhat[v].values))),
                                     key=lambda t: -np.inf if np.isnan(t[1]) else t[1])
        out = {
            "r_hat_max": worst_rhat,
            "r_hat_worst": worst_name,
            "ess_bulk_min": mn(ess_b),
            "ess_tail_min": mn(ess_t),
            "divergences": int(self.idata.sample_stats["diverging"].values.sum()),
            "chains": int(post.sizes["chain"]),
            # Weight of each chain in every answer (equal unless fitted with stack_chains=True), and how
            # many chains chain stacking finds predicting the data clearly worse (None: not computed).
            "chain_weights": [round(float(w), 4) for w in self.chain_weights],
            "chains_predicting_worse": (None if self.chain_stacking_weights is None
                                        else int((self.chain_stacking_weights == 0).sum())),
            "draws": int(post.sizes["chain"] * post.sizes["draw"]),
        }
        # Do the chains agree on what the user asks? Parameters the data leave loose (a break's
        # sharpness past the data, the limit) can mix slowly while the curve itself agrees: on the
        # benchmark's 12 quick curves (context points, 2026-12-01) all had parameter r_hat > 1.01,
        # and 4 of them curve r_hat <= 1.01 (7 <= 1.012) from the data to 100x past it. So the
        # r_hat of the noise-free log curve is reported on its own, at both ends of the data and
        # 10x and 100x past its largest x.
        x_hi = float(self.x.max())
        at = np.array([float(self.x.min()), x_hi, 10 * x_hi, 100 * x_hi])
        r_curve = az.rhat(xr.Dataset({"c": fc.log_curve_draws(post, at)}))["c"].values
        worst = int(np.nanargmax(r_curve)) if np.isfinite(r_curve).any() else 0
        out["r_hat_curve_max"] = float(r_curve[worst])
        out["r_hat_curve_at"] = float(at[worst])
        if self.breaks:
            # Chains that disagree on where the break is are the usual cause of a high r_hat here:
            # one chain puts it inside the data, another past it (several modes, not a tuning problem).
            med = np.exp(post["log_d"].median("draw").values)  # (chain, break)
            out["break_median_by_chain"] = [[float(f"{v:.4g}") for v in row] for row in med]
        return out

    def warn_if_unconverged(self) -> None:
        d = self.diagnostics()
        problems = []
        if d["divergences"]:
            problems.append(f"{d['divergences']} divergent transitions")
        remedies = []
        if d["chains"] < 2:
            problems.append("one chain: r_hat cannot be computed, so convergence is unchecked")
            remedies.append("run 2 or more chains (chains=4)")
        elif not d["r_hat_max"] <= R_HAT_LIMIT:
            problems.append(f"r_hat_max={d['r_hat_max']:.3f} > {R_HAT_LIMIT} (at {d['r_hat_worst']})")
            agree = d["r_hat_curve_max"] <= R_HAT_LIMIT
            if np.isfinite(d["r_hat_curve_max"]):  # nan with one chain: nothing to compare
                problems.append(f"the noise-free curve's r_hat up to 100x the largest x is {d['r_hat_curve_max']:.3f} "
                                f"(worst at x = {d['r_hat_curve_at']:.4g}): "
                                + ("the chains agree on the curve there, the slow mixing is in parameters the "
                                   "data leave loose" if agree else "forecasts that far differ between chains"))
            med = np.asarray(d.get("break_median_by_chain", []), float)
            if med.size:
                by_chain = ", ".join("/".join(f"{v:.3g}" for v in row) for row in med)
                problems.append(f"median break position by chain: {by_chain}")
            if med.size and np.any(med.max(axis=0) > MODE_RATIO * med.min(axis=0)):
                # Measured on 12 benchmark curves: target_accept 0.95 with tune 1000, a low-rank mass
                # matrix and a common optimum as start all left r_hat > 1.01 (the modes are real), so
                # the first remedy offered for chains that disagree is to look at the modes.
                remedies.append("the chains found different explanations of the data (e.g. a break inside vs "
                                "past it): compare numbers of breaks with bnsl_bayes.compare (CLI: fit --breaks "
                                "auto), run more chains (chains=8; CLI --chains 8) to see how often each mode "
                                "is found")
            else:
                agree = "agree on the break but " if med.size else ""
                remedies.append(f"the chains {agree}mix slowly (worst: {d['r_hat_worst']}): "
                                "sample longer (tune=2000, draws=2000; CLI --tune 2000 --draws 2000)")
        if d["divergences"]:
            remedies.append("raise target_accept (e.g. fit(..., target_accept=0.99); CLI --target-accept 0.99)")
        if problems:
            worse = d["chains_predicting_worse"]
            if worse:
                problems.append(f"{worse} of {d['chains']} chains sit in modes that predict the data clearly "
                                "worse by PSIS-LOO (fit(..., stack_chains=True) drops them; intervals get narrower)")
            warnings.warn(
                f"{self.spec.name} fit: {'; '.join(problems)}. Remedies: {'; '.join(remedies)}.",
                RuntimeWarning,
                stacklevel=3,
            )

    def warn_if_rising(self) -> None:
        """Warn when the fitted curve (for a monotone spec, which cannot rise: the data) rises across
        the data: usually an accuracy fitted by mistake.

        The law falls toward a floor a >= 0 as x grows; fitted to a quantity that improves upwards
        (accuracy, a score) it can only follow it with a negative slope and forecasts it rising
        without bound (accuracies above 1). A rising stretch of a non-monotonic curve (the rise in
        double descent) is a legitimate reason to ignore the warning.
        """
        if self.spec.monotone:
            # A monotone law cannot rise, so it would fit rising data flat without a sign: look at the
            # data instead (kept sorted by x), the median y of the first and of the last third.
            k = max(1, len(self.x) // 3)
            ends, what = (np.median(self.y[:k]), np.median(self.y[-k:])), f"{self.y_name} data rise"
        else:
            ends = np.exp(np.median(fc.log_curve_draws(self.posterior, [self.x.min(), self.x.max()]).values
                                    .reshape(-1, 2), axis=0))
            what = f"fitted {self.y_name} rises"
        if ends[1] > ends[0]:
            warnings.warn(
                f"{self.spec.name} fit: the {what} across the data ({ends[0]:.4g} at "
                f"{self.x_name} = {self.x.min():.4g} to {ends[1]:.4g} at {self.x.max():.4g}). The law falls "
                f"toward a floor as {self.x_name} grows: for an accuracy or a score, fit the error "
                f"(1 - accuracy) instead. A rising stretch of a non-monotonic curve (double descent) is fine.",
                RuntimeWarning, stacklevel=3)

    def summary(self, prob: float = 0.9) -> pd.DataFrame:
        """Posterior summary of the natural parameters: a, log_b, c0, c, d, f, sigma (and nu; and for a
        monotone spec log_slope_ratio, from which its c is derived).

        Columns median, mad and the central `prob` interval (eti_*), unrounded: sigma, the noise sd
        of log y above the spec's floor, is often below 1e-3, which rounding would show as 0.
        """
        import arviz as az

        post = self.posterior
        out = xr.Dataset({"a": np.exp(post["log_a"]), "log_b": post["log_b"], "c0": post["c0"]})
        if self.breaks:
            out = out.assign(c=post["c"], d=np.exp(post["log_d"]), f=post["f"])
            if "log_slope_ratio" in post:
                out = out.assign(log_slope_ratio=post["log_slope_ratio"])
        out = out.assign(sigma=post["sigma"])
        if "nu" in post:
            out = out.assign(nu=post["nu"])
        prob = check_prob(prob)  # else ArviZ names its own hdi_prob, which the caller never passed
        return az.summary(out, hdi_prob=prob, kind="stats", stat_focus="median", round_to="none")

    def save(self, path) -> None:
        """Write the fit to netCDF atomically (temporary file, then rename)."""
        from .io import save_fit

        save_fit(self, path)


def make_idata(idata, data_x, data_y, spec: ModelSpec, seed: int, sampler: dict, x_name: str, y_name: str,
               stack_chains: bool = False, data_y_err=None):
    """Attach observed data, pointwise log-likelihood and metadata to sampled InferenceData."""
    import arviz as az

    ll = fc.pointwise_log_density(idata.posterior, data_x, data_y, log_y_se=fc.log_y_se(data_y, data_y_err))
    ll = ll.rename("y").to_dataset()
    stacking = fc.chain_stacking_weights(ll["y"].values)
    n_chain = len(stacking)
    weights = stacking if stack_chains else np.full(n_chain, 1.0 / n_chain)
    # A shallow copy: the draws are shared, the attributes written below are this fit's own, so an
    # InferenceData passed in (a fit's, reattached to other data) keeps its metadata.
    out = az.InferenceData(posterior=idata.posterior.copy(), sample_stats=idata.sample_stats,
                           observed_data=observed(data_x, data_y, data_y_err), log_likelihood=ll)
    out.posterior.attrs.update(metadata(spec, seed, data_x, data_y, x_name, y_name, data_y_err))
    out.posterior.attrs.update({
        "sampler": json.dumps(sampler),
        "chain_weights": json.dumps([float(w) for w in weights]),
        "chain_stacking_weights": json.dumps([float(w) for w in stacking]),
    })
    return out


def observed(data_x, data_y, data_y_err=None) -> xr.Dataset:
    """The curve's data as a saved fit (or prior) holds it: the window every answer is relative to."""
    err = {} if data_y_err is None else {"y_err": ("obs", data_y_err)}
    return xr.Dataset({"x": ("obs", data_x), "y": ("obs", data_y), **err})


def metadata(spec: ModelSpec, seed: int, data_x, data_y, x_name: str, y_name: str, data_y_err=None) -> dict:
    """Attributes of the draws' group that `Fit` (and `load`) need to rebuild the answers."""
    from . import __version__
    from .io import FORMAT_VERSION

    spec_json = json.dumps(spec.to_dict())
    return {
        "bnsl_bayes_version": __version__,
        "format_version": FORMAT_VERSION,
        "spec": spec_json,
        "seed": int(seed),
        "stream_key": format(fc.stream_key(seed, data_x, data_y, spec_json, data_y_err), "032x"),
        "x_name": x_name,
        "y_name": y_name,
    }


def curve_input(x, y, x_name: str | None, y_name: str | None, y_err=None):
    """(x, y, x_name, y_name, y_err) of one curve as every model-building entry point takes it: names
    from the arguments, else from pandas Series, else "x"/"y"; the data checked (`check_xy`,
    `check_y_err`: errors name the column and row) and sorted by x, then y (then y_err), so that row
    order never changes a result. y_err stays None when not given."""
    x_name = str(x_name or getattr(x, "name", None) or "x")
    y_name = str(y_name or getattr(y, "name", None) or "y")
    xs, ys = check_xy(x, y, x_name, y_name)
    if y_err is None:
        order = np.lexsort((ys, xs))
        return xs[order], ys[order], x_name, y_name, None
    err_name = str(getattr(y_err, "name", None) or "y_err")
    check_paired(y, y_err, y_name, err_name)
    errs = check_y_err(y_err, len(ys), err_name)
    relative = fc.log_y_se(ys, errs)
    rough = np.flatnonzero(relative > ROUGH_RELATIVE_ERROR)
    if rough.size:
        i = int(rough[0])
        warnings.warn(f"column {err_name!r}: the error at row {i} is {relative[i]:.0%} of {y_name!r} "
                      f"({len(rough)} point(s) above {ROUGH_RELATIVE_ERROR:.0%}); errors enter on log y as y_err / y, "
                      "a first-order approximation that is rough that far out", RuntimeWarning, stacklevel=3)
    order = np.lexsort((errs, ys, xs))
    return xs[order], ys[order], x_name, y_name, errs[order]


def fit(x, y, breaks: int | None = None, seed: int = 0, *, y_err=None, spec=None, priors: dict | None = None,
        likelihood: str | None = None, drift_per_efold: float | None = None, x_name: str | None = None,
        y_name: str | None = None, progress: bool = False, warn: bool = True, stack_chains: bool = False,
        **sampler) -> Fit:
    """Fit a BNSL with `breaks` breaks to one curve and return its posterior as a `Fit`.

    x, y: arrays, lists or pandas Series (repeated x, e.g. seeds, are fine). Order does not
    matter: the pairs are sorted by x (then y) before sampling, so any row order gives the same fit.
    breaks: number of breaks (default 1, or the spec's); with `spec` as well, they must agree.
    y_err: known standard error of each y (same units as y; e.g. sqrt(p (1 - p) / n) for an error
    rate p measured on n test examples), or None. Point j's noise on log y is then
    sqrt(noise^2 + (y_err_j / y_j)^2): a noisy measurement pulls the curve less, and the model's
    own noise is the scatter beyond it. Forecasts are of a new run's y with the model's noise,
    unless `Fit.forecast(..., y_err=)` gives the error the new measurement will have.
    spec: a shipped spec name, a TOML path or a ModelSpec (default ``f"bnsl-{breaks}"``).
    priors / likelihood / drift_per_efold: overrides of the spec (drift_per_efold: sd of log y's
    drift from the law per e-fold past the data, `forecast.Drift`; 0 forecasts the law alone).
    sampler: chains, tune, draws, target_accept, backend ("nutpie" default, "pymc", "numpyro"),
    mass_matrix ("diag", "low_rank"), coordinates ("plain", "anchored": the same model in coordinates
    that mix better but forecast no better on the benchmark's context points, see model.py).
    stack_chains: weight the chains by chain stacking (Yao, Vehtari & Gelman 2022) instead of equally.
    Off by default: on the benchmark's context points (benchmarks/context_validation.py, targets
    never read) it lowered the held-out log density, because dropping chains also drops modes that
    extrapolate differently. The stacking weights are computed and reported either way.

    >>> f = fit([1e6, 2e6, 4e6, 8e6, 1.6e7], [0.9, 0.8, 0.72, 0.66, 0.62], breaks=0)  # doctest: +SKIP
    >>> f.forecast([3.2e7])  # doctest: +SKIP
    """
    xs, ys, x_name, y_name, errs = curve_input(x, y, x_name, y_name, y_err)
    spec = load_spec(spec, breaks=breaks, priors=priors, likelihood=likelihood, drift_per_efold=drift_per_efold)
    with warnings.catch_warnings():
        # PyTensor warns, once per process, that it found no BLAS to link: nothing here multiplies
        # matrices (nutpie runs the model through numba), so the warning would only alarm.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
        idata, settings = sample(spec, CurveData.from_xy(xs, ys, errs), seed=seed, progress=progress, **sampler)
        result = Fit(make_idata(idata, xs, ys, spec, seed, settings, x_name, y_name, stack_chains, errs))
    if warn:
        result.warn_if_unconverged()
        result.warn_if_rising()
    return result


def refit_options(original: Fit) -> dict:
    """The options that make `fit` repeat `original`'s model on other data: spec, seed, sampler
    settings and chain weighting (names aside)."""
    if original.source != "posterior":
        raise ValueError(f"a {original.source} sample was not fitted, so there is no fit to repeat on other data")
    if "family_member" in original.posterior.attrs:
        curve = json.loads(original.posterior.attrs["family_member"])["curve"]
        raise ValueError(f"this fit is curve {curve!r} of a family fit (fit_family): refitted alone it would lose "
                         "what the other curves taught it; refit the family with the new data instead")
    return {"spec": original.spec, "seed": original.seed, "stack_chains": original._index is not None,
            **json.loads(original.posterior.attrs["sampler"])}


def refit(original: Fit, x, y, y_err=None) -> Fit:
    """`original`'s model on other data (`refit_options`), with its names and without warnings (the
    caller reports the diagnostics it needs)."""
    return fit(x, y, y_err=y_err, x_name=original.x_name, y_name=original.y_name, warn=False,
               **refit_options(original))
