"""Does a forecast need extra spread the further it reaches past the data? Judged on context points only.

    python -m benchmarks.extrapolation_spread [--limit N] [--store DIR] [--breaks 1]

Why: a BNSL fitted to a window describes the window; past it, the true curve drifts from the law in
ways the window cannot show (a slightly different slope, a late bend too small to be a break), so
bands built from in-window noise alone are too narrow far out. The candidate model adds to log y
past the window a drift  delta(x) = eta * D(x),  D(x) = e-folds of x outside the fitted window
(0 inside), eta ~ Normal(0, s^2) drawn once per posterior draw (an uncertain slope beyond the
data, so a draw's forecast stays smooth in x). Inside the window nothing changes, so the posterior
does not change either: only forecasts past the data widen. Two forms of s, declared before any run:

- "absolute":   s = tau                      (log y per e-fold of x)
- "relative":   s = tau * |slope at x_max|   (a fraction of the fitted log-log slope at the window's end)

- "window":     s = tau / half-width of the fitted window in e-folds (added 2026-11-30, after the
                 absolute form was adopted: the same distance past the data may be safer after a
                 wide window than after a narrow one)
- "noise":      s = tau * noise sd of the draw  (added 2026-12-01, after the absolute form was adopted:
                 the in-window noise sd also absorbs how badly the law fits the window, so a curve
                 the law follows to 0.01% (LM) may drift less past it than one it follows to 1% (IC);
                 tau is searched on a grid 10x the other forms', since noise sd is ~0.001-0.05)

tau is one number for every curve, learned across curves (empirical Bayes) by maximising the mean
pseudo-target log density. Data: every benchmark curve's context points split again by x exactly
as benchmarks/context_validation.py does (fit the first 70%, score the rest); held-out benchmark
targets are never read. Scores use the analytic predictive mixture (per draw Normal on log y with
variance noise^2 + (s D)^2; a Student-t likelihood spec is not covered and is refused).

Decision rule, written before the first run: a form is adopted only if, scored leave-one-domain-out
(tau learned on the other domains' curves, scored on the held-out domain's), its mean pseudo-target
LL over all curves beats tau = 0 by more than 2 standard errors of the per-curve paired difference
and its 90% coverage is not lower. If both forms pass, the one with the higher leave-one-domain-out
LL is adopted, with tau learned on all curves. The window form, declared after the absolute form
had been adopted, replaces it only if its leave-one-domain-out LL beats the absolute form's by more
than 2 standard errors of the per-curve paired difference and its coverage is not lower (rule
written before its first run). The noise form, declared 2026-12-01, replaces the absolute form under
the same rule as the window form: leave-one-domain-out LL above the absolute form's by more than 2
standard errors of the per-curve paired difference, and 90% coverage not lower (written before its
first run). Results: benchmarks/results/extrapolation_spread.json
(bnsl-1; the rule was run on bnsl-1 first) and extrapolation_spread_bnsl-<n>.json for --breaks n.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from scipy import special, stats  # noqa: E402

from benchmarks import context_validation as cv  # noqa: E402
from benchmarks import run  # noqa: E402

TAUS = np.round(np.concatenate([[0.0], np.geomspace(0.002, 2.0, 31)]), 5)
FORMS = ("absolute", "relative", "window", "noise")
# tau grid multiplier per form: the noise form's tau multiplies a noise sd of 0.001-0.05.
TAU_SCALE = {"absolute": 1.0, "relative": 1.0, "window": 1.0, "noise": 10.0}
OUT = run.RESULTS / "extrapolation_spread.json"


def curve_terms(fit, part) -> dict:
    """Per draw and pseudo-target: curve mean, noise sd, e-folds outside the window, end slope."""
    from bnsl_bayes import forecast as fc
    from bnsl_bayes.datasets import domain_y_scale

    fit_part, pseudo = part
    post = fit.posterior
    x_t, y_t = pseudo["x"].to_numpy(float), pseudo["y"].to_numpy(float)
    lx_max = np.log(fit.x.max())
    mu = fc.log_curve_draws(post, x_t).values.reshape(-1, len(x_t))
    h = 1e-3
    ends = fc.log_curve_draws(post, np.exp([lx_max - h, lx_max + h])).values.reshape(-1, 2)
    return {"mu": mu, "noise": fc.param_draws(post)["sigma"].reshape(-1, 1),
            # the library's drift with sd 1 per e-fold: e-folds outside the window
            "efolds": fc.Drift(float(fit.x.min()), float(fit.x.max()), 1.0, 0).sd(x_t),
            "slope": np.abs(ends[:, 1] - ends[:, 0]).reshape(-1, 1) / (2 * h),
            "half_width": (lx_max - np.log(fit.x.min())) / 2,
            "log_y": np.log(y_t), "log_divisor": np.log(domain_y_scale(str(fit_part["domain"].iloc[0]),
                                                                     fit_part["y"].to_numpy()))}


def scores(t: dict, form: str, tau: float) -> tuple[float, float]:
    """(mean log density of y, share inside the central 90% interval) over one curve's pseudo-targets."""
    k = {"absolute": 1.0, "relative": t["slope"], "window": 1.0 / t["half_width"], "noise": t["noise"]}[form]
    sd = np.sqrt(t["noise"] ** 2 + (tau * k * t["efolds"]) ** 2)
    z = (t["log_y"] - t["mu"]) / sd
    lp = special.logsumexp(stats.norm.logpdf(z) - np.log(sd), axis=0) - np.log(len(sd)) - t["log_y"]
    cdf = stats.norm.cdf(z).mean(axis=0)
    return float(np.mean(lp) + t["log_divisor"]), float(np.mean((cdf >= 0.05) & (cdf <= 0.95)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--store", type=Path, help="fit_many store: a rerun reuses the context fits")
    p.add_argument("--breaks", type=int, default=1)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    args.out = args.out or (OUT if args.breaks == 1 else OUT.with_name(f"{OUT.stem}_bnsl-{args.breaks}.json"))

    names, parts = cv.load_splits(args.limit)
    fits, seconds = cv.fit_splits(parts, seed=args.seed, breaks=args.breaks, store=args.store)
    names = [n for n in names if n in fits]
    if fits[names[0]].spec.likelihood != "normal":
        raise SystemExit("extrapolation_spread scores the normal likelihood only")
    domain = {n: str(parts[n][0]["domain"].iloc[0]) for n in names}
    terms = {n: curve_terms(fits[n], parts[n]) for n in names}
    # table[form][curve] = [(ll, cov90) for tau in TAUS]
    table = {form: {n: [scores(terms[n], form, tau * TAU_SCALE[form]) for tau in TAUS] for n in names} for form in FORMS}

    def best_tau(form, curves):
        return int(np.argmax([np.mean([table[form][n][i][0] for n in curves]) for i in range(len(TAUS))]))

    summary = {"breaks": args.breaks, "curves": len(names), "fit_seconds": seconds, "taus": TAUS.tolist(), "forms": {}}
    base_ll = np.array([table[FORMS[0]][n][0][0] for n in names])  # tau = 0 is the same for both forms
    base_cov = float(np.mean([table[FORMS[0]][n][0][1] for n in names]))
    lodo_ll, lodo_cov = {}, {}
    for form in FORMS:
        lodo_tau, ll, cov = {}, [], []
        for d in sorted(set(domain.values())):
            i = best_tau(form, [n for n in names if domain[n] != d])
            lodo_tau[d] = float(TAUS[i])
        for n in names:
            i = int(np.where(TAUS == lodo_tau[domain[n]])[0][0])
            ll.append(table[form][n][i][0])
            cov.append(table[form][n][i][1])
        lodo_ll[form], lodo_cov[form] = np.array(ll), float(np.mean(cov))
        diff = np.array(ll) - base_ll
        se = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        i_all = best_tau(form, names)
        passed = bool(diff.mean() > 2 * se and np.mean(cov) >= base_cov)
        summary["forms"][form] = {
            "tau_all_curves": float(TAUS[i_all] * TAU_SCALE[form]),
            "tau_leave_one_domain_out": {d: v * TAU_SCALE[form] for d, v in lodo_tau.items()},
            "lodo": {"ll": float(np.mean(ll)), "coverage90": float(np.mean(cov)),
                     "ll_difference": {"mean": float(diff.mean()), "se": se}},
            "lodo_by_domain": {d: {"ll": float(np.mean([l for n, l in zip(names, ll) if domain[n] == d])),
                                   "coverage90": float(np.mean([c for n, c in zip(names, cov) if domain[n] == d]))}
                               for d in sorted(set(domain.values()))},
            "passes_rule": passed}
    def tau_zero(d, k):  # mean over domain d's curves of score k (0: LL, 1: cov90) at tau = 0
        return float(np.mean([table[FORMS[0]][n][0][k] for n in names if domain[n] == d]))

    summary["tau_zero"] = {"ll": float(base_ll.mean()), "coverage90": base_cov,
                           "by_domain": {d: {"ll": tau_zero(d, 0), "coverage90": tau_zero(d, 1)}
                                         for d in sorted(set(domain.values()))}}
    passing = [f for f in FORMS[:2] if summary["forms"][f]["passes_rule"]]
    if passing:
        win = max(passing, key=lambda f: summary["forms"][f]["lodo"]["ll"])
        summary["decision"] = f"adopt {win} with tau = {summary['forms'][win]['tau_all_curves']}"
    else:
        summary["decision"] = "no extra spread: neither form passes the rule"
    # The later forms against the adopted absolute form, paired per curve.
    for later in ("window", "noise"):
        wdiff = lodo_ll[later] - lodo_ll["absolute"]
        wse = float(wdiff.std(ddof=1) / np.sqrt(len(wdiff)))
        replaces = bool(wdiff.mean() > 2 * wse and lodo_cov[later] >= lodo_cov["absolute"])
        summary[f"{later}_vs_absolute"] = {
            "ll_difference": {"mean": float(wdiff.mean()), "se": wse},
            "coverage90": {later: lodo_cov[later], "absolute": lodo_cov["absolute"]},
            "decision": (f"{later} replaces absolute with tau = {summary['forms'][later]['tau_all_curves']}"
                         if replaces else "absolute stays")}
    records = [{"curve": n, "domain": domain[n],
                **{form: {"ll": [r[0] for r in table[form][n]], "coverage90": [r[1] for r in table[form][n]]}
                   for form in FORMS}} for n in names]
    run.write_json(args.out, {"summary": summary, "records": records, "provenance": run.provenance()})
    print(json.dumps({k: v for k, v in summary.items() if k != "taus"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
