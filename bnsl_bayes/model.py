"""(curve data, spec) -> PyMC model.

Everything that depends on the data enters as `pm.Data`, including the window constants that
scale the priors, so one compiled model serves every curve of the same spec: nutpie swaps the
data in with `with_data` and a second fit costs a few seconds of sampling instead of a 13-15 s recompile.

Parameterisation (why: NUTS sees O(1), weakly correlated coordinates whatever the units of x):
  z        = (log x - centre) / half_range         data window -> [-1, 1]
  a        = limit_fraction * min(y)               the limit lies below every observation
  log b    = mean(log y) + log_offset + c0 * centre, so log_offset is log(y - a) at the centre
                                                   relative to mean(log y), before the breaks' terms
                                                   (exactly so with no break or a break far past it)
  log d_i  = centre + half_range * delta_i         break positions, z units
  c_i                                              slope change; with `monotone` derived from
                                                   log slope ratios so no segment rises
  f_i                                              sharpness, natural units: the e-folds of x over
                                                   which the slope changes, a property of the curve,
                                                   not of the window it was observed through
and log y ~ Normal(log_curve, sigma) (or Student-t), i.e. multiplicative noise on y. With known
standard errors of the measurements (`fit(..., y_err=)`), point j's scale is sqrt(sigma^2 + se_j^2)
with se_j = y_err_j / y_j, the standard error on log y to first order: sigma is then the scatter
beyond the measurement error (run-to-run variation, the law's misfit). For the Student-t likelihood
that widens the t's scale rather than convolving it with a normal: a t whose scale holds both.

Coordinates NUTS moves in (`coordinates`, a sampler setting: the law above is the same either way):
  "plain"     the parameters above.
  "anchored"  log_offset and the slope changes c are moved along the ridges the data leave
              (benchmarks/context_validation.py, variant "anchored"). The data pin the level of
              the curve at the window's centre, y_c ~ exp(mean log y); what is left for the excess
              above the limit there is y_c - a = y_c (1 - limit_fraction * r), r = min(y) / y_c, so
              log_offset slides with log(1 - limit_fraction * r) and with every break's term at the
              centre: NUTS moves the offset with those taken out instead. Log-log slopes of the
              excess are those of y times y / (y - a) = 1 / (1 - limit_fraction * r) near the
              centre, so a limit close to min(y) stretches every slope change; NUTS moves c divided
              by that factor. The priors stay on log_offset and c themselves (a Potential, with
              the Jacobian of the rescaling), so forward sampling (`prior`) uses "plain".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .forecast import log_y_se
from .forms import log_curve, log_excess
from .spec import ModelSpec

# Priors whose support is the whole real line can carry the ordered transform for n >= 2 breaks.
_UNBOUNDED = ("Normal", "StudentT")
COORDINATES = ("plain", "anchored")


@dataclass(frozen=True)
class CurveData:
    """One validated curve in the form the model consumes."""

    log_x: np.ndarray
    log_y: np.ndarray
    # Known standard error of each log y (y_err / y), or None: the model then has no such term, and
    # a fit without errors is the same computation as before errors could be given.
    log_y_se: np.ndarray | None = None

    @classmethod
    def from_xy(cls, x: np.ndarray, y: np.ndarray, y_err: np.ndarray | None = None) -> "CurveData":
        return cls(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), log_y_se(y, y_err))

    @property
    def centre(self) -> float:
        return float((self.log_x.max() + self.log_x.min()) / 2)

    @property
    def half_range(self) -> float:
        return float((self.log_x.max() - self.log_x.min()) / 2)

    def shared(self) -> dict:
        """Values of every pm.Data in the model, by name."""
        return {
            "log_x": self.log_x,
            "log_y": self.log_y,
            "centre": np.asarray(self.centre),
            "half_range": np.asarray(self.half_range),
            "log_y_min": np.asarray(self.log_y.min()),
            "log_y_mean": np.asarray(self.log_y.mean()),
        } | ({} if self.log_y_se is None else {"log_y_se": self.log_y_se})


def prior_distribution(pm, prior: dict):
    """(PyMC distribution class, its parameters) for one spec prior such as {"dist": "Normal", "mu": 0, ...}."""
    return getattr(pm, prior["dist"]), {k: v for k, v in prior.items() if k != "dist"}


def _prior(pm, name: str, prior: dict, **kwargs):
    dist, params = prior_distribution(pm, prior)
    return dist(name, **params, **kwargs)


def _moved(pm, name: str, prior: dict, *, shift=0.0, scale=1.0, size: int | None = None, dims=None):
    """`name` = shift + scale * (a free coordinate), with `prior` on `name` itself.

    The free coordinate is Flat and the prior enters as a Potential together with the log Jacobian
    of the rescaling, so the joint law of the model's parameters is the prior's, in any coordinates.
    Its name ends in "__", which marks a sampler coordinate that fits do not keep (`sampling._tidy`).
    """
    import pytensor.tensor as pt

    free = pm.Flat(f"{name}_moved__", dims=dims)
    value = pm.Deterministic(name, shift + scale * free, dims=dims)
    dist, params = prior_distribution(pm, prior)
    law = dist.dist(**params, **({} if size is None else {"shape": size}))
    pm.Potential(f"{name}_prior", pt.sum(pm.logp(law, value)) + (size or 1) * pt.log(scale))
    return value


def build_model(spec: ModelSpec, data: CurveData, coordinates: str = "plain"):
    """The PyMC model for `spec` on `data`; `coordinates` (see the module docstring) are the
    coordinates NUTS moves in, not a different model.

    >>> from bnsl_bayes.spec import load_spec
    >>> m = build_model(load_spec("bnsl-1"), CurveData.from_xy([1, 2, 4, 8], [4, 3, 2.5, 2.2]))
    >>> sorted(v.name for v in m.free_RVs)
    ['c', 'c0', 'delta', 'f', 'limit_fraction', 'log_offset', 'sigma']
    """
    import pymc as pm
    import pytensor.tensor as pt

    if coordinates not in COORDINATES:
        raise ValueError(f"coordinates must be one of {COORDINATES}, got {coordinates!r}")
    anchored = coordinates == "anchored"
    n = spec.breaks
    pr = spec.priors
    with pm.Model(coords={"break": np.arange(1, n + 1)}) as model:
        d = {k: pm.Data(k, v) for k, v in data.shared().items()}
        centre, half = d["centre"], d["half_range"]

        limit_fraction = _prior(pm, "limit_fraction", pr["limit_fraction"])
        if anchored:
            # 1 - a / y_c, the share of the curve's level at the centre that lies above the limit
            above_limit = 1.0 - limit_fraction * pt.exp(d["log_y_min"] - d["log_y_mean"])
        else:  # created here, in the order fits made before "anchored" existed
            log_offset = _prior(pm, "log_offset", pr["log_offset"])
        c0 = _prior(pm, "c0", pr["c0"])
        sigma = _prior(pm, "sigma", pr["sigma"])
        # Observation noise on log y never goes below the spec's floor: no measured scaling curve
        # is reproducible to better than ~0.1%, and a noiseless curve would otherwise squeeze the
        # posterior into a needle that NUTS cannot traverse.
        noise = pm.Deterministic("noise", spec.noise_floor + sigma)

        log_a = pm.Deterministic("log_a", pt.log(limit_fraction) + d["log_y_min"])
        c = log_d = f = None
        if n > 0:
            if spec.monotone:
                # Slope after break i = c0 * exp(g_1 + ... + g_i): every segment falls (c0 >= 0),
                # and a break scales the slope by a factor whose log has the prior, so a break past
                # the data can steepen or flatten the curve but never turn it upward. c, the slope
                # change, is then derived, and everything downstream reads it as for other specs.
                g = _prior(pm, "log_slope_ratio", pr["log_slope_ratio"], dims="break")
                slopes = pt.concatenate([pt.atleast_1d(c0), c0 * pt.exp(pt.cumsum(g))])
                c = pm.Deterministic("c", slopes[1:] - slopes[:-1], dims="break")
            elif anchored:
                c = _moved(pm, "c", pr["c"], scale=1.0 / above_limit, size=n, dims="break")
            else:
                c = _prior(pm, "c", pr["c"], dims="break")
            delta_kw = {}
            if n >= 2:
                if pr["delta"]["dist"] not in _UNBOUNDED:
                    raise ValueError(
                        f"spec {spec.name}: with {n} breaks the 'delta' prior must be one of {_UNBOUNDED} "
                        "(break positions are kept ordered)"
                    )
                delta_kw = {
                    "transform": pm.distributions.transforms.ordered,
                    "initval": np.linspace(-0.5, 1.5, n),
                }
            delta = _prior(pm, "delta", pr["delta"], dims="break", **delta_kw)
            if spec.monotone and n >= 2:
                # The slope at x is s_0 (1 - w_1) + s_1 (w_1 - w_2) + ... + s_n w_n with w_i the
                # logistic weight of break i; every term is >= 0 only if w_1 >= w_2 >= ... for all
                # x, i.e. ordered breaks of one sharpness. With their own sharpness, a steepening
                # break followed by a sharper flattening one makes the curve rise between them
                # (29 of 2010 ordered prior draws did), so monotone specs share f between breaks.
                f_shared = _prior(pm, "f_shared", pr["f"])
                f = pm.Deterministic("f", pt.ones(n) * f_shared, dims="break")
            else:
                f = _prior(pm, "f", pr["f"], dims="break")
            log_d = pm.Deterministic("log_d", centre + half * delta, dims="break")
        if anchored:
            # minus the breaks' terms at the centre: log_excess with log b = c0 = 0 is just those
            shift = pt.log(above_limit) - (log_excess(centre, 0.0, 0.0, c, log_d, f) if n > 0 else 0.0)
            log_offset = _moved(pm, "log_offset", pr["log_offset"], shift=shift)
        log_b = pm.Deterministic("log_b", d["log_y_mean"] + log_offset + c0 * centre)

        mu = log_curve(d["log_x"], log_a, log_b, c0, c, log_d, f)
        scale = noise if data.log_y_se is None else pt.sqrt(noise**2 + d["log_y_se"] ** 2)
        if spec.likelihood == "student_t":
            nu = _prior(pm, "nu", pr["nu"])
            pm.StudentT("obs", nu=nu, mu=mu, sigma=scale, observed=d["log_y"])
        else:
            pm.Normal("obs", mu=mu, sigma=scale, observed=d["log_y"])
    return model
