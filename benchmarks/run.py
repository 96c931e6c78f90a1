"""Run the extrapolation benchmark and write benchmarks/results/*.json and BENCHMARKS.md.

    python -m benchmarks.run               # all 132 curves (IC 72, NMT 5, LM 5, BB 10, DD 16, Nano 24)
    python -m benchmarks.run --quick       # 2 curves per domain, small sampler, default + option specs + point fit
    python -m benchmarks.run --render-only # re-summarise the per-curve JSON, re-render the markdown
    python -m benchmarks.run --resume      # continue an interrupted full run from its partial JSON

(`python benchmarks/run.py ...` works too.) On the same curves, in the same process:

(a) "default": our default model, `bnsl_bayes.fit` defaults (1 break, the spec's sampler settings),
    fitted through `bnsl_bayes.many.fit_many`;
(b) "averaged": 0, 1 and 2 breaks fitted the same way (the 1-break fits are those of (a)), combined
    by LOO stacking (`bnsl_bayes.compare`); the LOO pick (best elpd_loo) is recorded too;
(c) "pointfit": `bnsl_bayes.pointfit.point_fit` (1 break, default grid, the BNSL paper's recipe) in a
    child process, so its time and peak memory are measured on their own.

Held-out (target) y is used for scoring only: fits see context points, and nothing about a model,
prior, default or choice between models looks at targets (the LOO pick uses context points only).

Results go to --out (default benchmarks/results, or benchmarks/results/quick with --quick):
curves.json (one record per curve) and summary.json (per domain, speed, memory, machine load). Both
are rewritten atomically after every chunk of curves, so an interrupted run keeps what it finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import render, reported, scoring  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
CURVES_FILE = "curves.json"
SUMMARY_FILE = "summary.json"
FORMAT = 1

BREAKS = (0, 1, 2)  # specs fitted for the model average; (a) is the 1-break one
DEFAULT_BREAKS = 1
# Shipped specs scored beside the default as options users can pick, not fed to the model average:
# {method name in the records: spec}. Their rows inform the choice; they never change a default.
OPTION_SPECS = {"monotone": "bnsl-1-monotone"}
METHODS = ("default", "averaged", "pointfit", *OPTION_SPECS)  # the methods each curve is scored by
POINTFIT_BREAKS = 1
QUICK_PER_DOMAIN = 2
QUICK_SAMPLER = {"chains": 2, "tune": 300, "draws": 300}
CHUNK = 6  # curves per fit_many call; results are written after each chunk
NLP_NANO = reported.GROUPS["NLP+Nano"]


# ---- plan ----------------------------------------------------------------------------------------
def plan_curves(data, quick: bool, per_domain: int = QUICK_PER_DOMAIN) -> list[str]:
    """Curves to run, interleaved across domains (round robin) so a cut-short run covers every domain.

    --quick takes `per_domain` curves per domain, evenly spaced in name order (chosen by name only).
    """
    from bnsl_bayes.datasets import BENCHMARK_DOMAINS

    by_domain = []
    for d in BENCHMARK_DOMAINS:
        names = sorted(data.loc[data["domain"] == d, "curve"].unique())
        if quick and names:
            idx = np.unique(np.linspace(0, len(names) - 1, min(per_domain, len(names))).round().astype(int))
            names = [names[i] for i in idx]
        by_domain.append(names)
    order = []
    for i in range(max(len(n) for n in by_domain)):
        order += [n[i] for n in by_domain if i < len(n)]
    return order


def curve_parts(data, name: str):
    c = data[data["curve"] == name]
    ctx, tgt = c[c["split"] == "context"], c[c["split"] == "target"]
    return ctx, tgt


# ---- machine and provenance ----------------------------------------------------------------------
def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def provenance() -> dict:
    import arviz
    import nutpie
    import pymc

    import bnsl_bayes

    dirty = _git("diff", "--name-only", "HEAD", "--", "bnsl_bayes", "models")
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "core_uncommitted_changes": dirty.splitlines(),
        "versions": {"bnsl_bayes": bnsl_bayes.__version__, "pymc": pymc.__version__,
                     "nutpie": nutpie.__version__, "arviz": arviz.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "processor": platform.machine()},
    }


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def max_rss_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # KB on Linux


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- writing -------------------------------------------------------------------------------------
def write_json(path: Path, obj) -> None:
    from bnsl_bayes.io import atomic_write

    text = json.dumps(obj, indent=1, allow_nan=False, default=_jsonable)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n", encoding="utf-8"))


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _clean(obj):
    """Replace non-finite floats by None (JSON has no NaN/inf)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def write_all(out: Path, markdown: Path, meta: dict, records: list[dict], extra: dict) -> dict:
    order = {n: i for i, n in enumerate(meta["curves_planned"])}
    records = sorted(records, key=lambda r: order.get(r["curve"], len(order)))
    summary = summarize(records, meta, extra)
    write_json(out / CURVES_FILE, _clean({"format": FORMAT, "meta": meta, "curves": records}))
    write_json(out / SUMMARY_FILE, _clean(summary))
    from bnsl_bayes.io import atomic_write

    text = render.render(summary, records, read_throughput(out))
    atomic_write(markdown, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return summary


def read_throughput(out: Path) -> dict | None:
    """benchmarks/throughput.py's result beside the benchmark's, if it was run."""
    path = out / "throughput.json"
    if not path.is_file():
        return None
    from benchmarks import throughput

    result = json.loads(path.read_text())
    # the text is derived from the measured runs, so rendering again keeps it in step with the code
    result["scaling_estimate"] = throughput.scaling_estimate(result["runs"])
    result["markdown"] = throughput.markdown(result)
    return result


# ---- summaries -----------------------------------------------------------------------------------
def _median(values) -> float | None:
    v = [x for x in values if x is not None]
    return float(np.median(v)) if v else None


def summarize(records: list[dict], meta: dict, extra: dict) -> dict:
    from bnsl_bayes.datasets import BENCHMARK_DOMAINS

    groups = {d: (d,) for d in BENCHMARK_DOMAINS}
    groups["NLP+Nano"] = NLP_NANO
    groups["all"] = tuple(BENCHMARK_DOMAINS)
    domains = {}
    for g, members in groups.items():
        recs = [r for r in records if r["domain"] in members]
        if not recs:
            continue
        row = {"members": list(members), "n_curves": len(recs)}
        for m in METHODS:
            row[m] = scoring.summarize_method(recs, m)
        picks, weights = {}, {}
        for r in recs:
            a = r.get("averaged", {})
            if a.get("status") == "ok":
                picks[a["loo_pick"]] = picks.get(a["loo_pick"], 0) + 1
                for k, w in a["weights"].items():
                    weights.setdefault(k, []).append(w)
        row["averaged"]["loo_picks"] = dict(sorted(picks.items()))
        row["averaged"]["mean_weights"] = {k: float(np.mean(v)) for k, v in sorted(weights.items())}
        if g == "NLP+Nano":  # the other way to pool: the mean of the four domain means
            row["mean_of_domain_means"] = {
                m: {k: float(np.mean([domains[d][m][k]["mean"] for d in members if d in domains
                                      and domains[d][m].get(k)]))
                    for k in scoring.METRICS
                    if any(d in domains and domains[d][m].get(k) for d in members)}
                for m in METHODS}
        domains[g] = row

    speed = extra.get("speed", {})
    fit_s = {name: [r["fits"][name]["seconds"] for r in records
                    if r.get("fits", {}).get(name, {}).get("status") == "ok"
                    and r["fits"][name].get("seconds") is not None]
             for name in fitted_specs(with_average=True)}
    warm = {k: _median(v) for k, v in fit_s.items()}
    compile_s = speed.get("compile_seconds", {})
    default_name = f"bnsl-{DEFAULT_BREAKS}"
    pf_s = [r["pointfit"]["seconds"] for r in records if r.get("pointfit", {}).get("status") == "ok"]
    pf_med = _median(pf_s)
    avg_s = [r["averaged"]["seconds"] for r in records
             if r.get("averaged", {}).get("status") == "ok" and r["averaged"].get("seconds") is not None]
    cold = (compile_s.get(default_name) + warm[default_name]
            if compile_s.get(default_name) is not None and warm[default_name] is not None else None)
    speed_out = {
        **speed,
        "fit_seconds_median": warm,
        "fit_seconds_mean": {k: (float(np.mean(v)) if v else None) for k, v in fit_s.items()},
        "fit_seconds_max": {k: (float(np.max(v)) if v else None) for k, v in fit_s.items()},
        "default_warm_seconds_per_curve": warm[default_name],
        "default_cold_seconds_per_curve": cold,
        "averaged_seconds_per_curve": _median(avg_s),
        "pointfit_seconds_per_curve": pf_med,
        "ratio_default_warm_to_pointfit": (warm[default_name] / pf_med if warm[default_name] and pf_med else None),
        "ratio_default_cold_to_pointfit": (cold / pf_med if cold and pf_med else None),
        "ratio_averaged_to_pointfit": (_median(avg_s) / pf_med if avg_s and pf_med else None),
    }
    return {
        "format": FORMAT,
        "meta": meta,
        "complete": len(records) == meta.get("n_curves_planned"),
        "n_curves_done": len(records),
        "domains": domains,
        "speed": speed_out,
        "memory": extra.get("memory", {}),
        "load": extra.get("load", {}),
        "reported": reported.as_dict(),
    }


# ---- fitting and scoring -------------------------------------------------------------------------
def run_pointfits(data, names: list[str]) -> dict:
    """All point fits in one spawned child process (one core), before any Bayesian fit runs."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from benchmarks.baseline import point_fit_batch

    batch = []
    for n in names:
        ctx, tgt = curve_parts(data, n)
        batch.append({"curve": n, "x": ctx["x"].tolist(), "y": ctx["y"].tolist(), "x_target": tgt["x"].tolist()})
    t0 = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        out = pool.submit(point_fit_batch, batch, POINTFIT_BREAKS).result()
    out["wall_seconds_with_process_start"] = time.perf_counter() - t0
    return out


def compile_models(data, first: str, names) -> dict:
    """Compile each spec (by name) once, timed on its own; fit_many then reuses the compiled model."""
    from bnsl_bayes import sampling
    from bnsl_bayes.model import CurveData
    from bnsl_bayes.spec import load_spec

    ctx, _ = curve_parts(data, first)
    secs, errors = {}, {}
    for name in names:
        t0 = time.perf_counter()
        try:
            sampling.compiled_model(load_spec(name), CurveData.from_xy(ctx["x"].to_numpy(), ctx["y"].to_numpy()))
            secs[name] = time.perf_counter() - t0
        except Exception as e:
            secs[name] = None
            errors[name] = f"{type(e).__name__}: {e}"
        log(f"compiled {name} in {time.perf_counter() - t0:.1f} s" + (f" (FAILED: {errors[name]})" if name in errors else ""))
    return {"compile_seconds": secs, "compile_errors": errors}


def _outcome_record(o, old: dict | None) -> dict:
    """One spec's fit of one curve as recorded; a fit reused from the store keeps its earlier timing."""
    if o.status == "failed":
        return {"status": "failed", "error": o.error, "seconds": o.seconds}
    if o.status == "skipped":
        if old and old.get("status") == "ok":
            return {**old, "reused": True}
        return {"status": "ok", "seconds": None, "diagnostics": None, "reused": True}
    return {"status": "ok", "seconds": o.seconds, "diagnostics": o.diagnostics}


def score_fit(fit, x_t, y_t, divisor: float) -> dict:
    draws = fit.draws(x_t, kind="predictive").values.reshape(-1, len(x_t))
    lpd = fit.log_predictive_density(x_t, y_t)
    return scoring.score_draws(y_t, draws, lpd, divisor)


def score_average(fits: dict, x_t, y_t, divisor: float, seed: int) -> dict:
    """LOO stacking over the fitted numbers of breaks (context points only), scored on targets."""
    from bnsl_bayes.compare import averaged_draws, compare, mixture_log_density

    t0 = time.perf_counter()
    if len(fits) >= 2:
        table = compare(fits)
        weights = {k: float(table.loc[k, "weight"]) for k in fits}
        pick = str(table.index[0])  # best elpd_loo
        loo = {k: {"elpd_loo": float(table.loc[k, "elpd_loo"]), "se": float(table.loc[k, "se"]),
                   "p_loo": float(table.loc[k, "p_loo"]), "warning": bool(table.loc[k, "warning"])} for k in fits}
        draws = averaged_draws(fits, x_t, kind="predictive", weights=weights, seed=seed).values
    else:  # only one model could be fitted: it is the "average"
        (k, f), = fits.items()
        weights, pick, loo = {k: 1.0}, k, {}
        draws = f.draws(x_t, kind="predictive").values.reshape(-1, len(x_t))
    seconds = time.perf_counter() - t0
    lpd = mixture_log_density({k: f.log_predictive_density(x_t, y_t) for k, f in fits.items()}, weights)
    out = scoring.score_draws(y_t, draws, lpd, divisor)
    out.update({"weights": weights, "loo_pick": pick, "loo": loo, "models": sorted(fits),
                "compare_seconds": seconds})
    return out


def run_chunk(data, names: list[str], seed: int, sampler: dict, with_average: bool, store: Path | None = None,
              previous: dict | None = None) -> list[dict]:
    """Fit every spec to the chunk's curves with fit_many, then score each curve.

    store: a fit_many store directory (one sub-directory per spec); fits already there with the same
    data, spec, seed and sampler are reused instead of refitted (their timing comes from `previous`,
    the records of an earlier run, when it has them).
    """
    from bnsl_bayes.datasets import domain_y_scale
    from bnsl_bayes.many import fit_many

    previous = previous or {}
    ctx_all = data[data["curve"].isin(names) & (data["split"] == "context")]
    results = {}
    for name in fitted_specs(with_average):
        results[name] = fit_many(ctx_all, x="x", y="y", group="curve", spec=name, seed=seed,
                                 store=None if store is None else store / name, **sampler)
    records = []
    for n in names:
        ctx, tgt = curve_parts(data, n)
        domain = str(ctx["domain"].iloc[0])
        x_t, y_t = tgt["x"].to_numpy(), tgt["y"].to_numpy()
        divisor = domain_y_scale(domain, ctx["y"].to_numpy())
        rec = {"curve": n, "domain": domain, "n_context": len(ctx), "n_target": len(tgt), "y_divisor": divisor,
               "x_context_max": float(ctx["x"].max()), "x_target_max": float(tgt["x"].max()),
               "fits": {name: _outcome_record(res.outcomes[n], previous.get(n, {}).get("fits", {}).get(name))
                        for name, res in results.items()}}
        for name, fr in rec["fits"].items():
            if fr["status"] == "ok" and fr.get("diagnostics") is None:
                fr["diagnostics"] = results[name].fits[n].diagnostics()
        for method, name in {"default": f"bnsl-{DEFAULT_BREAKS}", **OPTION_SPECS}.items():
            fr = rec["fits"][name]
            if fr["status"] == "ok":
                try:
                    rec[method] = {"status": "ok", **score_fit(results[name].fits[n], x_t, y_t, divisor),
                                   "seconds": fr["seconds"], "diagnostics": fr["diagnostics"]}
                except Exception as e:
                    rec[method] = {"status": "failed", "error": f"scoring: {type(e).__name__}: {e}"}
            else:
                rec[method] = {"status": "failed", "error": fr["error"]}
        if with_average:
            ok = {name: res.fits[n] for name, res in results.items()
                  if name not in OPTION_SPECS.values() and rec["fits"][name]["status"] == "ok"}
            if ok:
                try:
                    a = score_average(ok, x_t, y_t, divisor, seed)
                    secs = [rec["fits"][m]["seconds"] for m in ok]
                    a["seconds"] = None if None in secs else sum(secs) + a["compare_seconds"]
                    rec["averaged"] = {"status": "ok", **a}
                except Exception as e:
                    rec["averaged"] = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
            else:
                rec["averaged"] = {"status": "failed", "error": "no model could be fitted"}
        else:
            rec["averaged"] = {"status": "not_run", "error": "--quick runs no model average"}
        records.append(rec)
    return records


def fitted_specs(with_average: bool) -> list[str]:
    """Names of the specs a run fits: the default, the option specs, and with the average its models."""
    names = [f"bnsl-{k}" for k in (BREAKS if with_average else (DEFAULT_BREAKS,))]
    return names + list(OPTION_SPECS.values())


def _complete(rec: dict, with_average: bool) -> bool:
    """A record whose every fit and method succeeded (a resumed run keeps it as it is)."""
    methods = ("default", "pointfit", *OPTION_SPECS) + (("averaged",) if with_average else ())
    return (all(f["status"] == "ok" for f in rec.get("fits", {}).values())
            and all(rec.get(m, {}).get("status") == "ok" for m in methods))


def add_pointfit(rec: dict, pf: dict, data) -> None:
    if pf["status"] != "ok":
        rec["pointfit"] = pf
        return
    _, tgt = curve_parts(data, rec["curve"])
    pred = np.asarray(pf["prediction"], dtype=float)
    out = {"status": "ok", "seconds": pf["seconds"], "params": pf["params"]}
    if np.all(np.isfinite(pred)) and np.all(pred > 0):
        from bnsl_bayes import metrics

        out["rmsle"] = metrics.rmsle(tgt["y"].to_numpy(), pred)
    else:
        out.update(status="failed", error="point fit predicts a non-positive or non-finite y on the targets")
    rec["pointfit"] = out


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_PER_DOMAIN} curves per domain, sampler {QUICK_SAMPLER}, the default model, the "
                        "option specs and the point fit, no model average: a smoke test")
    p.add_argument("--render-only", action="store_true", help="recompute the summary from the per-curve JSON in --out and re-render the markdown (no fitting)")
    p.add_argument("--resume", action="store_true", help="keep curves already in --out/curves.json, run the rest")
    p.add_argument("--out", type=Path, help="results directory (default benchmarks/results, "
                   "or benchmarks/results/quick with --quick)")
    p.add_argument("--markdown", type=Path, help="markdown file (default BENCHMARKS.md at the repository root, "
                   "or <out>/BENCHMARKS.md with --quick or --out)")
    p.add_argument("--store", type=Path, help="keep every fit on disk here (fit_many stores, one per spec): "
                   "a rerun with --resume reuses fits whose data, spec, seed and sampler are unchanged")
    p.add_argument("--seed", type=int, default=0, help="base seed; each curve's seed derives from it and its name")
    p.add_argument("--domains", nargs="+", help="only these domains (default all)")
    p.add_argument("--limit", type=int, help="at most this many curves (after interleaving domains)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    markdown = args.markdown or (out / "BENCHMARKS.md" if (args.quick or args.out) else REPO / "BENCHMARKS.md")

    if args.render_only:
        # The summary is recomputed from the stored per-curve records (a summary line added since the
        # run then covers it too); what was measured once per run (speed, memory, load) is kept.
        old = json.loads((out / SUMMARY_FILE).read_text())
        stored = json.loads((out / CURVES_FILE).read_text())
        extra = {k: old.get(k, {}) for k in ("speed", "memory", "load")}
        write_all(out, markdown, stored["meta"], stored["curves"], extra)
        log(f"re-summarised {out / SUMMARY_FILE} and rendered {markdown}")
        return 0

    warnings.filterwarnings("ignore")  # pytensor BLAS notice, ArviZ Pareto-k (recorded in the JSON instead)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    from bnsl_bayes import datasets

    t_start = time.perf_counter()
    load = {"start": loadavg(), "samples": []}
    data = datasets.benchmark(args.domains)
    names = plan_curves(data, args.quick)
    if args.limit:
        names = names[: args.limit]
    sampler = dict(QUICK_SAMPLER) if args.quick else {}
    with_average = not args.quick
    meta = {
        "store": str(args.store) if args.store else None,
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": bool(args.quick),
        "started": now(),
        "seed": args.seed,
        "sampler_overrides": sampler,
        "default_model": f"bnsl-{DEFAULT_BREAKS}",
        "averaged_models": [f"bnsl-{k}" for k in BREAKS] if with_average else [],
        "option_models": dict(OPTION_SPECS),
        "pointfit": {"breaks": POINTFIT_BREAKS, "grid": "default", "n_starts": 1},
        "levels": list(scoring.LEVELS),
        "n_curves_planned": len(names),
        "curves_planned": names,
        **provenance(),
    }
    from bnsl_bayes.spec import load_spec

    meta["specs"] = {name: load_spec(name).to_dict() for name in fitted_specs(True)}

    records: list[dict] = []
    previous: dict = {}
    previous_segments = []
    if args.resume and (out / CURVES_FILE).is_file():
        old = json.loads((out / CURVES_FILE).read_text())
        if not all(old["meta"].get(k) == meta[k] for k in ("quick", "seed", "sampler_overrides")):
            log("--resume: the stored run used other settings (quick, seed or sampler); starting afresh")
        else:
            old_specs = old["meta"].get("specs", {})
            # a spec the old run did not fit (an option added since) is new, not changed: said apart
            changed = [k for k in meta["specs"] if k in old_specs and old_specs[k] != meta["specs"][k]]
            new_specs = [k for k in meta["specs"] if k not in old_specs]
            previous = {r["curve"]: r for r in old["curves"] if r["curve"] in names}
            for r in previous.values():  # timings of fits of a changed spec are not reused
                r["fits"] = {k: v for k, v in r.get("fits", {}).items() if k not in changed}
            # a curve is finished only with every spec fitted: with a new spec every curve runs again,
            # and --store (fingerprints unchanged) keeps that to the new spec's fits
            records = [r for r in previous.values() if not changed and _complete(r, with_average)]
            previous_segments = old["meta"].get("segments", [])
            log(f"--resume: keeping {len(records)} finished curves"
                + (f"; specs changed since: {changed}" if changed else "")
                + (f"; specs new since: {new_specs}" if new_specs else ""))
    done = {r["curve"] for r in records}
    todo = [n for n in names if n not in done]
    segment = {"started": meta["started"], "curves": len(todo)}
    meta["segments"] = previous_segments + [segment]
    extra = {"speed": {}, "memory": {}, "load": load}
    out.mkdir(parents=True, exist_ok=True)

    log(f"{len(names)} curves planned, {len(todo)} to run; results -> {out}, markdown -> {markdown}")
    if todo:
        log("point-fit baseline (child process) ...")
        pf = run_pointfits(data, todo)
        log(f"point fits done in {pf['seconds']:.1f} s")
        extra["speed"]["pointfit_total_seconds"] = pf["seconds"]
        segment["pointfit_seconds"] = pf["seconds"]
        extra["speed"]["pointfit_wall_seconds_with_process_start"] = pf["wall_seconds_with_process_start"]
        extra["memory"]["pointfit_child_max_rss_mb"] = pf["max_rss_kb"] / 1024.0

        t_bayes = time.perf_counter()
        comp = compile_models(data, todo[0], fitted_specs(with_average))
        extra["speed"].update(comp)
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i:i + CHUNK]
            new = run_chunk(data, chunk, args.seed, sampler, with_average, args.store, previous)
            for rec in new:
                add_pointfit(rec, pf["results"][rec["curve"]], data)
            records += new
            load["samples"].append(loadavg())
            extra["speed"]["bayes_wall_seconds"] = time.perf_counter() - t_bayes
            extra["speed"]["total_wall_seconds"] = time.perf_counter() - t_start
            extra["memory"]["self_max_rss_mb"] = max_rss_mb(resource.RUSAGE_SELF)
            extra["memory"]["children_max_rss_mb"] = max_rss_mb(resource.RUSAGE_CHILDREN)
            segment.update(finished=now(), wall_seconds=time.perf_counter() - t_start)
            write_all(out, markdown, meta, records, extra)
            d = [r["default"].get("rmsle") for r in new]
            log(f"{len(records)}/{len(names)} curves; last chunk default RMSLE "
                + ", ".join("fail" if v is None else f"{v:.3f}" for v in d)
                + f"; {time.perf_counter() - t_start:.0f} s elapsed; load {load['samples'][-1]}")
    load["end"] = loadavg()
    extra["speed"]["total_wall_seconds"] = time.perf_counter() - t_start
    extra["speed"]["total_wall_seconds_all_segments"] = sum(s.get("wall_seconds", 0.0) for s in meta["segments"])
    extra["memory"]["self_max_rss_mb"] = max_rss_mb(resource.RUSAGE_SELF)
    extra["memory"]["children_max_rss_mb"] = max_rss_mb(resource.RUSAGE_CHILDREN)
    segment.update(finished=now(), wall_seconds=time.perf_counter() - t_start)
    meta["finished"] = now()
    summary = write_all(out, markdown, meta, records, extra)
    log(f"done: {summary['n_curves_done']} curves in {extra['speed']['total_wall_seconds']:.0f} s; wrote {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
