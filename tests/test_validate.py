"""Bad input gets a clear ValueError naming the column and the first offending row."""

import numpy as np
import pandas as pd
import pytest

import bnsl_bayes
from bnsl_bayes.validate import check_xy

X = [1.0, 2.0, 4.0, 8.0, 16.0]
Y = [3.0, 2.5, 2.1, 1.9, 1.8]


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([1, 2, np.nan, 8, 16], Y, r"column 'x': nan at row 2"),
        (X, [3, 2, 1, np.inf, 1], r"column 'y': inf at row 3"),
        ([1, 2, 0, 8, 16], Y, r"column 'x': 0.0 at row 2 must be > 0"),
        (X, [3, 2, -1, 1, 1], r"column 'y': -1.0 at row 2 must be > 0"),
        (X, Y[:4], r"different lengths: 5 and 4"),
        ([1, 1, 2, 2, 2], Y, r"2 distinct value\(s\); at least 3"),
        ([1, 2, "four", 8, 16], Y, r"column 'x': non-numeric value 'four' at row 2"),
        (X, [3, 2, None, 1, 1], r"column 'y': non-numeric value None at row 2"),
        ("12345", Y, r"got a string"),
        ([1, 2, 4, 8, 10**400], Y, r"column 'x': an integer of 401 digits at row 4 is too large for a float"),
    ],
)
def test_bad_input_named(x, y, match):
    with pytest.raises(ValueError, match=match):
        check_xy(x, y)


def test_fit_names_dataframe_columns_and_index_labels():
    df = pd.DataFrame({"tokens": X, "loss": [3, 2, 1, 0.0, 1]}, index=[10, 11, 12, 13, 14])
    with pytest.raises(ValueError, match=r"column 'loss': 0.0 at row 3 \(index 13\)"):
        bnsl_bayes.fit(df["tokens"], df["loss"], breaks=0)


def test_unsorted_and_repeated_x_are_kept_in_order():
    xs, ys = check_xy([4, 1, 2, 2], [1.5, 3.0, 2.0, 2.1])
    np.testing.assert_array_equal(xs, [4, 1, 2, 2])
    np.testing.assert_array_equal(ys, [1.5, 3.0, 2.0, 2.1])


def test_bad_options_rejected_before_sampling():
    with pytest.raises(ValueError, match="breaks must be an integer"):
        bnsl_bayes.fit(X, Y, breaks=-1)
    with pytest.raises(ValueError, match="unknown model spec 'bnsl-9'"):
        bnsl_bayes.fit(X, Y, breaks=9)
    with pytest.raises(TypeError, match="unknown sampler option"):
        bnsl_bayes.fit(X, Y, breaks=0, draw=10)
    for bad, match in [({"tune": 0}, "tune must be an integer >= 1"), ({"draws": 0}, "draws must be"),
                       ({"chains": 1.5}, "chains must be"), ({"target_accept": 1.5}, "target_accept"),
                       ({"target_accept": -1}, "target_accept"), ({"cores": 0}, "cores must be")]:
        with pytest.raises(ValueError, match=match):
            bnsl_bayes.fit(X, Y, breaks=0, **bad)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        bnsl_bayes.fit(X, Y, breaks=0, seed=-1)
    # 1 draw per chain crashed chain stacking (IndexError), 2-3 gave NaN diagnostics: refused, by name
    for draws in (1, 3):
        with pytest.raises(ValueError, match=f"draws must be an integer >= 4, got {draws}"):
            bnsl_bayes.fit(X, Y, breaks=0, draws=draws)
    # breaks and spec must agree (breaks was once silently ignored when a spec was given)
    with pytest.raises(ValueError, match="has 1 breaks but breaks=2"):
        bnsl_bayes.fit(X, Y, breaks=2, spec="bnsl-1")


def test_pandas_series_with_different_indexes_are_refused():
    x = pd.Series([1.0, 2.0, 4.0, 8.0], index=[10, 11, 12, 13])
    y = pd.Series([3.0, 2.5, 2.2, 2.0], index=[13, 12, 11, 10])
    with pytest.raises(ValueError, match="different indexes; values are paired by position"):
        check_xy(x, y)
    check_xy(x, y.set_axis(x.index))  # aligned: fine


def test_numbers_stored_as_text_get_a_hint():
    with pytest.raises(ValueError, match="non-numeric value '1e6' at row 0 .*pd.to_numeric"):
        check_xy(["1e6", 2e6, 4e6], [3.0, 2.0, 1.0])

