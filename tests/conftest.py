"""Shared fixtures: one real (small) posterior of the 4-digit addition curve for the whole session.

A fit costs ~30-50 s the first time a spec is compiled in a process and about a second after, so
tests that only read a posterior share this one instead of sampling their own.
"""

import os

import matplotlib

matplotlib.use("Agg")  # tests never open windows; also set for subprocesses (CLI, notebooks) below
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

# Small but real sampling: enough draws for intervals and plots to be meaningful, fast enough for CI.
SMALL_SAMPLER = {"chains": 2, "tune": 300, "draws": 300}


@pytest.fixture(scope="session")
def small_sampler():
    return dict(SMALL_SAMPLER)


@pytest.fixture(scope="session")
def addition_data():
    """The bundled 4-digit addition curve: (fit rows, held-out rows) as DataFrames with x, y."""
    from bnsl_bayes.datasets import four_digit_addition

    df = four_digit_addition()
    return df[df["role"] == "fit"].reset_index(drop=True), df[df["role"] == "extrapolate"].reset_index(drop=True)


@pytest.fixture(scope="session")
def addition_fit(addition_data):
    """A real 1-break posterior of the 14 fitted 4-digit addition points (seed 0, small sampler)."""
    import bnsl_bayes

    train, _ = addition_data
    return bnsl_bayes.fit(train["x"], train["y"], breaks=1, seed=0, warn=False,
                          x_name="training set size", y_name="test cross-entropy", **SMALL_SAMPLER)


@pytest.fixture(scope="session")
def addition_fit_path(addition_fit, tmp_path_factory):
    """`addition_fit` saved to netCDF, for tests of loading and of the command line."""
    path = tmp_path_factory.mktemp("fits") / "addition.nc"
    addition_fit.save(path)
    return path


def pytest_sessionfinish(session, exitstatus):
    """A run that collected no test is a broken suite, not a pass: turn pytest's exit 5 into 1."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.config.get_terminal_writer().line("ERROR: no tests were collected; failing the run", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
