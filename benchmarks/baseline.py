"""The point-fit baseline, run in a child process so its time and peak memory are its own."""

from __future__ import annotations

import resource
import time

import numpy as np


def point_fit_batch(curves: list[dict], breaks: int = 1) -> dict:
    """Fit `bnsl_bayes.pointfit.point_fit` to each curve's context and predict its targets.

    curves: [{"curve": name, "x": context x, "y": context y, "x_target": held-out x}], plain lists.
    The held-out y is not passed here: the baseline never sees it.
    Returns {"results": {curve: {...}}, "seconds": wall time, "max_rss_kb": this process's peak RSS}.
    """
    from bnsl_bayes.pointfit import point_fit

    t0 = time.perf_counter()
    results = {}
    for c in curves:
        try:
            pf = point_fit(np.asarray(c["x"]), np.asarray(c["y"]), breaks=breaks)
            pred = pf.predict(np.asarray(c["x_target"]))
            results[c["curve"]] = {"status": "ok", "prediction": [float(v) for v in pred],
                                   "seconds": pf.seconds, "params": pf.params, "train_loss": pf.loss}
        except Exception as e:  # a failed baseline is reported, not fatal
            results[c["curve"]] = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    return {"results": results, "seconds": time.perf_counter() - t0,
            "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
