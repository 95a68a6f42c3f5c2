"""dask: time chunks chained through the state, column blocks in parallel, lazy accessors."""

from __future__ import annotations

import threading
import warnings

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax import EWMA, dynamic_unroll
from waxegg.wax.chunked import dask_unroll, stream_dask, to_store

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

EWM = hk.transform_with_state(lambda x: {"m": EWMA(alpha=0.2)(x), "noise": jax.random.normal(hk.next_rng_key(), ())})
KEY = jax.random.PRNGKey(3)


def ewma(x):
    return EWMA(alpha=0.1)(x)


def _frame_values(T=240, N=6, seed=2):
    x = np.random.default_rng(seed).standard_normal((T, N))
    x[:9, 0] = np.nan
    x[50:80, 3] = np.nan
    return x


def _dataarray(T=240, N=6, time_chunk=60, col_chunk=2):
    return xr.DataArray(_frame_values(T, N), dims=("time", "asset"), name="px",
                        coords={"time": pd.date_range("2002", periods=T, freq="h"), "asset": list("abcdef")[:N]}
                        ).chunk({"time": time_chunk, "asset": col_chunk})


EWM_ONLY = hk.transform_with_state(lambda x: EWMA(alpha=0.2)(x))


def test_dask_unroll_chain_equals_one_shot_with_rng():
    x = _frame_values()
    ref, ref_state = dynamic_unroll(EWM, x, KEY)
    out, state = dask_unroll(EWM, da.from_array(x, chunks=(50, 6)), KEY)
    assert out["m"].chunks == ((50, 50, 50, 50, 40), (6,))
    got, got_state = dask.compute(out, state, scheduler="threads")
    np.testing.assert_array_equal(got["m"], np.asarray(ref["m"]))
    np.testing.assert_array_equal(got["noise"], np.asarray(ref["noise"]))  # step keys carry on across chunks
    np.testing.assert_array_equal(got_state["ewma"]["mean"], np.asarray(ref_state["ewma"]["mean"]))


@pytest.mark.parametrize("chunks", [(50, 2), (240, 1), (17, 4)])
def test_dask_unroll_split_columns_equals_one_shot(chunks):
    x = _frame_values()
    ref, ref_state = dynamic_unroll(EWM_ONLY, x)
    xd = da.from_array(x, chunks=chunks)
    out, states = dask_unroll(EWM_ONLY, xd, split_axes=(1,))
    assert out.chunks == xd.chunks
    got, states = dask.compute(out, states, scheduler="threads")
    np.testing.assert_array_equal(got, np.asarray(ref))
    np.testing.assert_array_equal(np.concatenate([s["ewma"]["mean"] for s in states]),
                                  np.asarray(ref_state["ewma"]["mean"]))


def test_function_mixing_columns_cannot_be_split():
    # Only a mixing that changes the shape is detectable; declaring split axes is the caller's promise.
    mix = hk.transform_with_state(lambda x: jnp.sum(EWMA(alpha=0.2)(x)))
    with pytest.raises(ValueError, match=r"output 'output' has per-step shape \(\) .* does not keep the split axes"):
        dask_unroll(mix, da.from_array(_frame_values(), chunks=(60, 2)), split_axes=(1,))
    with pytest.raises(ValueError, match="params / state cannot be cut into column blocks"):
        dask_unroll(EWM, da.from_array(_frame_values(), chunks=(60, 2)), KEY, state={}, split_axes=(1,))


def test_inputs_chunked_differently_along_time():
    x = _frame_values()
    add = hk.transform_with_state(lambda xy: EWMA(alpha=0.2)(xy[0] + xy[1]))
    with pytest.raises(ValueError, match=r"chunked differently along time \(\(120, 120\) vs \(80, 80, 80\)\)"):
        dask_unroll(add, (da.from_array(x, chunks=(120, 6)), da.from_array(x, chunks=(80, 6))))


class _Counting:
    """A dask input whose blocks count how often they are loaded (to prove laziness)."""

    def __init__(self, x):
        self.x, self.loads, self.lock = x, 0, threading.Lock()

    def array(self, chunks):
        def load(block):
            if block.size:  # dask probes the function with an empty block for its metadata
                with self.lock:
                    self.loads += 1
            return block
        return da.from_array(self.x, chunks=chunks).map_blocks(load, dtype=self.x.dtype)


def test_accessors_are_lazy_and_equal_pandas():
    x = _frame_values()
    counting = _Counting(x)
    lazy = xr.DataArray(counting.array((60, 2)), dims=("time", "asset"))
    df = pd.DataFrame(x)
    results = {
        "mean": (lazy.wax.ewm(alpha=0.1).mean(), df.ewm(alpha=0.1).mean()),
        "var": (lazy.wax.ewm(com=4.0).var(), df.ewm(com=4.0).var()),
        "std": (lazy.wax.ewm(span=5.0).std(bias=True), df.ewm(span=5.0).std(bias=True)),
        "cov": (lazy.wax.ewm(alpha=0.3).cov(lazy * 2.0), df.ewm(alpha=0.3).cov(df * 2.0, pairwise=False)),
        "rolling": (lazy.wax.rolling(7, 3).mean(), df.rolling(7, 3).mean()),
    }
    assert counting.loads == 0  # nothing computed yet
    for name, (got, ref) in results.items():
        assert got.chunks == lazy.chunks, name
        np.testing.assert_allclose(got.compute().values, ref.to_numpy(), rtol=0, atol=1e-12, err_msg=name)
    assert counting.loads > 0


@pytest.mark.parametrize("name, backend", [
    ("mean", "numba"), ("mean", "jax"), ("var", "numba"), ("std", "numba"), ("cov", "numba"), ("rolling", "numba"),
])
def test_lazy_accessors_equal_the_one_shot_run_bit_for_bit(name, backend):
    # README: "accessors stay lazy on dask-backed objects", checked against the one-shot run, bit for bit.
    x = _frame_values()
    lazy = xr.DataArray(da.from_array(x, chunks=(60, 2)), dims=("time", "asset"))
    eager = xr.DataArray(x, dims=("time", "asset"))
    calls = {
        "mean": lambda o, b: o.wax.ewm(alpha=0.1, backend=b).mean(),
        "var": lambda o, b: o.wax.ewm(com=4.0, backend=b).var(),
        "std": lambda o, b: o.wax.ewm(span=5.0, backend=b).std(bias=True),
        "cov": lambda o, b: o.wax.ewm(alpha=0.3, backend=b).cov(o * 2.0),
        "rolling": lambda o, b: o.wax.rolling(7, 3).mean(),
    }
    got = calls[name](lazy, backend)
    assert got.chunks == lazy.chunks
    np.testing.assert_array_equal(got.compute().values, calls[name](eager, backend).values)


def test_mean_uses_the_backend_kernel_when_time_is_one_chunk():
    lazy = _dataarray(time_chunk=-1, col_chunk=3)
    got = lazy.wax.ewm(alpha=0.1).mean()
    assert "wax-chain" not in str(dict(got.data.dask)) and got.chunks == lazy.chunks
    xr.testing.assert_identical(got.compute(), lazy.compute().wax.ewm(alpha=0.1).mean())


def test_dataset_apply_is_lazy_and_keeps_layout():
    lazy = _dataarray()
    ds = xr.Dataset({"px": lazy, "vol": lazy.T * 3.0})  # vol is (asset, time)
    fn = lambda s: {"px": EWMA(alpha=0.2)(s["px"]), "vol": EWMA(alpha=0.4)(s["vol"])}
    got = ds.wax.stream(return_state=False).apply(fn)
    assert got.px.chunks is not None and got.vol.dims == ("asset", "time")
    ref = ds.compute().wax.stream(return_state=False).apply(fn)
    xr.testing.assert_identical(got.compute(), ref)


def test_stream_dask_split_dims_and_state():
    lazy = _dataarray(col_chunk=3)
    got, state = stream_dask(ewma, lazy, split_dims="asset", return_state=True)
    ref, ref_state = lazy.compute().wax.stream().apply(ewma, return_state=True)
    values, states = dask.compute(got, state)
    xr.testing.assert_identical(values, ref)
    np.testing.assert_array_equal(np.concatenate([s["ewma"]["mean"] for s in states]),
                                  np.asarray(ref_state["ewma"]["mean"]))
    with pytest.raises(ValueError, match=r"split_dims \['sector'\] are not dimensions of the DataArray"):
        stream_dask(ewma, lazy, split_dims="sector")
    with pytest.raises(ValueError, match="split_dims cannot contain the time dimension 'time'"):
        stream_dask(ewma, lazy, split_dims="time")


def test_cov_with_mismatched_coordinates_is_named():
    a = _dataarray()
    b = a.assign_coords(time=a.time + pd.Timedelta("1h"))
    with pytest.raises(ValueError, match="cov: 'px' and its other do not share coordinates"):
        a.wax.ewm(alpha=0.2).cov(b)


def test_distributed_local_cluster_equals_one_shot(tmp_path):
    distributed = pytest.importorskip("distributed")
    lazy = _dataarray(col_chunk=3)
    ref = lazy.compute().wax.stream(return_state=False).apply(ewma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, distributed.Client(cluster):
            got = stream_dask(ewma, lazy, split_dims="asset")
            values = got.compute()
            to_store(got, tmp_path / "out.zarr")
    xr.testing.assert_identical(values, ref)
    stored = xr.open_zarr(tmp_path / "out.zarr")["px"]
    np.testing.assert_array_equal(stored.values, ref.values)


def test_to_store_failure_leaves_nothing(tmp_path):
    def fail(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise OSError("disk went away")
        return block

    broken = xr.DataArray(da.from_array(_frame_values(), chunks=(60, 6)).map_blocks(fail, dtype=float),
                          dims=("time", "asset"), name="px")
    result = broken.wax.ewm(alpha=0.1).var()
    with pytest.raises(OSError, match="disk went away"):
        to_store(result, tmp_path / "out.zarr")
    assert list(tmp_path.iterdir()) == []


def test_numba_kernel_from_dask_threads_with_workqueue_layer():
    # Regression: under Numba's workqueue layer (what waxegg.egg selects when the user picked none; it aborts on
    # concurrent parallel launches), dask's threads calling the EWM kernel crashed the process. The layer is
    # named in the child's environment so the scenario holds whoever chooses it, and checked below.
    import os
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import waxegg.egg.kernels, numba
        import numpy as np, pandas as pd, xarray as xr, dask.array as da
        from waxegg.wax import register_wax_accessors
        register_wax_accessors()
        x = xr.DataArray(da.random.default_rng(0).standard_normal((500, 256), chunks=(500, 32)), dims=("time", "a"))
        got = x.wax.ewm(alpha=0.1).mean().compute(scheduler="threads")
        ref = pd.DataFrame(x.values).ewm(alpha=0.1).mean().to_numpy()
        print(float(np.abs(got.values - ref).max()), numba.threading_layer())
    """)
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    err, layer = done.stdout.split()[-2:]
    assert layer == "workqueue"
    assert float(err) <= 1e-12
