"""Published numbers we compare against: reported, not re-run here.

Source: NSL-PFN (Lee et al., "Bayesian Neural Scaling Law Extrapolation with Prior-Data Fitted
Networks", ICML 2025), as collected in /work/shared/data/README.md. The paper groups NMT, LM, BB and
Nano into one row ("NLP + Nano"); IC and DD are rows of their own. It reports no MSCE for these rows
and no LL for the BNSL point fit (a point fit has no predictive density).
"""

from __future__ import annotations

SOURCE = ("NSL-PFN (Lee et al., ICML 2025), extrapolation results as reported in the paper; "
          "copied from /work/shared/data/README.md")

#: Our row names for the paper's groups: each reported row is compared with ours on the same curves.
GROUPS: dict[str, tuple[str, ...]] = {
    "IC": ("IC",),
    "NLP+Nano": ("NMT", "LM", "BB", "Nano"),
    "DD": ("DD",),
}

#: method -> group -> {"rmsle": float, "ll": float or None}
REPORTED: dict[str, dict[str, dict]] = {
    "NSL-PFN": {
        "IC": {"rmsle": 0.0280, "ll": 3.330},
        "NLP+Nano": {"rmsle": 0.0194, "ll": 2.773},
        "DD": {"rmsle": 0.0335, "ll": 2.565},
    },
    "MCMC on BNSL": {
        "IC": {"rmsle": 0.0645, "ll": 2.921},
        "DD": {"rmsle": 0.0494, "ll": 1.250},
    },
    "BNSL point fit": {
        "IC": {"rmsle": 0.0406, "ll": None},
        "NLP+Nano": {"rmsle": 0.0223, "ll": None},
        "DD": {"rmsle": 0.0468, "ll": None},
    },
}

#: Seconds per curve as reported (IC row of the paper's timing comparison; GPU for NSL-PFN).
REPORTED_SECONDS: dict[str, float] = {
    "NSL-PFN": 0.02,
    "MCMC on BNSL": 280.55,
    "BNSL point fit": 98.79,
}


def as_dict() -> dict:
    """Everything above, for the results JSON."""
    return {"source": SOURCE, "groups": {k: list(v) for k, v in GROUPS.items()},
            "metrics": REPORTED, "seconds_per_curve": REPORTED_SECONDS}
