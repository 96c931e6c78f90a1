"""Model specs: number of breaks, priors, likelihood and sampler defaults.

A spec is plain data read from TOML (``models/bnsl-1.toml`` ships with the package) so that a
fit can record exactly which model produced it. Priors are overridable from Python::

    spec = load_spec("bnsl-1", priors={"c0": {"dist": "Normal", "mu": 0.5, "sigma": 0.5}})
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

# Distribution names a spec may use, with the parameters each takes. Kept small on purpose:
# every entry must have a PyMC class of the same name and a NumPy sampler in `prior_draws`.
DISTRIBUTIONS = {
    "Normal": ("mu", "sigma"),
    "HalfNormal": ("sigma",),
    "LogNormal": ("mu", "sigma"),
    "StudentT": ("nu", "mu", "sigma"),
    "HalfStudentT": ("nu", "sigma"),
    "Beta": ("alpha", "beta"),
    "Gamma": ("alpha", "beta"),
    "Exponential": ("lam",),
    "Uniform": ("lower", "upper"),
}

# Scale, shape and rate parameters of DISTRIBUTIONS: every one must be positive.
POSITIVE_ARGS = ("sigma", "nu", "alpha", "beta", "lam")

PARAMETERS = ("limit_fraction", "log_offset", "c0", "c", "log_slope_ratio", "delta", "f", "sigma", "nu")
# A monotone spec draws each break's slope change through the ratio of the slopes around it
# (model.py); the other specs draw the change itself. Each spec needs the prior it uses, not the other.
UNUSED_PRIOR = {False: "log_slope_ratio", True: "c"}
# First slopes a monotone spec may use: priors whose support is [0, inf).
NONNEGATIVE = ("HalfNormal", "HalfStudentT", "LogNormal", "Gamma", "Exponential")
LIKELIHOODS = ("normal", "student_t")
BACKENDS = ("nutpie", "pymc", "numpyro")
SAMPLER_KEYS = ("backend", "chains", "tune", "draws", "target_accept", "mass_matrix", "coordinates")


@dataclass(frozen=True)
class ModelSpec:
    """A complete, validated model description. Build with `load_spec`."""

    name: str
    breaks: int
    likelihood: str
    priors: dict
    sampler: dict
    description: str = ""
    noise_floor: float = 0.0
    drift_per_efold: float = 0.0
    monotone: bool = False

    def to_dict(self) -> dict:
        # "monotone" only when set: absent means False, so specs, saved fits and fit_many stores
        # from before the option keep their fingerprints.
        return ({"monotone": True} if self.monotone else {}) | {
            "name": self.name,
            "description": self.description,
            "breaks": self.breaks,
            "likelihood": self.likelihood,
            "noise_floor": self.noise_floor,
            "drift_per_efold": self.drift_per_efold,
            "priors": copy.deepcopy(self.priors),
            "sampler": dict(self.sampler),
        }

    @property
    def parameters(self) -> tuple:
        """Names of the parameters with a prior in this spec (NUTS samples those present in the model)."""
        return tuple(p for p in PARAMETERS if p != UNUSED_PRIOR[self.monotone])

    def model_key(self) -> str:
        """Hash of what changes the compiled model (not the sampler settings, nor the drift past the
        data, which only forecasts use)."""
        d = self.to_dict()
        key = {k: d[k] for k in ("breaks", "likelihood", "noise_floor", "priors", "monotone") if k in d}
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> "ModelSpec":
        unknown = set(d) - {"name", "description", "breaks", "likelihood", "noise_floor", "drift_per_efold",
                            "priors", "sampler", "monotone"}
        if unknown:
            raise ValueError(f"{source}: unknown keys {sorted(unknown)}")
        breaks = d.get("breaks")
        if not isinstance(breaks, int) or isinstance(breaks, bool) or breaks < 0:
            raise ValueError(f"{source}: 'breaks' must be an integer >= 0, got {breaks!r}")
        likelihood = d.get("likelihood", "normal")
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"{source}: 'likelihood' must be one of {LIKELIHOODS}, got {likelihood!r}")
        noise_floor = d.get("noise_floor", 0.0)
        if not isinstance(noise_floor, (int, float)) or isinstance(noise_floor, bool) or not 0 <= noise_floor < 1:
            raise ValueError(f"{source}: 'noise_floor' must be a number in [0, 1), got {noise_floor!r}")
        # Absent in fits saved before it existed: those were made without drift, and still forecast so.
        drift = d.get("drift_per_efold", 0.0)
        if not isinstance(drift, (int, float)) or isinstance(drift, bool) or not 0 <= drift < 10:
            raise ValueError(f"{source}: 'drift_per_efold' must be a number in [0, 10), got {drift!r}")
        monotone = d.get("monotone", False)
        if not isinstance(monotone, bool):
            raise ValueError(f"{source}: 'monotone' must be true or false, got {monotone!r}")
        priors = copy.deepcopy(d.get("priors", {}))
        for pname, prior in priors.items():
            _check_prior(pname, prior, source)
        unused = UNUSED_PRIOR[monotone]
        if unused in priors:
            raise ValueError(
                f"{source}: prior {unused!r} does not apply to a {'monotone' if monotone else 'non-monotone'} spec: "
                + ("its slope changes follow 'log_slope_ratio'" if monotone else
                   "'log_slope_ratio' is for specs with monotone = true; this one draws 'c'"))
        missing = [p for p in PARAMETERS if p not in priors and p != unused]
        if missing:
            raise ValueError(f"{source}: priors missing for {missing}")
        c0_prior = priors["c0"]
        if monotone and not (c0_prior["dist"] in NONNEGATIVE
                             or c0_prior["dist"] == "Uniform" and c0_prior["lower"] >= 0):
            raise ValueError(f"{source}: a monotone spec needs a first slope c0 that cannot be negative: "
                             f"its prior must be one of {NONNEGATIVE} or a Uniform with lower >= 0, "
                             f"got {c0_prior}")
        sampler = dict(d.get("sampler", {}))
        bad = set(sampler) - set(SAMPLER_KEYS)
        if bad:
            raise ValueError(f"{source}: unknown sampler keys {sorted(bad)}; allowed {SAMPLER_KEYS}")
        if sampler.get("backend", "nutpie") not in BACKENDS:
            raise ValueError(f"{source}: sampler backend must be one of {BACKENDS}, got {sampler['backend']!r}")
        return cls(
            name=str(d.get("name", shipped_name(breaks, monotone))),
            breaks=breaks,
            likelihood=likelihood,
            priors=priors,
            sampler=sampler,
            description=str(d.get("description", "")),
            noise_floor=float(noise_floor),
            drift_per_efold=float(drift),
            monotone=monotone,
        )


def _check_prior(pname: str, prior, source: str) -> None:
    if pname not in PARAMETERS:
        raise ValueError(f"{source}: unknown prior {pname!r}; parameters are {PARAMETERS}")
    if not isinstance(prior, dict) or "dist" not in prior:
        raise ValueError(f"{source}: prior {pname!r} must be a table with a 'dist' key, got {prior!r}")
    dist = prior["dist"]
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"{source}: prior {pname!r} uses unknown dist {dist!r}; known: {sorted(DISTRIBUTIONS)}")
    args = {k: v for k, v in prior.items() if k != "dist"}
    if set(args) != set(DISTRIBUTIONS[dist]):
        raise ValueError(
            f"{source}: prior {pname!r} ({dist}) needs parameters {DISTRIBUTIONS[dist]}, got {sorted(args)}"
        )
    for k, v in args.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"{source}: prior {pname!r} parameter {k!r} must be a finite number, got {v!r}")
        # Checked here: PyMC would accept them and nutpie fail later with a Rust backtrace.
        if k in POSITIVE_ARGS and not v > 0:
            raise ValueError(f"{source}: prior {pname!r} ({dist}) parameter {k!r} must be > 0, got {v!r}")
    if dist == "Uniform" and not args["lower"] < args["upper"]:
        raise ValueError(f"{source}: prior {pname!r} (Uniform) needs lower < upper, got {args['lower']!r}, "
                         f"{args['upper']!r}")


def shipped_name(breaks: int, monotone: bool = False) -> str:
    """Name of the shipped spec with `breaks` breaks: "bnsl-1", or "bnsl-1-monotone"."""
    return f"bnsl-{breaks}" + ("-monotone" if monotone else "")


def averaged_specs(breaks, spec, **changes) -> list | None:
    """The specs of a model average, loaded (`load_spec` with `changes`): the shipped bnsl-0, 1 and 2
    for breaks="auto", or the given list of specs; None when breaks and spec name one model."""
    if not (breaks == "auto" or isinstance(spec, (list, tuple))):
        return None
    if breaks == "auto" and spec is not None:
        raise ValueError('breaks="auto" fits the shipped bnsl-0, bnsl-1 and bnsl-2, not with spec; to average other '
                         "specs pass them as spec=[...] without breaks")
    if breaks is not None and breaks != "auto":
        raise ValueError(f"spec=[...] names the specs to average; breaks={breaks!r} cannot apply to all of them: "
                         "give breaks=None with it")
    names = [shipped_name(b) for b in (0, 1, 2)] if breaks == "auto" else list(spec)
    specs = [load_spec(n, **changes) for n in names]
    if len(specs) < 2:
        raise ValueError(f"a model average needs at least two specs, got {names}")
    seen = [s.name for s in specs]
    if len(set(seen)) != len(seen):
        raise ValueError(f"specs to average must differ by name, got {seen}")
    return specs


def specs_to_fit(breaks, spec, **changes) -> list:
    """The specs a run fits, loaded: one (`load_spec`), or those of a model average (`averaged_specs`)."""
    averaged = averaged_specs(breaks, spec, **changes)
    if averaged is not None:
        return averaged
    if isinstance(breaks, str):
        raise ValueError(f"breaks must be an integer >= 0 or 'auto', got {breaks!r}")
    return [load_spec(spec, breaks=breaks, **changes)]


def builtin_specs() -> list[str]:
    """Names of the specs shipped in ``models/``."""
    return sorted(p.name[:-5] for p in resources.files("bnsl_bayes.models").iterdir() if p.name.endswith(".toml"))


def load_spec(spec=None, *, breaks: int | None = None, likelihood: str | None = None,
              priors: dict | None = None, sampler: dict | None = None,
              drift_per_efold: float | None = None) -> ModelSpec:
    """Read a spec by name (``"bnsl-1"``), from a TOML path, or pass a ModelSpec/dict through.

    Without ``spec``, ``breaks`` picks the shipped ``bnsl-{breaks}`` (default ``bnsl-1``); with
    both, the spec must have that many breaks. ``priors`` entries replace whole priors;
    ``sampler`` entries replace single settings; ``likelihood`` and ``drift_per_efold`` replace
    the spec's.

    >>> load_spec("bnsl-2").breaks, load_spec(breaks=0).name
    (2, 'bnsl-0')
    """
    if breaks is not None and (isinstance(breaks, bool) or not isinstance(breaks, (int, np.integer)) or breaks < 0):
        raise ValueError(f"breaks must be an integer >= 0, got {breaks!r}")
    if spec is None:
        spec = shipped_name(int(breaks) if breaks is not None else 1)
    if isinstance(spec, ModelSpec):
        base = spec.to_dict()
        source = spec.name
    elif isinstance(spec, dict):
        base, source = copy.deepcopy(spec), "<dict>"
    else:
        text, source = _read_spec_text(str(spec))
        try:
            base = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{source}: not valid TOML: {e}") from None
    if breaks is not None and breaks != base.get("breaks"):
        raise ValueError(f"spec {source} has {base.get('breaks')} breaks but breaks={breaks} was asked for")
    # A spec changed here is no longer the one its name names: the name says what changed, so output,
    # saved fits and compare() tables tell "bnsl-1" from "bnsl-1+student_t". (Sampler settings change
    # how the posterior is sampled, not the model: they keep the name.)
    changed = []
    if likelihood is not None and likelihood != base.get("likelihood", "normal"):
        changed.append(str(likelihood))
    if drift_per_efold is not None and drift_per_efold != base.get("drift_per_efold"):
        changed.append(f"drift={drift_per_efold:g}" if isinstance(drift_per_efold, (int, float)) else "drift")
    new_priors = sorted(k for k, v in (priors or {}).items() if base.get("priors", {}).get(k) != v)
    if new_priors:
        changed.append("priors:" + ",".join(map(str, new_priors)))
    if likelihood is not None:
        base["likelihood"] = likelihood
    if drift_per_efold is not None:
        base["drift_per_efold"] = drift_per_efold
    if priors:
        base.setdefault("priors", {}).update(copy.deepcopy(priors))
    if sampler:
        base.setdefault("sampler", {}).update(sampler)
    out = ModelSpec.from_dict(base, source)
    return replace(out, name=f"{out.name}+{'+'.join(changed)}") if changed else out


def _read_spec_text(spec: str) -> tuple[str, str]:
    # A shipped name wins over anything in the working directory: a folder called "bnsl-1" (an
    # output or store directory) must not hide the shipped spec.
    path = Path(spec)
    if spec in builtin_specs():
        return (resources.files("bnsl_bayes.models") / f"{spec}.toml").read_text(), f"models/{spec}.toml"
    if path.is_file():
        return path.read_text(), str(path)
    if spec.endswith(".toml") or path.exists():
        raise ValueError(f"model spec file not found: {spec}" + (" (it is a directory)" if path.is_dir() else ""))
    raise ValueError(f"unknown model spec {spec!r}; shipped specs are {builtin_specs()} (or give a .toml path)")
