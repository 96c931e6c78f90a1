"""NUTS sampling with a compile cache.

nutpie (default) compiles a model once per spec; later curves of the same spec reuse it through
`with_data`, so a second fit pays for sampling only (median 1.7–2.6 s on the benchmark, depending on the machine's load), not a recompile.
PyMC's own NUTS and NumPyro are available on request for cross-checks.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from .model import COORDINATES, CurveData, build_model
from .spec import ModelSpec

BACKENDS = ("nutpie", "pymc", "numpyro")
# Fewest kept draws per chain that give a usable fit: with 1, chain stacking raised IndexError (in
# ArviZ's PSIS); with 2 or 3, ArviZ warned All-NaN slice and its diagnostics were NaN.
MIN_DRAWS = 4
_COMPILED: dict[str, object] = {}
_LOCK = threading.Lock()


def compiled_model(spec: ModelSpec, data: CurveData, coordinates: str = "plain"):
    """The nutpie-compiled model for `spec` in `coordinates`, with `data` swapped in (compiled on first use)."""
    key = (spec.model_key(), coordinates, data.log_y_se is not None)  # known errors: another graph
    return cached_compile(key, lambda: build_model(spec, data, coordinates), data.shared())


def cached_compile(key, build, shared: dict):
    """The nutpie model compiled from `build()` once per `key` in this process, with the `shared`
    data swapped in: a model whose data all enter as pm.Data serves every dataset of its shape."""
    import nutpie

    with _LOCK:
        compiled = _COMPILED.get(key)
        if compiled is None:
            compiled = nutpie.compile_pymc_model(build())
            _COMPILED[key] = compiled
    # A graph keeps only the data it uses (bnsl-0 has no break, so no half_range): swap in just those.
    return compiled.with_data(**{k: v for k, v in shared.items() if k in compiled.shared_data})


def check_sampler_settings(settings: dict, cores) -> None:
    """Reject settings the samplers would crash on or silently misuse, naming the option
    (`fit_many` calls it before any curve, so a typo cannot turn every curve into a failure).

    (nutpie panics with tune=0 and returns an empty posterior with draws=0; see MIN_DRAWS for 1-3.)
    """
    def whole(name, value, least):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")

    # `settings` is sampler_settings' output: every key is there.
    if settings["backend"] not in BACKENDS:
        raise ValueError(f"unknown backend {settings['backend']!r}; use {', '.join(map(repr, BACKENDS))}")
    if settings["mass_matrix"] not in ("diag", "low_rank"):
        raise ValueError(f"mass_matrix must be 'diag' or 'low_rank', got {settings['mass_matrix']!r}")
    if settings["coordinates"] not in COORDINATES:
        raise ValueError(f"coordinates must be one of {', '.join(map(repr, COORDINATES))}, "
                         f"got {settings['coordinates']!r}")
    whole("chains", settings["chains"], 1)
    whole("draws", settings["draws"], MIN_DRAWS)
    whole("tune", settings["tune"], 1)
    if cores is not None:
        whole("cores", cores, 1)
    ta = settings["target_accept"]
    if isinstance(ta, bool) or not isinstance(ta, (int, float, np.floating)) or not 0 < ta < 1:
        raise ValueError(f"target_accept must be a number strictly between 0 and 1, got {ta!r}")


def sampler_settings(spec: ModelSpec, overrides: dict) -> dict:
    """The settings a fit samples with: built-in defaults, then the spec's sampler table, then the
    caller's overrides (None leaves a setting alone)."""
    settings = {"backend": "nutpie", "chains": 4, "tune": 600, "draws": 500, "target_accept": 0.9,
                "mass_matrix": "diag",
                "coordinates": "plain"}
    settings.update(spec.sampler)
    unknown = set(overrides) - set(settings)
    if unknown:
        raise TypeError(f"unknown sampler option(s) {sorted(unknown)}; allowed: {sorted(settings)}")
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return settings


def sample(spec: ModelSpec, data: CurveData, *, seed: int, progress: bool = False, cores: int | None = None,
           **overrides):
    """Sample the posterior; returns arviz InferenceData with posterior and sample_stats only.

    `overrides` may set chains, tune, draws, target_accept, backend, mass_matrix, coordinates (else
    the spec's sampler table).
    """
    return sample_model(spec, lambda coordinates: compiled_model(spec, data, coordinates),
                        lambda coordinates: build_model(spec, data, coordinates),
                        seed=seed, progress=progress, cores=cores, **overrides)


def sample_model(spec: ModelSpec, nutpie_model, pymc_model, *, seed: int, progress: bool = False,
                 cores: int | None = None, **overrides):
    """`sample` for any model of `spec`: `nutpie_model(coordinates)` gives the compiled nutpie model,
    `pymc_model(coordinates)` the PyMC model (the other backends); each is called only when used.
    Returns (InferenceData with posterior and sample_stats, the settings used)."""
    settings = sampler_settings(spec, overrides)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    check_sampler_settings(settings, cores)
    backend = settings.pop("backend")
    if backend != "nutpie" and settings["mass_matrix"] != "diag":
        # PyMC's and NumPyro's NUTS adapt a diagonal mass matrix here; record what was used.
        settings["mass_matrix"] = "diag"
    # The options both samplers share; each backend adds its own names for seed, mass matrix, progress.
    common = {k: settings[k] for k in ("draws", "tune", "chains", "target_accept")}
    common["cores"] = cores or min(settings["chains"], 2)
    if backend == "nutpie":
        import nutpie

        idata = nutpie.sample(nutpie_model(settings["coordinates"]), **common, seed=int(seed), save_warmup=False,
                              low_rank_modified_mass_matrix=settings["mass_matrix"] == "low_rank",
                              progress_bar=progress)
    elif backend in ("pymc", "numpyro"):
        import pymc as pm

        logging.getLogger("pymc").setLevel(logging.ERROR)
        with pymc_model(settings["coordinates"]):
            idata = pm.sample(**common, random_seed=int(seed), nuts_sampler=backend, progressbar=progress,
                              compute_convergence_checks=False, idata_kwargs={"log_likelihood": False})
    else:  # unreachable: check_sampler_settings refused it
        raise AssertionError(backend)
    return _tidy(idata), {"backend": backend, **settings}


def _tidy(idata):
    """Keep posterior and sample_stats; drop the sampler's coordinates (transformed ones, which nutpie
    names `*__`, and the free ones of `coordinates="anchored"`, `model._moved`)."""
    import arviz as az

    post = idata.posterior
    post = post[[v for v in post.data_vars if not v.endswith("__")]]
    stats = idata.sample_stats
    keep = [v for v in ("diverging", "tree_depth", "depth", "energy", "step_size", "n_steps", "lp", "logp",
                        "mean_tree_accept", "acceptance_rate") if v in stats]
    return az.InferenceData(posterior=post, sample_stats=stats[keep])
