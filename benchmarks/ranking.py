"""Which of two models will be better at the largest held-out scale? `bnsl_bayes.contrast` on real pairs.

    python -m benchmarks.ranking              # writes benchmarks/results/ranking.json

Pairs: every two curves of the benchmark that share a domain and a task (IC: 6 architectures per
dataset and shot count; NMT and LM: 5 models each; Nano: 12 settings per loss), compared at x*, the
smaller of the two curves' largest held-out x, where each curve has a held-out point within 1% of
x* (IC's held-out grids are offset between architectures: matching x exactly left 98 of 332 pairs
out in a smoke run of 3 pairs, so the 1% rule replaced it before the full run). Pairs without such
points are counted and left out: 96 of 332, 93 of them because x* lies before the other curve's
held-out points begin (one architecture's held-out range ends before the other's starts). BB and DD have one curve per task and give no pairs.

Each curve is fitted once, on its context points only, with the default model (bnsl-1, seed 0) and
with the BNSL point fit (benchmarks/baseline.py). The held-out y are read only to score.

The rule, written before the first run (2026-12-03), so that nothing is chosen after seeing scores:
  truth     A is lower than B in the measured y at x* (each curve's held-out points within 1% of x*,
            averaged).
  ours      p = contrast(A, B, [x*], kind="predictive").prob_a_lower: one new run of each, which
            is what was measured; clipped to [1/(n+1), n/(n+1)] for the log score (n paired draws).
  scores    accuracy of the call p > 0.5; Brier score (p - truth)^2; mean log score log p(truth);
            and calibration: the observed share of "A lower" among pairs in bins of p.
  baselines the point fit's call (its predictions at x*), and "the leader stays the leader" (A's
            and B's measured y at their largest context x), both as 0/1 calls (Brier = error rate).
Pairs share curves (a curve is in up to 11 pairs), so the spread between pairs understates the
uncertainty of a mean: standard errors are reported as if pairs were independent, and labelled so.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks import run  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "ranking.json"
BINS = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]


NEAR = 0.01  # relative distance in x within which a held-out point counts as measured at x*


def pairs_of(data) -> tuple[list[tuple[str, str, float]], int]:
    """(A, B, x*) for every two curves of one domain and task, x* the smaller of their largest
    held-out x, where both have a held-out point within NEAR of x*; and how many pairs had none."""
    out, none = [], 0
    tgt = data[data["split"] == "target"]
    for (_, _), group in data.groupby(["domain", "task"], sort=True):
        names = sorted(group["curve"].unique())
        for a, b in itertools.combinations(names, 2):
            x_star = float(min(tgt.loc[tgt["curve"] == n, "x"].max() for n in (a, b)))
            if all(np.isfinite(measured(data, n, x_star)) for n in (a, b)):
                out.append((a, b, x_star))
            else:
                none += 1
    return out, none


def measured(data, name: str, x: float) -> float:
    """The mean measured y of curve `name` over its held-out points within NEAR of x (nan if none)."""
    c = data[(data["curve"] == name) & (data["split"] == "target")]
    near = c[np.abs(c["x"] / x - 1) <= NEAR]
    return float(near["y"].mean()) if len(near) else float("nan")


def summarize(records: list[dict]) -> dict:
    truth = np.array([r["truth_a_lower"] for r in records], float)
    out = {"pairs": len(records), "share_a_lower": float(truth.mean())}
    for key in ("ours_predictive", "ours_curve", "pointfit", "leader"):
        p = np.array([r[key] for r in records], float)
        ok = np.isfinite(p)
        call = (p[ok] > 0.5) == (truth[ok] == 1)
        brier = (p[ok] - truth[ok]) ** 2
        row = {"pairs": int(ok.sum()), "accuracy": float(call.mean()),
               "accuracy_se_if_independent": float(call.std(ddof=1) / np.sqrt(ok.sum())),
               "brier": float(brier.mean()), "brier_se_if_independent": float(brier.std(ddof=1) / np.sqrt(ok.sum()))}
        if key.startswith("ours"):
            n = np.array([r["paired_draws"] for r in records], float)[ok]
            q = np.clip(p[ok], 1 / (n + 1), n / (n + 1))
            row["log_score"] = float(np.mean(np.where(truth[ok] == 1, np.log(q), np.log1p(-q))))
            idx = np.digitize(p[ok], BINS[1:-1])
            row["calibration"] = [{"bin": f"[{BINS[i]:.1f}, {BINS[i + 1]:.1f}{']' if i == len(BINS) - 2 else ')'}",
                                   "pairs": int((idx == i).sum()),
                                   "mean_p": float(p[ok][idx == i].mean()) if (idx == i).any() else None,
                                   "observed": float(truth[ok][idx == i].mean()) if (idx == i).any() else None}
                                  for i in range(len(BINS) - 1)]
        out[key] = row
    return out


def main(argv=None) -> int:
    import bnsl_bayes
    from bnsl_bayes.datasets import benchmark

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--limit", type=int, help="only the first N pairs (a smoke test; not a result)")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")  # convergence warnings are recorded per fit below
    data = benchmark()
    pairs, without_shared_x = pairs_of(data)
    pairs = pairs[:args.limit] if args.limit else pairs
    names = sorted({n for a, b, _ in pairs for n in (a, b)})
    run.log(f"{len(pairs)} pairs over {len(names)} curves ({without_shared_x} pairs without held-out points near x* on both curves)")

    point = run.run_pointfits(data, names)["results"]
    t0 = time.perf_counter()
    fits, diagnostics = {}, {}
    for i, n in enumerate(names):
        ctx, _ = run.curve_parts(data, n)
        fits[n] = bnsl_bayes.fit(ctx["x"], ctx["y"], breaks=1, seed=0, warn=False)
        d = fits[n].diagnostics()
        diagnostics[n] = {k: d[k] for k in ("r_hat_max", "divergences", "ess_bulk_min")}
        if (i + 1) % 10 == 0:
            run.log(f"fitted {i + 1}/{len(names)}")
    fit_seconds = time.perf_counter() - t0

    records = []
    for a, b, x in pairs:
        ours = {kind: bnsl_bayes.contrast(fits[a], fits[b], [x], kind=kind).iloc[0] for kind in ("predictive", "curve")}
        ctx_a, _ = run.curve_parts(data, a)
        ctx_b, _ = run.curve_parts(data, b)
        last = lambda c: float(c.loc[c["x"] == c["x"].max(), "y"].mean())  # noqa: E731
        pf = [point[n] for n in (a, b)]

        if all(r["status"] == "ok" for r in pf):  # the point fit's predictions at each curve's targets near x*
            preds = []
            for r, n in zip(pf, (a, b)):
                x_t = run.curve_parts(data, n)[1]["x"].to_numpy()
                preds.append(np.mean(np.asarray(r["prediction"])[np.abs(x_t / x - 1) <= NEAR]))
            point_call = float(preds[0] < preds[1])
        else:
            point_call = float("nan")
        records.append({
            "a": a, "b": b, "x": x,
            "truth_a_lower": measured(data, a, x) < measured(data, b, x),
            "ours_predictive": float(ours["predictive"]["prob_a_lower"]),
            "ours_curve": float(ours["curve"]["prob_a_lower"]),
            "ratio_median": float(ours["predictive"]["ratio_median"]),
            "paired_draws": int(min(fits[a].posterior.sizes["chain"] * fits[a].posterior.sizes["draw"],
                                    fits[b].posterior.sizes["chain"] * fits[b].posterior.sizes["draw"])),
            "pointfit": point_call,
            "leader": float(last(ctx_a) < last(ctx_b)),
        })
    by_domain = {}
    for r in records:
        by_domain.setdefault(r["a"].split("/")[0], []).append(r)
    result = {"provenance": run.provenance(), "rule": __doc__, "fit_seconds": fit_seconds,
              "pairs_without_shared_x": without_shared_x,
              "summary": {"all": summarize(records), **{k: summarize(v) for k, v in sorted(by_domain.items())}},
              "records": records, "diagnostics": diagnostics}
    run.write_json(args.out, result)
    for k, s in result["summary"].items():
        print(f"{k}: {s['pairs']} pairs, A lower in {s['share_a_lower']:.2f}")
        for m in ("ours_predictive", "ours_curve", "pointfit", "leader"):
            r = s[m]
            extra = f", log score {r['log_score']:.3f}" if "log_score" in r else ""
            print(f"  {m:<16} accuracy {r['accuracy']:.3f} (+/- {r['accuracy_se_if_independent']:.3f}), "
                  f"Brier {r['brier']:.3f}{extra}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
