"""WAX-ML 0.7's public functions under waxegg.wax (encode's scalar encoders first)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from waxegg.wax.encode import (decode_datetime, decode_datetime64, encode_datetime, floor_datetime,
                                decode_int64, decode_timestamp, encode_datetime64, encode_int64,
                               encode_timestamp)


@pytest.mark.parametrize("value", [0, 1, -1, 2**32, 2**32 + 7, -(2**40) - 3, 2**63 - 1, -(2**63)])
def test_encode_int64_round_trip_and_words(value):
    code = encode_int64(value)
    assert code.dtype == np.uint32 and code.shape == (2,)
    # hand-checked words: high * 2**32 + low is the value modulo 2**64
    assert (int(code[0]) << 32) + int(code[1]) == value % 2**64
    assert decode_int64(code) == value


def test_encode_int64_rejects_non_integers():
    with pytest.raises(TypeError, match="seed must be an int"):
        encode_int64(1.5)
    with pytest.raises(TypeError, match="seed must be a scalar"):
        encode_int64(np.arange(2))


def test_timestamp_and_datetime64_round_trip():
    t = pd.Timestamp("2021-03-04 05:06:07.000000123")
    assert decode_timestamp(encode_timestamp(t)) == t
    assert decode_int64(encode_timestamp(t)) == t.value
    d = np.datetime64("1969-12-31T23:59:59.5")
    assert decode_datetime64(encode_datetime64(d)) == d
    assert decode_int64(encode_datetime64(d)) == -500_000_000


def test_datetime_round_trip():
    import datetime

    d = datetime.datetime(2021, 3, 4, 5, 6, 7, 891011)
    assert decode_datetime(encode_datetime(d)) == d


@pytest.mark.parametrize("freq", ["D", "h", "15min"])
def test_floor_datetime_equals_pandas_dt_floor(freq):
    times = pd.Series(pd.date_range("2018-01-01 04:00:00", "2018-01-03 22:00:00", freq="7min")).to_numpy()
    expected = pd.Series(times).dt.floor(freq).to_numpy()
    np.testing.assert_array_equal(floor_datetime(times, freq), expected)
    assert floor_datetime(np.datetime64("2018-01-01T23:59"), "d") == np.datetime64("2018-01-01")


# --- unroll (WAX-ML 0.7 notebooks' step 2: jax.jit(unroll(f))(xs)) ---------------------------------------------


def _ewma_frame(T: int = 300, N: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, N))
    x[rng.random((T, N)) < 0.1] = np.nan
    return pd.DataFrame(x)


def test_jit_unroll_of_an_ewma_equals_pandas_ewm_mean():
    import jax

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.modules import EWMA
    from waxegg.wax.unroll import unroll

    df = _ewma_frame()
    with x64_context():
        out = jax.jit(unroll(lambda x: EWMA(com=10)(x)))(df.to_numpy())
        out = np.asarray(out)
    assert out.dtype == np.float64
    # pandas DataFrame.ewm(com=10).mean(), the reference (float64: relative 1e-12)
    np.testing.assert_allclose(out, df.ewm(com=10).mean().to_numpy(), rtol=1e-12, atol=0)


def test_unroll_options_skip_first_final_state_static_params():
    import haiku as hk

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.modules import EWMA
    from waxegg.wax.unroll import UnrollTransformedWithState, unroll, unroll_transform_with_state

    df = _ewma_frame(T=50, N=2)
    x = df.to_numpy()

    def f(x):
        return EWMA(com=3)(x)

    with x64_context():
        dyn, final = unroll(f, return_final_state=True)(x)
        static = unroll(f, dynamic=False)(x)
        skipped = unroll(f, skip_first=True)(x)
        t = unroll_transform_with_state(f)
        assert isinstance(t, UnrollTransformedWithState)
        assert unroll_transform_with_state(t) is t
        params, state = t.init(None, x)
        # apply from the final state of the first half = the second half of the whole run (state carried exactly)
        first, mid = t.apply(params, state, None, x[:25])
        second, _ = t.apply(params, mid, None, x[25:])
        # a hk.Transformed pair is accepted as WAX-ML does
        via_pair = unroll(hk.transform_with_state(f))(x)
    ref = df.ewm(com=3).mean().to_numpy()
    np.testing.assert_allclose(np.asarray(dyn), ref, rtol=1e-12, atol=0)
    # the Python loop runs op by op, the scan as one fused XLA program: rounding may differ in the last bits
    np.testing.assert_allclose(np.asarray(static), np.asarray(dyn), rtol=1e-13, atol=0)
    np.testing.assert_array_equal(np.asarray(via_pair), np.asarray(dyn))
    np.testing.assert_array_equal(np.concatenate([np.asarray(first), np.asarray(second)]), np.asarray(dyn))
    # skip_first: init sees step 0, apply starts at step 1 (pandas' ewm of x[1:])
    np.testing.assert_allclose(np.asarray(skipped), df.iloc[1:].ewm(com=3).mean().to_numpy(), rtol=1e-12, atol=0)
    assert set(final) == set(state)  # the final state has the initial state's modules


def test_unroll_splits_the_rng_at_every_step_as_waxml():
    import haiku as hk
    import jax

    from waxegg.wax.unroll import unroll

    def f(x):
        return x + jax.random.uniform(hk.next_rng_key())

    xs = np.zeros(5, dtype=np.float32)
    key = jax.random.PRNGKey(42)
    out = np.asarray(unroll(f, rng=key)(xs))
    # hand-built chain: rng, sub = split(rng) before each step; the step runs on sub
    one_step = hk.transform(f)
    expected, rng = [], key
    for x in xs:
        rng, sub = jax.random.split(rng)
        expected.append(float(one_step.apply({}, sub, x)))
    np.testing.assert_array_equal(out, np.asarray(expected, dtype=np.float32))
    assert len(set(out.tolist())) == 5


def test_unroll_errors():
    from waxegg.wax.unroll import unroll

    with pytest.raises(TypeError, match="callable"):
        unroll(3)
    with pytest.raises(ValueError, match="zero steps"):
        unroll(lambda x: x)(np.zeros((0, 2)))


def test_fori_loop_data_and_gym_unrolls_equal_pandas():
    import haiku as hk

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.modules import EWMA
    from waxegg.wax.unroll import data_unroll, dynamic_unroll_fori_loop, gym_static_unroll

    df = _ewma_frame(T=40, N=2)
    x = df.to_numpy()
    ref = df.ewm(com=4).mean().to_numpy()  # pandas DataFrame.ewm(com=4).mean()
    t = hk.transform_with_state(lambda x: EWMA(com=4)(x))
    with x64_context():
        out, _ = dynamic_unroll_fori_loop(t, None, None, None, False, x)
        skipped, _ = dynamic_unroll_fori_loop(t, None, None, None, True, x)
        stacked = data_unroll(((row, {}) for row in x), pbar=False)
        gym, _ = gym_static_unroll(t, None, None, hk.PRNGSequence(0), False, ((row, {}) for row in x))
        gym_skip, _ = gym_static_unroll(t, None, None, hk.PRNGSequence(0), True, ((row, {}) for row in x))
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(skipped), df.iloc[1:].ewm(com=4).mean().to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(np.asarray(stacked), x)
    np.testing.assert_allclose(np.asarray(gym), ref, rtol=1e-12, atol=0)
    # skip_first: the first observation only initialises, it is not averaged in (pandas' ewm of x[1:])
    np.testing.assert_allclose(np.asarray(gym_skip), df.iloc[1:].ewm(com=4).mean().to_numpy(), rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="nothing"):
        data_unroll(iter(()), pbar=False)


# --- format: WAX-ML's defaults ----------------------------------------------------------------------------------


def test_format_dataframe_without_format_dims_and_auto_format_with_shape():
    import xarray as xr

    from waxegg.wax.format import auto_format_with_shape, format_dataframe, tree_auto_format_with_shape

    values = np.arange(6.0).reshape(3, 2)
    frame = format_dataframe(None, values)
    pd.testing.assert_frame_equal(frame, pd.DataFrame(values, index=pd.RangeIndex(3, name="dim_0"),
                                                      columns=pd.RangeIndex(2, name="dim_1")))
    series = format_dataframe(None, {"a": np.arange(3.0)})["a"]
    pd.testing.assert_series_equal(series, pd.Series(np.arange(3.0), index=pd.RangeIndex(3, name="dim_0")))
    # 3-D outputs: WAX-ML's index_nlevels (index = the first dims, columns = the others), by hand
    cube = np.arange(24.0).reshape(2, 3, 4)
    wide = format_dataframe(None, cube)
    assert wide.shape == (2, 12) and wide.columns.names == ["dim_1", "dim_2"]
    assert wide.loc[1, (2, 3)] == cube[1, 2, 3] and wide.loc[0, (1, 0)] == cube[0, 1, 0]
    tall = format_dataframe(None, cube, index_nlevels=2)
    assert tall.shape == (6, 4) and tall.index.names == ["dim_0", "dim_1"]
    assert tall.loc[(1, 2), 3] == cube[1, 2, 3]
    with pytest.raises(ValueError, match="no dims"):
        format_dataframe(None, cube, ("a", "b", "c"), index_nlevels=3)

    times = pd.date_range("2026-01-01", periods=3, freq="h", name="time")
    ds = xr.Dataset({"x": (("time", "asset"), values)}, coords={"time": times, "asset": ["a", "b"]})
    da = auto_format_with_shape(ds, values * 2)
    xr.testing.assert_identical(da, xr.DataArray(values * 2, dims=("time", "asset"),
                                                 coords={"time": times, "asset": ["a", "b"]}))
    df = auto_format_with_shape(ds, values, output_format="dataframe")
    pd.testing.assert_frame_equal(df, ds["x"].to_pandas())
    s = auto_format_with_shape(ds, np.ones(3), output_format="dataframe")
    pd.testing.assert_series_equal(s, pd.Series(np.ones(3), index=times))
    unmatched = np.ones(7)
    assert auto_format_with_shape(ds, unmatched) is unmatched
    tree = tree_auto_format_with_shape(ds, {"m": values, "s": np.ones(3)})
    assert tree["m"].dims == ("time", "asset") and tree["s"].dims == ("time",)
    with pytest.raises(ValueError, match="Unknown format"):
        auto_format_with_shape(ds, values, output_format="polars")


# --- stateful lifts and batch transforms ------------------------------------------------------------------------


def test_unroll_lift_and_batch_transforms_equal_pandas():
    import haiku as hk

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.modules import EWMA
    from waxegg.wax.stateful import unroll_lift_with_state
    from waxegg.wax.transform import BatchState, transform_batch_with_state, transform_batch_with_state_static

    df = _ewma_frame(T=30, N=2)
    x = df.to_numpy()
    ref = df.ewm(com=2).mean().to_numpy()  # pandas DataFrame.ewm(com=2).mean()

    def ewma(x):
        return EWMA(com=2)(x)

    outer = hk.transform_with_state(lambda xs: unroll_lift_with_state(ewma)(xs))
    outer_skip = hk.transform_with_state(lambda xs: unroll_lift_with_state(ewma, skip_first=True)(xs))
    with x64_context():
        import jax

        params, state = outer.init(jax.random.PRNGKey(0), x)  # init_rng=True: the inner init draws a key
        out, state = outer.apply(params, state, None, x)
        p2, s2 = outer_skip.init(jax.random.PRNGKey(0), x)
        skipped, _ = outer_skip.apply(p2, s2, None, x)
        batch = transform_batch_with_state(hk.transform_with_state(ewma))
        bp, bs = batch.init(None, x)
        b_out, b_final = batch.apply(bp, bs, None, x)
        static = transform_batch_with_state_static(hk.transform_with_state(ewma), pbar=False)
        sp, ss = static.init(None, x)
        s_out, _ = static.apply(sp, ss, None, x)
    assert any("unroll_lift" in name for name in state)  # the inner state lives in the outer state
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(skipped), df.iloc[1:].ewm(com=2).mean().to_numpy(), rtol=1e-12, atol=0)
    assert isinstance(b_final, BatchState) and bp == ()
    np.testing.assert_allclose(np.asarray(b_out), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(s_out), ref, rtol=1e-12, atol=0)


def test_vmap_lift_gives_each_member_its_own_state_and_keys():
    import haiku as hk
    import jax

    from waxegg.wax.modules import EWMA
    from waxegg.wax.stateful import unroll_lift_with_state, vmap_lift_with_state

    rng = np.random.default_rng(1)
    # batch of 3 members, each a (T=20, N=2) sequence: vmap over members, unroll over time inside each
    xs = rng.normal(size=(3, 20, 2)).astype(np.float32)
    f = hk.transform_with_state(lambda xs: vmap_lift_with_state(unroll_lift_with_state(lambda x: EWMA(com=5)(x)))(xs))
    params, state = f.init(jax.random.PRNGKey(0), xs)
    out, _ = f.apply(params, state, jax.random.PRNGKey(1), xs)
    for b in range(3):  # each member equals pandas' ewm of its own sequence (float32 recursion: rtol 1e-5)
        np.testing.assert_allclose(np.asarray(out[b]), pd.DataFrame(xs[b]).ewm(com=5).mean().to_numpy(),
                                   rtol=1e-5, atol=1e-6)

    noisy = hk.transform_with_state(
        lambda x: vmap_lift_with_state(lambda x: x + jax.random.uniform(hk.next_rng_key()), split_rng=True)(x))
    p, s = noisy.init(jax.random.PRNGKey(0), np.zeros(4, np.float32))
    drawn, _ = noisy.apply(p, s, jax.random.PRNGKey(3), np.zeros(4, np.float32))
    assert len(set(np.asarray(drawn).tolist())) == 4  # one key per member
    with pytest.raises(ValueError, match="split_rng=True requires init_rng=True"):
        vmap_lift_with_state(lambda x: x, split_rng=True, init_rng=False)
    with pytest.raises(ValueError, match="split_rng=True requires init_rng=True"):
        unroll_lift_with_state(lambda x: x, split_rng=True, init_rng=False)


# --- accessors: WAX-ML's stream(return_state=, verbose=) and apply(format_dims=) -------------------------------


def test_stream_return_state_verbose_and_apply_format_dims():
    import xarray as xr

    from waxegg.wax.accessors import register_wax_accessors
    from waxegg.wax.modules import EWMA

    register_wax_accessors()
    df = _ewma_frame(T=40, N=2)
    df.index = pd.date_range("2026-01-01", periods=40, freq="min", name="time")
    df.columns = pd.Index(["a", "b"], name="asset")

    def f(x):
        return EWMA(com=3)(x)

    ref = df.ewm(com=3).mean()  # pandas DataFrame.ewm(com=3).mean()
    out, state = df.wax.stream(return_state=True, verbose=False).apply(f)
    pd.testing.assert_frame_equal(out, ref, check_exact=False, rtol=1e-12, atol=0)
    assert state  # the EWMA's state after the last step
    # continuing from the returned state = the whole run (the call returns the result alone when asked)
    first, mid = df.iloc[:20].wax.stream().apply(f, return_state=True)
    second = df.iloc[20:].wax.stream(return_state=True).apply(f, state=mid, return_state=False)
    pd.testing.assert_frame_equal(pd.concat([first, second]), ref, check_exact=False, rtol=1e-12, atol=0)
    # format_dims names the output dims by the input's coordinate names (WAX-ML's accessor option)
    by_dims = df.wax.stream(return_state=False).apply(f, format_dims=("time", "asset"))
    pd.testing.assert_frame_equal(by_dims, ref, check_exact=False, rtol=1e-12, atol=0, check_freq=False)
    da = xr.DataArray(df.to_numpy(), dims=("time", "asset"), coords={"time": df.index, "asset": df.columns})
    da_out = da.wax.stream(return_state=False).apply(f, format_dims=("time", "asset"))
    assert isinstance(da_out, xr.DataArray) and da_out.dims == ("time", "asset")
    np.testing.assert_allclose(da_out.values, ref.to_numpy(), rtol=1e-12, atol=0)
    raw = df.wax.stream(format_outputs=False, return_state=False).apply(f)
    assert not isinstance(raw, pd.DataFrame)
    np.testing.assert_allclose(np.asarray(raw), ref.to_numpy(), rtol=1e-12, atol=0)
    with pytest.raises(TypeError, match="verbose"):
        df.wax.stream(verbose="yes")


# --- stream: WAX-ML's dataset helpers ---------------------------------------------------------------------------


def test_dataset_helpers_split_by_time_dimension():
    import xarray as xr

    from waxegg.wax.stream import (dataset_to_numpy, get_dataset_time_coords, get_time_dataset,
                                   split_dataset_from_time_dims)

    t1 = pd.date_range("2026-01-01", periods=4, freq="h")
    t2 = pd.date_range("2026-01-01", periods=2, freq="D")
    ds = xr.Dataset({"a": (("t1", "x"), np.arange(8.0).reshape(4, 2)), "b": (("t2",), [1.0, 2.0]),
                     "c": (("x",), [5.0, 6.0])}, coords={"t1": t1, "t2": t2, "x": [0, 1]})
    assert get_dataset_time_coords(ds) == {"t1", "t2"}
    arrays = dataset_to_numpy(ds)
    assert set(arrays) == {"a", "b", "c"}
    np.testing.assert_array_equal(arrays["a"], np.arange(8.0).reshape(4, 2))
    times = get_time_dataset(ds)
    np.testing.assert_array_equal(times["t1_index"].values, [0, 1, 2, 3])
    np.testing.assert_array_equal(times["t2_index"]["t2"].values, t2.values)
    parts = split_dataset_from_time_dims(ds)
    assert set(parts) == {"t1", "t2"}
    assert list(parts["t1"].data_vars) == ["a"] and list(parts["t2"].data_vars) == ["b"]
    xr.testing.assert_identical(parts["t1"]["a"], ds["a"])
    with pytest.raises(ValueError, match="No time coordinate"):
        get_dataset_time_coords(xr.Dataset({"c": (("x",), [1.0])}))
    two = xr.Dataset({"m": (("t1", "t2"), np.zeros((4, 2)))}, coords={"t1": t1, "t2": t2})
    with pytest.raises(ValueError, match="'m' has several time dimensions"):
        split_dataset_from_time_dims(two)


def test_dynamic_and_static_unroll_accept_waxml_call_form():
    import haiku as hk

    from waxegg.wax._x64 import x64_context
    from waxegg.wax.modules import EWMA
    from waxegg.wax.unroll import dynamic_unroll, static_unroll

    df = _ewma_frame(T=30, N=2)
    x = df.to_numpy()
    t = hk.transform_with_state(lambda x: EWMA(com=2)(x))
    with x64_context():
        # WAX-ML: dynamic_unroll(fun, params, state, rng, skip_first, *args)
        out, _ = dynamic_unroll(t, None, None, None, False, x)
        skipped, _ = dynamic_unroll(t, None, None, None, True, x)
        static, _ = static_unroll(t, None, None, None, False, x)
        seed_form, _ = dynamic_unroll(t, x)  # the seed's form is unchanged
    ref = df.ewm(com=2).mean().to_numpy()  # pandas DataFrame.ewm(com=2).mean()
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(static), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(seed_form), ref, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.asarray(skipped), df.iloc[1:].ewm(com=2).mean().to_numpy(), rtol=1e-12, atol=0)


def test_waxml_encoders_and_dataset_coding():
    import xarray as xr

    from waxegg.wax.encode import (DecodeDataset, Encoder, datetime64_encoder, decode_dataset, encode_dataset,
                                   encode_datetime64, encode_int64, floor_jax_datekey, less, string_encoder)

    labels = np.array([["b", "a"], ["c", "a"]])
    enc = string_encoder(labels)
    assert isinstance(enc, Encoder)
    np.testing.assert_array_equal(enc.encode(labels), [[1, 0], [2, 0]])  # sorted distinct strings: a, b, c
    np.testing.assert_array_equal(enc.decode(enc.encode(labels)), labels)
    with pytest.raises(ValueError, match="not fitted"):
        enc.encode(np.array(["z"]))

    times = pd.date_range("1969-12-31 23:00", periods=5, freq="37min").to_numpy()  # across the epoch: negatives
    dt = datetime64_encoder(times)
    words = dt.encode(times)
    assert words.dtype == np.uint32 and words.shape == (5, 2)
    for i, t in enumerate(times):  # the scalar encoder is the reference for each row
        np.testing.assert_array_equal(words[i], encode_datetime64(t))
    np.testing.assert_array_equal(dt.decode(words), times)

    assert less(encode_int64(5), encode_int64(7)) and not less(encode_int64(7), encode_int64(5))
    assert not less(encode_int64(7), encode_int64(7))
    stamp = pd.Timestamp("2026-12-02 12:34:56.789")
    floored = np.asarray(floor_jax_datekey(encode_int64(stamp.value)))
    np.testing.assert_array_equal(floored, encode_int64(pd.Timestamp("2026-12-02").value))

    ds = xr.Dataset({"s": (("t",), np.array(["x", "y", "x"])), "v": (("t",), [1.0, 2.0, 3.0])})
    coded = encode_dataset({"s": string_encoder(ds["s"].values)}, ds)  # WAX-ML's (encoders, dataset)
    np.testing.assert_array_equal(coded["s"], [0, 1, 0])
    xr.testing.assert_identical(coded["v"], ds["v"])
    back = decode_dataset({"s": string_encoder(ds["s"].values)}, coded)
    np.testing.assert_array_equal(back["s"], ds["s"].values)
    arrays, encoders = encode_dataset(ds)  # waxegg's own form is unchanged
    np.testing.assert_array_equal(arrays["s"], [0, 1, 0])
    assert set(encoders) == {"s"}
    assert DecodeDataset._fields[0] == "iter_coords" and len(DecodeDataset._fields) == 11


# --- the rest of WAX-ML's small public helpers ------------------------------------------------------------------


def test_utils_testing_predicate_and_optim_newton_module():
    import jax.numpy as jnp

    from waxegg.wax import predicate, testing, utils
    import importlib

    newton_module = importlib.import_module("waxegg.wax.optim.newton")  # wax.optim.newton, WAX-ML's module path

    assert utils.dict_map(lambda v: v * 2, {"a": 1, "b": 3}) == {"a": 2, "b": 6}
    assert utils.get_unique_dtype({"a": np.zeros(2, np.float32), "b": (np.ones(1, np.float32),)}) is np.float32
    with pytest.raises(ValueError, match="float32.*float64|float64.*float32"):
        utils.get_unique_dtype([np.zeros(1, np.float32), np.zeros(1)])
    assert predicate.pass_all_predicate("linear", "w", jnp.zeros(2)) is True
    assert callable(newton_module.newton) and callable(newton_module.sherman_morrison)

    testing.assert_tree_all_close({"a": np.array([1.0, 2.0])}, {"a": np.array([1.0, 2.0 + 1e-12])})
    testing.assert_tree_all_close((np.array([1, 2], testing.int32),), (np.array([1, 2], np.int32),))
    with pytest.raises(AssertionError):
        testing.assert_tree_all_close({"a": np.array([1, 2], np.int32)}, {"a": np.array([1, 3], np.int32)})
    with pytest.raises(AssertionError):
        testing.assert_tree_all_close({"a": np.zeros(2)}, {"b": np.zeros(2)})
    with pytest.raises(AssertionError, match="float32"):
        testing.assert_tree_all_close(np.zeros(2), np.zeros(2, np.float32))
    import jax

    before = jax.config.jax_enable_x64
    testing.assert_tree_all_close(np.zeros(1), np.zeros(1))
    assert jax.config.jax_enable_x64 == before  # WAX-ML's turned 64-bit mode off for the whole process


def test_unroll_static_scan_iter_first_axis_and_scan_state():
    from waxegg.wax.unroll import ScanState, iter_first_axis, logger, static_scan

    xs = {"a": np.arange(4.0), "b": np.arange(8.0).reshape(4, 2)}
    rows = list(iter_first_axis(xs))
    assert len(rows) == 4 and rows[2]["a"] == 2.0 and np.array_equal(rows[3]["b"], [6.0, 7.0])
    # mirrors: jax.lax.scan(f, 0.0, xs) with a running sum
    carry, ys = static_scan(lambda c, x: (c + x["a"], c + x["a"]), 0.0, xs)
    assert float(carry) == 6.0
    np.testing.assert_array_equal(np.asarray(ys), [0.0, 1.0, 3.0, 6.0])
    carry, ys = static_scan(lambda c, _: (c + 1, c * 10), 0, length=3)
    assert int(carry) == 3 and np.asarray(ys).tolist() == [0, 10, 20]
    with pytest.raises(ValueError, match="length"):
        static_scan(lambda c, x: (c, x), 0)
    assert ScanState(fun_state={"s": 1}, rng=None).fun_state == {"s": 1}
    assert logger.name == "waxegg.wax.unroll"
