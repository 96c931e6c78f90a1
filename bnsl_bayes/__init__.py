"""Bayesian inference for Broken Neural Scaling Laws.

>>> import bnsl_bayes
>>> fit = bnsl_bayes.fit(x, y, breaks=1, seed=0)          # doctest: +SKIP
>>> fit.forecast([1e9, 1e10], prob=0.9)                    # doctest: +SKIP
>>> fit.break_positions(); fit.reach(0.5)                  # doctest: +SKIP
"""

__version__ = "0.1.0"

from .backtest import Backtest, backtest, backtest_many, pooled_calibration  # noqa: E402
from .compare import averaged_draws, averaged_forecast, averaged_reach, choose, compare  # noqa: E402
from .contrast import contrast, crossover  # noqa: E402
from .family import Family, fit_family  # noqa: E402
from .fit import Fit, fit  # noqa: E402
from .forms import bnsl  # noqa: E402
from .io import load  # noqa: E402
from .many import fit_many  # noqa: E402
from .prior import PriorFit, prior  # noqa: E402
from .store import load_store  # noqa: E402
from .spec import load_spec  # noqa: E402

__all__ = ["Backtest", "Family", "Fit", "PriorFit", "backtest", "backtest_many", "averaged_draws", "averaged_forecast", "averaged_reach", "bnsl", "choose", "compare", "contrast", "crossover", "fit",
           "fit_family", "fit_many", "load", "load_store", "load_spec", "pooled_calibration", "prior", "__version__"]
