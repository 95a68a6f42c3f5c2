"""Chunked streaming (waxegg.wax.chunked.chunked_unroll): equal to the one-shot dynamic_unroll."""

from __future__ import annotations

import haiku as hk
import jax
import numpy as np
import pytest

from waxegg.wax import EWMA, dynamic_unroll
from waxegg.wax.chunked import ChunkError, chunked_unroll, time_chunks
from waxegg.wax.modules import EWMVar, Lag, RollingMean


def _many(x):
    # Several stateful modules and a per-step random draw: every kind of carried state at once.
    noise = jax.random.uniform(hk.next_rng_key(), x.shape, x.dtype)
    return {"mean": EWMA(alpha=0.1)(x), "var": EWMVar(com=3.0)(x), "roll": RollingMean(5, 2)(x),
            "lag": Lag(3)(x), "noise": noise}


MANY = hk.transform_with_state(_many)
EWM = hk.transform_with_state(lambda x: EWMA(alpha=0.3, adjust=False)(x))
KEY = jax.random.PRNGKey(7)


def _data(T=301, N=5, dtype=np.float64, seed=0):
    x = np.random.default_rng(seed).standard_normal((T, N)).astype(dtype)
    x[:4, 0] = np.nan
    x[100:140, 1] = np.nan
    return x


def _assert_same(got, ref):
    got, ref = jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        g, r = np.asarray(g), np.asarray(r)
        assert g.dtype == r.dtype and g.shape == r.shape
        # Each chunk runs the same compiled step from the same carried state: bit for bit equal.
        np.testing.assert_array_equal(g, r)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunk_size", [1, 7, 100, 301, 1000, (50, 1, 200, 50)])
def test_equals_one_shot(dtype, chunk_size):
    x = _data(T=40 if chunk_size == 1 else 301, dtype=dtype)
    ref, ref_state = dynamic_unroll(MANY, x, KEY)
    got, state = chunked_unroll(MANY, x, KEY, chunk_size=chunk_size)
    _assert_same(got, ref)
    _assert_same(state, ref_state)
    assert got["mean"].dtype == dtype and isinstance(got["mean"], np.ndarray)


def test_warm_start_continues_the_stream():
    x = _data()
    ref, _ = dynamic_unroll(EWM, x)
    head, state = chunked_unroll(EWM, x[:120], chunk_size=50)
    params, _ = EWM.init(None, x[0])
    tail, _ = chunked_unroll(EWM, x[120:], chunk_size=64, params=params, state=state)
    np.testing.assert_array_equal(np.concatenate([head, tail]), np.asarray(ref))


def test_time_chunks():
    assert time_chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert time_chunks(5, (2, 3)) == [(0, 2), (2, 5)]
    with pytest.raises(ValueError, match=r"cover 4 steps but the data has 5"):
        time_chunks(5, (2, 2))
    with pytest.raises(ValueError, match="chunk lengths must be >= 1, got 0"):
        time_chunks(5, (5, 0))
    with pytest.raises(ValueError, match="chunk_size must be >= 1, got 0"):
        time_chunks(5, 0)


def test_npy_and_memmap_in_npy_out(tmp_path):
    x = _data(T=500, N=3, dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    ref, _ = dynamic_unroll(EWM, x)
    out = tmp_path / "y.npy"
    got, _ = chunked_unroll(EWM, str(tmp_path / "x.npy"), chunk_size=64, out=out, pbar=True)
    assert isinstance(got, np.memmap) and got.dtype == np.float32
    np.testing.assert_array_equal(got, np.asarray(ref))
    np.testing.assert_array_equal(np.load(out), np.asarray(ref))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]  # no .partial left

    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    got2, _ = chunked_unroll(EWM, mm, chunk_size=(100, 400), out=out, overwrite=True)
    np.testing.assert_array_equal(got2, np.asarray(ref))
    with pytest.raises(FileExistsError, match="y.npy.*overwrite=True"):
        chunked_unroll(EWM, mm, out=out)


def test_zarr_out_holds_every_output(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = _data(T=200, N=4)
    two = hk.transform_with_state(lambda x: {"mean": EWMA(alpha=0.1)(x), "lag": Lag(3)(x)})
    ref, _ = dynamic_unroll(two, x)
    got, _ = chunked_unroll(two, x, chunk_size=100, out=tmp_path / "y.zarr")
    group = zarr.open_group(tmp_path / "y.zarr", mode="r")
    assert sorted(group.array_keys()) == sorted(ref)
    _assert_same({k: v[:] for k, v in got.items()}, ref)


def test_npy_out_needs_one_output(tmp_path):
    with pytest.raises(ChunkError, match="a .npy file holds one array but the function returns 5 outputs"):
        chunked_unroll(MANY, _data(T=20), KEY, out=tmp_path / "y.npy")
    assert list(tmp_path.iterdir()) == []


def test_zarr_input_chunks_drive_the_loop_and_a_corrupt_chunk_leaves_nothing(tmp_path):
    zarr = pytest.importorskip("zarr")
    x = _data(T=400, N=3)
    z = zarr.create_array(tmp_path / "x.zarr", shape=x.shape, chunks=(100, 3), dtype=x.dtype)
    z[:] = x
    ref, _ = dynamic_unroll(EWM, x)
    got, _ = chunked_unroll(EWM, z, chunk_size=100)
    np.testing.assert_array_equal(got, np.asarray(ref))

    # Damage the third stored chunk: reading it fails half way through the run.
    chunk_files = sorted(p for p in (tmp_path / "x.zarr").rglob("*") if p.is_file() and p.parent.name == "2")
    assert chunk_files, "expected the zarr chunk file of rows 200:300"
    chunk_files[0].write_bytes(b"not a zarr chunk")
    out = tmp_path / "y.npy"
    with pytest.raises(ChunkError, match=r"chunk 2 of 4 \(steps 200:300\) failed.*nothing was left at"):
        chunked_unroll(EWM, zarr.open_array(tmp_path / "x.zarr", mode="r"), chunk_size=100, out=out)
    assert not out.exists() and not (tmp_path / "y.npy.partial").exists()


def test_state_from_another_module_is_named():
    x = _data(T=30)
    _, other_state = dynamic_unroll(hk.transform_with_state(lambda x: RollingMean(3)(x)), x)
    params, _ = EWM.init(None, x[0])
    with pytest.raises(ValueError, match="state does not belong to this module: missing entries"):
        chunked_unroll(EWM, x, params=params, state=other_state)


def test_state_of_another_shape_or_dtype_is_named():
    x = _data(T=30, N=5)
    params, _ = EWM.init(None, x[0])
    _, narrow = dynamic_unroll(EWM, x[:, :2])
    with pytest.raises(ValueError, match=r"state\['ewma'\]\['\w+'\] has shape \(2,\).*needs shape \(5,\)"):
        chunked_unroll(EWM, x, params=params, state=narrow)
    _, single = dynamic_unroll(EWM, x.astype(np.float32))
    with pytest.raises(ValueError, match="dtype float32, but this input needs shape .* dtype float64"):
        chunked_unroll(EWM, x, params=params, state=single)


def test_inputs_of_different_lengths_or_chunks():
    da = pytest.importorskip("dask.array")
    x = _data(T=30)
    with pytest.raises(ValueError, match="same number of steps"):
        chunked_unroll(hk.transform_with_state(lambda xy: xy[0] + xy[1]), (x, x[:20]))
    with pytest.raises(ValueError, match=r"chunked differently along time \(\(10, 10, 10\) vs \(15, 15\)\)"):
        chunked_unroll(hk.transform_with_state(lambda xy: xy[0] + xy[1]),
                       (da.from_array(x, chunks=(10, 5)), da.from_array(x, chunks=(15, 5))))


def test_string_input_is_refused():
    with pytest.raises(TypeError, match="needs numeric inputs, got dtype <U1"):
        chunked_unroll(EWM, np.array(list("abcdef")))
