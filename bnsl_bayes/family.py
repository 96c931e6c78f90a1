"""`fit_family`: related curves fitted jointly, the shape of their laws partially pooled.

Curves of one family (one task at several model sizes, one architecture on several datasets, one
training recipe at several settings) tend to share the shape of their law, its first slope c0, how
much the slope changes at a break (c) and how sharply (f), while each has its own level, limit,
break position and noise. Fitted one at a time, a curve with few points learns its slope from its
own points only; fitted as a family, what the other curves show about the shape reaches it, as much
as the curves agree (partial pooling, Gelman & Hill 2007, ch. 12).

For each pooled parameter theta (on log f for the sharpness) and curve j:
    theta_j = centre + spread * z_j,   z_j ~ Normal(0, 1)          (non-centred)
    centre ~ the spec's own prior on theta  (f: Normal(mu, sigma) of its LogNormal(mu, sigma))
    spread ~ HalfNormal(SPREAD[theta])
A spread near 0 makes the curves share theta; a large one leaves each curve to its own data. The
other parameters keep the spec's priors, curve by curve, on each curve's own window (model.py).

Every curve of a fitted family is a `Fit` (`family[name]`): forecasts, break positions, reach,
plots and saving work on it as on any fit, from its slice of the joint posterior.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from .fit import R_HAT_LIMIT, Fit, curve_input, make_idata, metadata, observed
from .forms import log_curve
from .model import CurveData, _prior, prior_distribution
from .sampling import cached_compile, sample_model
from .spec import load_spec
from .validate import check_prob

POOLABLE = ("c0", "c", "f")
# HalfNormal scale of the between-curve spread: c0 and c in log-log slope per e-fold, f on log f.
# Half the scale of the spec's prior on one curve, so the spread's prior allows curves as different
# as the single-curve prior does, while putting its mode at "the same shape".
SPREAD = {"c0": 0.5, "c": 0.5, "f": 0.75}
# The family's own sampler coordinates end in "__", which fits do not keep (`sampling._tidy`).
_Z = "{}_z__"


def default_pool(breaks: int) -> tuple:
    return POOLABLE if breaks else ("c0",)


def check_pool(pool, breaks: int, spread) -> tuple[tuple, dict]:
    """(pool, spread) checked: known names, break parameters only with breaks, positive spreads."""
    pool = default_pool(breaks) if pool is None else tuple([pool] if isinstance(pool, str) else pool)
    unknown = [p for p in pool if p not in POOLABLE]
    if unknown:
        raise ValueError(f"pool: {unknown} cannot be pooled; poolable parameters are {list(POOLABLE)}")
    if not breaks and any(p in ("c", "f") for p in pool):
        raise ValueError(f"pool: {[p for p in pool if p in ('c', 'f')]} belong to breaks, and the spec has none")
    if len(set(pool)) != len(pool):
        raise ValueError(f"pool names a parameter twice: {list(pool)}")
    given = dict(spread or {})
    extra = [k for k in given if k not in pool]
    if extra:
        raise ValueError(f"spread: {extra} are not pooled (pool={list(pool)})")
    for k, v in given.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"spread[{k!r}] must be a positive number, got {v!r}")
    return tuple(p for p in POOLABLE if p in pool), {p: float(given.get(p, SPREAD[p])) for p in POOLABLE if p in pool}


def family_data(datas: list[CurveData]) -> dict:
    """Values of every pm.Data of the family model: points of all curves in one vector, `curve` the
    curve each point belongs to, and each curve's window constants."""
    out = {
        "log_x": np.concatenate([d.log_x for d in datas]),
        "log_y": np.concatenate([d.log_y for d in datas]),
        "curve": np.concatenate([np.full(len(d.log_x), j, dtype="int64") for j, d in enumerate(datas)]),
    }
    for k in ("centre", "half_range", "log_y_min", "log_y_mean"):
        out[k] = np.array([float(d.shared()[k]) for d in datas])
    if datas[0].log_y_se is not None:
        out["log_y_se"] = np.concatenate([d.log_y_se for d in datas])
    return out


def _pooled(pm, name: str, prior: dict, spread: float, dims: tuple):
    """theta_j = centre + spread * z_j (on log f for "f"), the centre under the spec's own prior."""
    import pytensor.tensor as pt

    pop = dims[1:] or None
    if name == "f":
        if prior["dist"] != "LogNormal":
            raise ValueError(f"pooling f needs its prior to be LogNormal, the spec's is {prior['dist']}")
        centre = pm.Normal("f_centre", mu=prior["mu"], sigma=prior["sigma"], dims=pop)
    else:
        dist, params = prior_distribution(pm, prior)
        centre = dist(f"{name}_centre", **params, dims=pop)
    sd = pm.HalfNormal(f"{name}_spread", sigma=spread, dims=pop)
    value = centre + sd * pm.Normal(_Z.format(name), 0.0, 1.0, dims=dims)
    return pm.Deterministic(name, pt.exp(value) if name == "f" else value, dims=dims)


def build_family_model(spec, datas: list[CurveData], names, pool: tuple, spread: dict):
    """The PyMC model of a family: the spec's model per curve (model.py, plain coordinates), with
    the parameters in `pool` partially pooled across curves (module docstring)."""
    import pymc as pm
    import pytensor.tensor as pt

    n, pr = spec.breaks, spec.priors
    with pm.Model(coords={"curve": list(names), "break": np.arange(1, n + 1)}) as model:
        d = {k: pm.Data(k, v) for k, v in family_data(datas).items()}
        j = d["curve"]

        def own(name, dims=("curve",), **kw):
            return (_pooled(pm, name, pr[name], spread[name], dims) if name in pool
                    else _prior(pm, name, pr[name], dims=dims, **kw))

        limit_fraction = own("limit_fraction")
        log_offset = own("log_offset")
        c0 = own("c0")
        sigma = own("sigma")
        noise = pm.Deterministic("noise", spec.noise_floor + sigma, dims="curve")
        log_a = pm.Deterministic("log_a", pt.log(limit_fraction) + d["log_y_min"], dims="curve")
        c = log_d = f = None
        if n:
            both = ("curve", "break")
            c = own("c", both)
            ordered = {}
            if n >= 2:  # break positions ordered within each curve, as in the single-curve model
                ordered = {"transform": pm.distributions.transforms.ordered,
                           "initval": np.tile(np.linspace(-0.5, 1.5, n), (len(datas), 1))}
            delta = own("delta", both, **ordered)
            f = own("f", both)
            log_d = pm.Deterministic("log_d", d["centre"][:, None] + d["half_range"][:, None] * delta, dims=both)
        log_b = pm.Deterministic("log_b", d["log_y_mean"] + log_offset + c0 * d["centre"], dims="curve")

        at = (lambda v: None if v is None else v[j])  # noqa: E731  each point's own curve's parameters
        mu = log_curve(d["log_x"], log_a[j], log_b[j], c0[j], at(c), at(log_d), at(f))
        scale = noise[j] if "log_y_se" not in d else pt.sqrt(noise[j] ** 2 + d["log_y_se"] ** 2)
        if spec.likelihood == "student_t":
            nu = own("nu")
            pm.StudentT("obs", nu=nu[j], mu=mu, sigma=scale, observed=d["log_y"])
        else:
            pm.Normal("obs", mu=mu, sigma=scale, observed=d["log_y"])
    return model


def _curve_name(key) -> str:
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


class Family:
    """A joint posterior of related curves (`fit_family`; `bnsl_bayes.load` reads a saved one).

    `family[name]` is that curve's `Fit`; `family.names` lists them; `population()` summarises the
    pooled parameters (their centre and their spread across curves); `diagnostics()` checks the
    joint sampler run; `save(path)` writes it (netCDF, atomically).
    """

    def __init__(self, idata):
        self.idata = idata
        attrs = idata.posterior.attrs
        info = json.loads(attrs["family"])
        self.names = list(info["curves"])
        self.pool = tuple(info["pool"])
        self.spread = dict(info["spread"])
        self.group = info["group"]
        obs = idata.observed_data
        which = obs["curve_index"].values
        post = idata.posterior.drop_vars("curve", errors="ignore")
        sampler = json.loads(attrs["sampler"])
        spec = load_spec(json.loads(attrs["spec"]))
        seed = int(attrs["seed"])
        self.spec = spec
        self.fits: dict[str, Fit] = {}
        for k, name in enumerate(self.names):
            rows = which == k
            own = post[[v for v in post.data_vars if "curve" in post[v].dims]].isel(curve=k)
            own.attrs = {}  # the member's own metadata comes from make_idata; the family's stays here
            err = obs["y_err"].values[rows] if "y_err" in obs else None
            member = make_idata(_Joint(own, idata.sample_stats), obs["x"].values[rows], obs["y"].values[rows],
                                spec, seed, sampler, attrs["x_name"], attrs["y_name"], data_y_err=err)
            member.posterior.attrs["family_member"] = json.dumps({"curve": name, **info})
            self.fits[name] = Fit(member)

    def __getitem__(self, name) -> Fit:
        key = _curve_name(name)
        if key not in self.fits:
            raise KeyError(f"no curve {key!r} in this family; its curves are {self.names}")
        return self.fits[key]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __repr__(self) -> str:
        d = self.diagnostics()
        return (f"<Family {self.spec.name}: {len(self)} curves, pooled {list(self.pool)}, "
                f"r_hat_max={d['r_hat_max']:.3f}, divergences={d['divergences']}>")

    def population(self, prob: float = 0.9) -> pd.DataFrame:
        """One row per pooled parameter (and break): the median and central `prob` interval of its
        centre across curves and of its spread (sd between curves; for f both on log f)."""
        prob = check_prob(prob)
        q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
        post = self.idata.posterior
        rows = []
        for p in self.pool:
            centre, spread = post[f"{p}_centre"], post[f"{p}_spread"]
            breaks = centre["break"].values if "break" in centre.dims else [None]
            for b in breaks:
                sel = {} if b is None else {"break": b}
                cq = np.quantile(centre.sel(sel).values, q)
                sq = np.quantile(spread.sel(sel).values, q)
                rows.append({"parameter": "log f" if p == "f" else p, "break": b,
                             "centre_median": cq[1], "centre_lower": cq[0], "centre_upper": cq[2],
                             "spread_median": sq[1], "spread_lower": sq[0], "spread_upper": sq[2]})
        return pd.DataFrame(rows)

    def diagnostics(self) -> dict:
        """Joint sampler checks: r_hat_max (and where), ess_bulk_min over every parameter of every
        curve and the pooled ones, divergences, draws, and each curve's own r_hat_max."""
        import arviz as az

        post = self.idata.posterior
        names = [v for v in post.data_vars if v in self.spec.parameters
                 or v.endswith(("_centre", "_spread"))]
        rhat = az.rhat(post[names])
        ess = az.ess(post[names], method="bulk")
        worst, worst_at = -np.inf, None
        for v in rhat.data_vars:
            arr = rhat[v]
            if np.isfinite(arr.values).any() and float(arr.max()) > worst:
                worst = float(arr.max())
                where = {k: arr[k].values[i]
                         for k, i in zip(arr.dims, np.unravel_index(int(np.nanargmax(arr.values)), arr.shape))}
                worst_at = v + "".join(f"[{w}]" for w in where.values())
        ess_min = min(float(np.nanmin(ess[v].values)) for v in ess.data_vars)
        return {"r_hat_max": worst, "r_hat_worst": worst_at, "ess_bulk_min": ess_min,
                "divergences": int(self.idata.sample_stats["diverging"].values.sum()),
                "chains": int(post.sizes["chain"]), "draws": int(post.sizes["chain"] * post.sizes["draw"]),
                "r_hat_max_by_curve": {n: round(max(float(rhat[v].sel(curve=n).max()) for v in rhat.data_vars
                                                    if "curve" in rhat[v].dims), 4) for n in self.names}}

    def warn_if_unconverged(self) -> None:
        d = self.diagnostics()
        problems = []
        if d["divergences"]:
            problems.append(f"{d['divergences']} divergent transitions")
        if not d["r_hat_max"] <= R_HAT_LIMIT:
            problems.append(f"r_hat_max={d['r_hat_max']:.3f} > {R_HAT_LIMIT} (at {d['r_hat_worst']})")
        if problems:
            worst = sorted(d["r_hat_max_by_curve"].items(), key=lambda kv: -kv[1])[:3]
            problems.append("worst curves: " + ", ".join(f"{n} (r_hat {r:.3f})" for n, r in worst))
            # Chains do not cross between modes (a break inside the data or past it), and a joint
            # fit multiplies the modes of its curves: on the benchmark's IC families (curves with a
            # break in two places) r_hat stayed far above 1 (benchmarks/family_check.py).
            warnings.warn(f"{self.spec.name} family fit of {len(self)} curves: {'; '.join(problems)}. Remedies: "
                          "if a curve's chains put its break in different places (family[name].diagnostics()"
                          "['break_median_by_chain']), its posterior has several modes, which a joint fit "
                          "multiplies: fit that curve alone or leave it out of the family; otherwise sample "
                          "longer (tune=2000, draws=2000) and raise target_accept (0.95-0.99).",
                          RuntimeWarning, stacklevel=3)

    def save(self, path) -> None:
        """Write the joint posterior to netCDF atomically; `bnsl_bayes.load` reads it back as a Family."""
        from .io import atomic_write

        atomic_write(path, lambda tmp: self.idata.to_netcdf(tmp, engine="h5netcdf"))


class _Joint:
    """The two groups of a sampled InferenceData that `make_idata` reads, for one curve's slice."""

    def __init__(self, posterior, sample_stats):
        self.posterior, self.sample_stats = posterior, sample_stats


def fit_family(data: pd.DataFrame, x: str, y: str, group, breaks: int | None = None, seed: int = 0, *,
               y_err: str | None = None, pool=None, spread: dict | None = None, spec=None,
               priors: dict | None = None, likelihood: str | None = None, drift_per_efold: float | None = None,
               progress: bool = False, warn: bool = True, **sampler) -> Family:
    """Fit related curves jointly, pooling the shape of their law; one curve per value of `group`.

    data: long-format DataFrame with columns `x`, `y`, the group column(s) and, optionally, `y_err`
    (known standard errors of y, as in `fit`). At least 2 curves, each checked as `fit` checks one
    (errors name the curve).
    pool: the parameters shared partially across curves, among c0 (first slope), c (slope change
    at each break) and f (sharpness); default all three (c0 alone for 0 breaks).
    spread: HalfNormal scale of each pooled parameter's spread between curves (default SPREAD).
    breaks, seed, spec, priors, likelihood, drift_per_efold and the sampler options: as in `fit`
    (plain coordinates only; monotone specs are not supported here).

    >>> fam = fit_family(df, x="n_embd", y="loss", group="setting")  # doctest: +SKIP
    >>> fam["setting3"].forecast([384]); fam.population()           # doctest: +SKIP
    """
    import arviz as az

    from .many import curve_parts

    spec = load_spec(spec, breaks=breaks, priors=priors, likelihood=likelihood, drift_per_efold=drift_per_efold)
    if spec.monotone:
        raise ValueError(f"spec {spec.name}: monotone specs cannot be fitted as a family (their slope changes "
                         "are derived, not sampled); fit their curves one by one")
    if sampler.get("coordinates", "plain") != "plain":
        raise ValueError("a family is sampled in plain coordinates only")
    pool, spread = check_pool(pool, spec.breaks, spread)
    parts = curve_parts(data, x, y, group, y_err)
    if len(parts) < 2:
        raise ValueError(f"a family needs at least 2 curves; column(s) {group!r} name {len(parts)}")
    names, xs, ys, errs, datas = [], [], [], [], []
    for key, part in parts:
        name = _curve_name(key)
        try:
            cx, cy, _, _, ce = curve_input(part[x], part[y], x, y, None if y_err is None else part[y_err])
        except ValueError as e:
            raise ValueError(f"curve {name!r}: {e}") from None
        for store, value in ((names, name), (xs, cx), (ys, cy), (errs, ce)):
            store.append(value)
        datas.append(CurveData.from_xy(cx, cy, ce))
    shared = family_data(datas)
    key = ("family", spec.model_key(), pool, tuple(sorted(spread.items())), len(datas), y_err is not None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)
        idata, settings = sample_model(
            spec, lambda _: cached_compile(key, lambda: build_family_model(spec, datas, names, pool, spread), shared),
            lambda _: build_family_model(spec, datas, names, pool, spread),
            seed=seed, progress=progress, **sampler)
    post = idata.posterior.assign_coords(curve=names)  # a reused compiled model carries its first family's names
    which = np.concatenate([np.full(len(cx), k) for k, cx in enumerate(xs)])
    all_err = None if y_err is None else np.concatenate(errs)
    obs = observed(np.concatenate(xs), np.concatenate(ys), all_err).assign(curve_index=("obs", which))
    post.attrs.update(metadata(spec, seed, obs["x"].values, obs["y"].values, x, y, all_err))
    post.attrs.update({
        "sampler": json.dumps(settings),
        "family": json.dumps({"curves": names, "pool": list(pool), "spread": spread,
                              "group": group if isinstance(group, str) else list(group)}),
    })
    joint = az.InferenceData(posterior=post, sample_stats=idata.sample_stats, observed_data=obs)
    family = Family(joint)
    # The joint pointwise log-likelihood, point by point in the table's order (PSIS-LOO of the family).
    joint.add_groups(log_likelihood=xr.Dataset({"y": xr.concat(
        [family.fits[n].idata.log_likelihood["y"] for n in names], dim="obs")}))
    if warn:
        family.warn_if_unconverged()
    return family

