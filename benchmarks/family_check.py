"""Family fits (`bnsl_bayes.fit_family`) against one-curve fits, on the benchmark's held-out targets.

    python -m benchmarks.family_check [--domains Nano LM NMT IC]

Families are the benchmark's own groups: the curves of one (domain, task) with at least 2 curves
(IC: 12 tasks x 6 architectures; LM and NMT: one task of 5 curves each; Nano: 2 tasks x 12
settings; BB and DD have one curve per task and no family). Each family is fitted on its curves'
context points with fit_family's defaults (bnsl-1, pool c0, c and f, spreads family.SPREAD, the
spec's sampler settings), seed 0, and every member is scored on its targets exactly as
benchmarks/run.py scores the default model (RMSLE of the predictive median, mean log density with
NSL-PFN's y scale, MSCE, 90% coverage). The one-curve numbers beside them are the default model's
rows of benchmarks/results/curves.json (the last full benchmark run; the default spec has not
changed since).

Rule, written before the first scoring run (2026-12-03): this reports, it does not decide. The
family design (what is pooled, the spreads' priors) was fixed in bnsl_bayes/family.py before any
family was scored and is not changed on the basis of these targets; no default of `fit` changes.
(An exploratory run of the first Nano family was made while writing the code, with the same design.)
Results: benchmarks/results/family_check.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import run  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "family_check.json"
METRICS = ("rmsle", "ll", "msce", "coverage90")


def families(data, domains) -> list:
    """(domain, task, curve names) of every family: a (domain, task) with 2 or more curves."""
    out = []
    for (domain, task), part in data.groupby(["domain", "task"], sort=True):
        names = sorted(part["curve"].unique())
        if domain in domains and len(names) >= 2:
            out.append((domain, task, names))
    order = {d: i for i, d in enumerate(domains)}
    return sorted(out, key=lambda t: order[t[0]])


def summary(records: list[dict], one_curve: dict | None = None) -> dict:
    """Mean and standard error over curves per domain and overall, family vs one-curve, and the
    paired difference of the log density. With `one_curve` (curve -> the default model's record),
    also NLP+Nano as the benchmark pools it: NMT, LM and Nano by their families, BB (no family)
    by its one-curve fits, on both sides."""
    out = {}
    groups = {dom: [r for r in records if dom in ("all", r["domain"])]
              for dom in sorted({r["domain"] for r in records}) + ["all"]}
    if one_curve and {"NMT", "LM", "Nano"} <= {r["domain"] for r in records}:
        bb = [{"curve": c, "domain": "BB", "family": {m: r[m] for m in METRICS}, "single": {m: r[m] for m in METRICS}}
              for c, r in sorted(one_curve.items()) if c.startswith("BB/") and r and r.get("status") == "ok"]
        groups["NLP+Nano (BB one-curve)"] = [r for r in records if r["domain"] in ("NMT", "LM", "Nano")] + bb
    for dom, members in groups.items():
        rs = [r for r in members if r["family"] and r["single"]]
        row = {"curves": len(rs)}
        for who in ("family", "single"):
            for m in METRICS:
                v = np.array([r[who][m] for r in rs if r[who][m] is not None], float)
                row[f"{who}_{m}"] = float(v.mean()) if v.size else None
                row[f"{who}_{m}_se"] = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None
        diff = np.array([r["family"]["ll"] - r["single"]["ll"] for r in rs
                         if r["family"]["ll"] is not None and r["single"]["ll"] is not None])
        row["ll_difference"] = float(diff.mean()) if diff.size else None
        row["ll_difference_se"] = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else None
        out[dom] = row
    return out


def main(argv=None) -> int:
    from bnsl_bayes.datasets import benchmark, domain_y_scale
    from bnsl_bayes.family import fit_family

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domains", nargs="+", default=["Nano", "LM", "NMT", "IC"])
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--summary-only", action="store_true", help="recompute the summary of --out's records, no fits")
    args = p.parse_args(argv)
    data = benchmark()
    curves = json.loads((Path(__file__).resolve().parent / "results" / "curves.json").read_text())["curves"]
    single = {r["curve"]: r.get("default") for r in curves}
    if args.summary_only:
        done = json.loads(args.out.read_text())
        done["summary"] = summary(done["records"], single)
        run.write_json(args.out, run._clean(done))
        return report(done["summary"])
    records, fams = [], []
    for domain, task, names in families(data, args.domains):
        part = data[data["curve"].isin(names)]
        ctx = part[part["split"] == "context"]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fam = fit_family(ctx, "x", "y", "curve", seed=0, warn=False)
        seconds = time.perf_counter() - t0
        diag = fam.diagnostics()
        fams.append({"domain": domain, "task": str(task), "curves": len(names), "seconds": seconds,
                     "r_hat_max": diag["r_hat_max"], "divergences": diag["divergences"],
                     "ess_bulk_min": diag["ess_bulk_min"],
                     "population": fam.population().to_dict(orient="records")})
        for name in names:
            c = ctx[ctx["curve"] == name]
            t = part[(part["curve"] == name) & (part["split"] == "target")]
            s = run.score_fit(fam[name], t["x"].to_numpy(), t["y"].to_numpy(), domain_y_scale(domain, c["y"]))
            one = single.get(name)
            records.append({"curve": name, "domain": domain, "task": str(task), "family": s,
                            "single": ({m: one[m] for m in METRICS} if one and one.get("status") == "ok" else None)})
        run.log(f"{domain}/{task}: {len(names)} curves in {seconds:.0f} s, r_hat_max {diag['r_hat_max']:.3f}, "
                f"divergences {diag['divergences']}")
        run.write_json(args.out, run._clean({"summary": summary(records, single), "families": fams,
                                             "records": records, "provenance": run.provenance()}))
    return report(summary(records, single))


def report(table: dict) -> int:
    for dom, row in table.items():
        print(f"{dom:5s} {row['curves']:3d} curves  RMSLE family {row['family_rmsle']:.4f} vs one-curve "
              f"{row['single_rmsle']:.4f}; LL {row['family_ll']:.3f} vs {row['single_ll']:.3f} "
              f"(difference {row['ll_difference']:+.3f} +- {row['ll_difference_se'] or float('nan'):.3f}); "
              f"cov90 {row['family_coverage90']:.2f} vs {row['single_coverage90']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
