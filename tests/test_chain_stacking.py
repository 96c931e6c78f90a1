"""Chain stacking: weights from per-chain LOO, and the weighted sample every answer is computed from."""

import numpy as np
import xarray as xr

from bnsl_bayes import forecast as fc


def _loglik(means, n_draw=400, n_obs=40, seed=0):
    """Pointwise log-likelihood (chain, draw, obs) of chains whose fit quality is set by `means`."""
    rng = np.random.default_rng(seed)
    return np.stack([m + 0.05 * rng.standard_normal((n_draw, n_obs)) for m in means])


def test_chains_in_one_mode_keep_equal_weights():
    w = fc.chain_stacking_weights(_loglik([1.0, 1.0, 1.0, 1.0]))
    np.testing.assert_allclose(w, 0.25)


def test_chain_stuck_in_a_poor_mode_gets_no_weight():
    # chain 2 predicts every point e^-1 times worse: 40 points make the evidence overwhelming
    w = fc.chain_stacking_weights(_loglik([1.0, 1.0, 0.0, 1.0]))
    assert w[2] == 0
    np.testing.assert_allclose(w.sum(), 1.0)
    np.testing.assert_allclose(w[[0, 1, 3]], 1 / 3)


def test_small_differences_are_not_acted_on():
    # 0.05 elpd per point over 40 points = 2 in total: below the threshold of 4, equal weights stay
    w = fc.chain_stacking_weights(_loglik([1.0, 1.0, 0.95, 1.0]))
    np.testing.assert_allclose(w, 0.25)


def test_stacked_index_allocates_draws_by_weight_and_is_deterministic():
    ci, di = fc.stacked_index([0.5, 0.5, 0.0, 0.0], n_draw=100, seed=3)
    assert len(ci) == 400
    assert np.bincount(ci, minlength=4).tolist() == [200, 200, 0, 0]
    # a chain asked for twice its length gives every draw exactly twice
    assert np.bincount(di[ci == 0], minlength=100).tolist() == [2] * 100
    ci2, di2 = fc.stacked_index([0.5, 0.5, 0.0, 0.0], n_draw=100, seed=3)
    assert np.array_equal(ci, ci2) and np.array_equal(di, di2)


def test_equal_weights_give_back_every_draw_once():
    ci, di = fc.stacked_index([0.25] * 4, n_draw=50, seed=0)
    assert sorted(zip(ci.tolist(), di.tolist())) == [(c, d) for c in range(4) for d in range(50)]


def test_take_draws_keeps_values_and_extra_dims():
    vals = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    ds = xr.Dataset({"c": (("chain", "draw", "break"), vals), "s": (("chain", "draw"), vals[..., 0])})
    out = fc.take_draws(ds, (np.array([1, 0]), np.array([2, 0])))
    assert dict(out.sizes) == {"chain": 1, "draw": 2, "break": 2}
    np.testing.assert_array_equal(out["c"].values[0], [vals[1, 2], vals[0, 0]])
    np.testing.assert_array_equal(out["s"].values[0], [vals[1, 2, 0], vals[0, 0, 0]])


def test_one_chain_that_fits_far_better_takes_all_the_weight():
    # the IC/inet_5 ViT case: three chains stuck where the fit is poor, one found the good mode
    w = fc.chain_stacking_weights(_loglik([0.0, 0.0, 1.0, 0.0]))
    np.testing.assert_array_equal(w, [0, 0, 1, 0])


def test_two_modes_keep_the_better_pair():
    w = fc.chain_stacking_weights(_loglik([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(w, [0, 0.5, 0, 0.5])
