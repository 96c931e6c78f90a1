"""fit_many on a real dask.distributed LocalCluster: same draws as locally, resume, a killed worker."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from bnsl_bayes.many import fit_many  # noqa: E402
from bnsl_bayes.store import load_store  # noqa: E402
from test_many import OPTS, long_table, store_files  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _compiled_models():
    from bnsl_bayes import sampling

    return len(sampling._COMPILED)


def test_dask_run_matches_local_draws_reuses_one_compile_per_worker_and_resumes(client, tmp_path):
    df = long_table("abcdef")
    res = fit_many(df, "n", "loss", "task", store=tmp_path, client=client, **OPTS)
    assert res.ok and res.done == list("abcdef")
    # Six curves, one spec: each worker process holds a single compiled model that served all its curves.
    assert set(client.run(_compiled_models).values()) <= {0, 1}

    local = fit_many(df[df.task == "e"], "n", "loss", "task", **OPTS)
    np.testing.assert_array_equal(res.fits["e"].idata.posterior["c0"].values,
                                  local.fits["e"].idata.posterior["c0"].values)

    # A scheduler address works as well as a Client; nothing is left to do.
    again = fit_many(df, "n", "loss", "task", store=tmp_path, client=client.scheduler.address, **OPTS)
    assert again.done == [] and again.skipped == list("abcdef")


def test_bad_curve_on_dask_is_recorded_and_the_rest_finish(client, tmp_path):
    df = long_table("xyz")
    df["n"] = df["n"].astype(object)
    df.loc[12, "n"] = "ten"  # row 2 of curve "y": a typo in a CSV
    res = fit_many(df, "n", "loss", "task", store=tmp_path, client=client, **OPTS)
    assert res.done == ["x", "z"] and list(res.failed) == ["y"]
    assert "curve 'y'" in res.failed["y"] and "row 2 (index 12)" in res.failed["y"]
    assert load_store(tmp_path).errors().task.tolist() == ["y"]


def test_each_result_is_released_as_soon_as_it_is_collected(client, tmp_path):
    # A worker that dies while the client still holds a finished curve's future makes the scheduler
    # recompute that curve, which then writes to the store again after fit_many has returned (a
    # stray temp file in CI). Each future must be let go the moment its outcome is yielded.
    from bnsl_bayes.many import Job, _run_dask, curve_tasks
    from bnsl_bayes.spec import load_spec

    spec = load_spec(None, breaks=1)
    tasks = curve_tasks(long_table("pq"), "n", "loss", "task", 0, spec, {})
    job = Job(spec, dict(OPTS), str(tmp_path), "task")
    outcomes = _run_dask(tasks, job, client)
    first = next(outcomes)  # the other curve is still running or waiting for its result to be read
    assert first.status == "done"
    assert _held_after_a_moment(client, f"bnsl-fit-{first.key}-") == []
    assert [o.status for o in outcomes] == ["done"]


def _held_after_a_moment(client, prefix):
    import time

    for _ in range(50):  # Future.release() reaches the client's event loop asynchronously
        held = [k for k in client.futures if str(k).startswith(prefix)]
        if not held:
            break
        time.sleep(0.1)
    return held


def _die_mid_write_once(marker, victim):
    """Installed in each worker: the first time `victim`'s fit is saved, leave a partial file and die."""
    from pathlib import Path

    from bnsl_bayes import store

    real = store.Store.write_fit

    def write_fit(self, fit, cid, fingerprint):
        if cid.startswith(victim + "-") and not os.path.exists(marker):
            Path(marker).touch()
            half = lambda tmp: (Path(tmp).write_bytes(b"\x89HDF\r\n\x1a\n partial"), os._exit(1))  # noqa: E731
            store.atomic_write(self.fit_path(cid, fingerprint), half)
        return real(self, fit, cid, fingerprint)

    store.Store.write_fit = write_fit


def test_worker_killed_mid_write_then_rerun_leaves_one_valid_record_per_curve(client, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    marker = tmp_path / "died"
    store = tmp_path / "s"
    client.run(_die_mid_write_once, str(marker), "c")

    df = long_table("abcd")
    res = fit_many(df, "n", "loss", "task", store=store, client=client, **OPTS)
    assert marker.exists()  # the worker did die, inside atomic_write, leaving a partial temp file
    # The scheduler reran the lost task on a live worker (or, past its retry limit, recorded it failed).
    assert sorted(res.done + list(res.failed)) == list("abcd")

    rerun = fit_many(df, "n", "loss", "task", store=store, client=client, **OPTS)
    assert rerun.ok and sorted(rerun.done + rerun.skipped) == list("abcd")
    files = store_files(store)  # every file loads; no temp file is left
    assert len(files) == 4 and all(f.endswith(".nc") for f in files)
    assert sorted(load_store(store).keys) == list("abcd")


def test_backtest_on_dask_matches_the_local_backtest(client):
    """Every cut of every curve is one Dask task; the points scored are those of a local run."""
    from bnsl_bayes import backtest_many

    df = long_table("ab")
    on_dask = backtest_many(df, "n", "loss", "task", cuts=[0.6, 0.8], client=client, warn=False, **OPTS)
    local = backtest_many(df, "n", "loss", "task", cuts=[0.6, 0.8], warn=False, **OPTS)
    assert list(on_dask) == ["a", "b"]
    for key in "ab":
        pd.testing.assert_frame_equal(on_dask[key].points, local[key].points)


def test_cli_backtest_runs_its_fits_on_a_scheduler(client, tmp_path, capsys):
    from bnsl_bayes import backtest_many, cli

    df = long_table("ab")
    data = tmp_path / "curves.csv"
    df.to_csv(data, index=False)
    sampler = [f"--{k}={v}" for k, v in OPTS.items()]
    assert cli.main(["backtest", str(data), "--x", "n", "--y", "loss", "--group", "task", "--cuts", "-2",
                     "--scheduler", client.scheduler.address, "--out", str(tmp_path / "bt.csv"), *sampler]) == 0
    assert "all 2 curves:" in capsys.readouterr().out
    local = backtest_many(df, "n", "loss", "task", cuts=[-2], warn=False, **OPTS)
    table = pd.read_csv(tmp_path / "bt.csv")
    np.testing.assert_allclose(table["median"], pd.concat([local[k].points for k in "ab"])["median"])
