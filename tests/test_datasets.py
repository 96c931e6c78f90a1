"""Bundled datasets: counts, splits, protocol details and failure on damaged files."""

import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from bnsl_bayes import datasets
from bnsl_bayes.forms import bnsl_plain


@pytest.fixture(scope="module")
def bench():
    return datasets.benchmark()


def test_four_digit_addition_split_and_values():
    df = datasets.four_digit_addition()
    assert list(df.columns) == ["x", "y", "role"]
    assert df["role"].tolist() == ["fit"] * 14 + ["extrapolate"] * 3
    assert df["x"].iloc[0] == 160 and df["x"].iloc[-1] == 928
    assert df.loc[df["role"] == "fit", "x"].max() == 736
    assert df["y"].iloc[-1] == pytest.approx(0.55695445)


def test_noiseless_simulation_params_and_curve():
    sim = datasets.noiseless_simulation()
    assert sim["split_point"] == 405 and sim["failure_split_point"] == 390
    assert set(sim["params"]) == {"a", "b", "c0", "c1", "d1", "f1"}
    assert sim["params"]["d1"] == pytest.approx(612.5836172918001)

    curve = datasets.noiseless_simulation_curve()
    assert curve["x"].tolist() == list(range(1, 4096))
    p = sim["params"]
    expected = bnsl_plain(curve["x"].to_numpy(float), p["a"], p["b"], p["c0"], [p["c1"]], [p["d1"]], [p["f1"]])
    np.testing.assert_allclose(curve["y"], expected, rtol=1e-12)
    assert len(datasets.noiseless_simulation_curve(x_max=390)) == 390
    with pytest.raises(ValueError, match="x_max"):
        datasets.noiseless_simulation_curve(x_max=5000)


def test_figure1_params():
    p = datasets.figure1_params()
    assert p["a"] == 0.001 and p["b"] == 4660.0 and p["c0"] == 0.05
    assert p["c"] == [0.49, -0.811, 2.1]
    assert p["d"] == [3e6, 1e14, 2e20]
    assert p["f"] == [1.1, 1.425, 0.05]


def test_benchmark_curve_counts_match_readme(bench):
    counts = bench.groupby("domain")["curve"].nunique().to_dict()
    assert counts == {"IC": 72, "NMT": 5, "LM": 5, "BB": 10, "DD": 16, "Nano": 24}
    assert sum(counts[d] for d in ("IC", "NMT", "LM", "BB")) == 92
    assert list(bench.columns[:5]) == ["domain", "curve", "x", "y", "split"]
    assert tuple(bench["domain"].unique()) == datasets.BENCHMARK_DOMAINS
    assert not bench[["x", "y"]].isna().any().any()
    assert set(bench["split"]) == {"context", "target"}


def test_benchmark_curve_key_format(bench):
    keys = set(bench["curve"])
    assert "IC/bird_5/MiX/B/16" in keys
    assert "BB/date_1-shot/262M" in keys
    assert "NMT/log_perplexity/6 Enc, 6 Dec" in keys
    assert "Nano/final_val_loss/setting0" in keys and "Nano/min_val_loss/setting11" in keys
    assert "DD/df18k" in keys


def test_benchmark_sorted_and_targets_beyond_context(bench):
    for _, g in bench.groupby("curve"):
        assert np.all(np.diff(g["x"].to_numpy()) >= 0)
        assert g.loc[g["split"] == "target", "x"].min() >= g.loc[g["split"] == "context", "x"].max()


def test_lm_duplicates_dropped():
    lm = datasets.benchmark("LM")
    assert len(lm) == 916 // 4
    assert not lm.duplicated(["curve", "x"]).any()
    raw = pd.read_csv(resources.files("bnsl_bayes.datasets").joinpath("benchmark.lang.csv"))
    # the raw file really has the 4 copies the loader removes
    assert (raw["Domain"] == "LM").sum() == 916


def test_ic_split_follows_training_column():
    raw = pd.read_csv(resources.files("bnsl_bayes.datasets").joinpath("benchmark.vision.csv"))
    ic = datasets.benchmark(["IC"])
    assert (ic["split"] == "context").sum() == (raw["Training"] == 1).sum()
    sub = raw[(raw["Task"] == "bird_5") & (raw["Model"] == "MiX/B/16")]
    cur = ic[ic["curve"] == "IC/bird_5/MiX/B/16"]
    assert len(cur) == len(sub)
    merged = cur.merge(sub, left_on="x", right_on="Seen Examples")
    assert (merged["split"].eq("context") == merged["Training"].eq(1)).all()
    np.testing.assert_array_equal(merged["y"], merged["Loss"])


def test_dd_context_rounding_halves_up():
    # 65 points: round-half-even would give 32; NSL-PFN's int(0.5 n + 0.5) gives 33.
    assert datasets.dd_context_size(65) == 33
    assert round(0.5 * 65) == 32  # the pitfall avoided
    assert [datasets.dd_context_size(n) for n in (3, 4, 5, 25, 27, 76)] == [3, 3, 3, 13, 14, 38]
    dd = datasets.benchmark("DD")
    for _, g in dd.groupby("curve"):
        n_ctx = (g["split"] == "context").sum()
        assert n_ctx == max(3, min(math.floor(0.5 * len(g) + 0.5), len(g) - 1))
        assert (g["split"].iloc[:n_ctx] == "context").all()  # context is a prefix


def test_nano_split():
    nano = datasets.benchmark("Nano")
    assert sorted(nano["x"].unique()) == [6, 12, 24, 48, 96, 192, 384]
    assert set(nano.loc[nano["split"] == "target", "x"]) == {384}
    assert (nano.groupby("curve")["split"].agg(lambda s: (s == "context").sum()) == 6).all()
    row = nano[(nano["curve"] == "Nano/final_val_loss/setting0") & (nano["x"] == 6)]
    assert row["y"].item() == pytest.approx(6.83501158618927)


def test_benchmark_rejects_unknown_domain():
    with pytest.raises(ValueError, match="unknown benchmark domain"):
        datasets.benchmark(["IC", "Vision"])


def test_domain_y_scale():
    assert datasets.domain_y_scale("DD", [3.0, 7.5, 2.0]) == 7.5
    assert datasets.domain_y_scale("Nano", np.array([6.8, 4.3])) == 6.8
    for d in ("IC", "NMT", "LM", "BB"):
        assert datasets.domain_y_scale(d, [0.9, 0.5]) == 1.0
    with pytest.raises(ValueError):
        datasets.domain_y_scale("XX", [1.0])
    with pytest.raises(ValueError):
        datasets.domain_y_scale("DD", [])


def test_chinchilla():
    df = datasets.chinchilla()
    assert len(df) == 245
    assert list(df.columns) == ["model_size", "training_flop", "tokens", "loss", "epoch_excluded"]
    np.testing.assert_allclose(df["tokens"], df["training_flop"] / (6 * df["model_size"]))
    excluded = df[df["epoch_excluded"]]
    assert len(excluded) == 5
    assert excluded["loss"].min() > df.loc[~df["epoch_excluded"], "loss"].max()
    assert df["loss"].max() == pytest.approx(5.005581996196243)


def test_list_datasets():
    names = datasets.list_datasets()
    for name in names:
        assert callable(getattr(datasets, name))
    assert {"four_digit_addition", "benchmark", "chinchilla"} <= set(names)


def test_damaged_files_fail_loudly(monkeypatch):
    real = datasets._read_text

    def corrupt(name):
        text = real(name)
        if name == "benchmark.lang.csv":  # drop the last row
            return "\n".join(text.rstrip("\n").split("\n")[:-1]) + "\n"
        if name == "four_digit_addition.csv":  # a missing value
            return text.replace("2.13809046", "", 1)
        if name == "chinchilla_svg_extracted_data.csv":
            return text.replace("5.005581996196243", "nan", 1)
        return text

    monkeypatch.setattr(datasets, "_read_text", corrupt)
    with pytest.raises(ValueError, match="expected 1399 rows"):
        datasets.benchmark("NMT")
    with pytest.raises(ValueError, match="non-finite"):
        datasets.four_digit_addition()
    with pytest.raises(ValueError, match="non-finite"):
        datasets.chinchilla()


def test_package_does_not_read_shared_folder():
    src = resources.files("bnsl_bayes.datasets").joinpath("__init__.py").read_text()
    assert "shared" not in src and "../" not in src
