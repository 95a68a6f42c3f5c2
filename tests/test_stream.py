import haiku as hk
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from waxegg.wax import EWMA, Stream, convert_to_tensors, dynamic_unroll, jit_init_apply, tree_access_data


def _dataset(T=20):
    t = pd.date_range("2020", periods=T, freq="h")
    return xr.Dataset(
        {"x": (("time", "asset"), np.arange(T * 3, dtype=float).reshape(T, 3)),
         "name": ("time", np.array(["a", "b"] * (T // 2))),
         "w": ("asset", np.array([1.0, 2.0, 3.0]))},
        coords={"time": t, "asset": ["p", "q", "r"]},
    )


def test_trace_dataset_layout():
    ds = _dataset()
    np_data, np_index, xs = Stream().trace_dataset(ds)
    assert set(np_data) == {"time", "__static__"}
    assert np_data["time"]["x"].shape == (20, 3)
    assert np_data["time"]["name"].dtype == np.int32
    np.testing.assert_array_equal(np_index["time"], np.arange(20))
    np.testing.assert_array_equal(xs, np.arange(20))
    step = tree_access_data(np_data, np_index, 4)
    np.testing.assert_array_equal(step["x"], [12.0, 13.0, 14.0])
    np.testing.assert_array_equal(step["w"], [1.0, 2.0, 3.0])


def test_convert_to_tensors_keeps_float64():
    ds = _dataset()
    np_data, np_index, xs = Stream().trace_dataset(ds)
    jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")
    assert jnp_data["time"]["x"].dtype == jnp.float64
    with pytest.raises(ValueError, match="backend"):
        convert_to_tensors(np_data, "torch")


def test_three_step_workflow_small():
    # The seed tutorial at a small size, with its exact call forms.
    dataframe = pd.DataFrame(np.random.default_rng(1).normal(size=(200, 7)),
                             index=pd.date_range("1970", periods=200, freq="s"))
    dataset = xr.DataArray(dataframe).to_dataset(name="dataarray")
    stream = dataframe.wax.stream()
    np_data, np_index, xs = stream.trace_dataset(dataset)
    jnp_data, jnp_index, jxs = convert_to_tensors((np_data, np_index, xs), "jax")

    @jit_init_apply
    @hk.transform_with_state
    def transform_dataset(step):
        data = tree_access_data(jnp_data, jnp_index, step)
        return EWMA(alpha=1.0 / 10.0, adjust=True)(data["dataarray"])

    rng = next(hk.PRNGSequence(42))
    outputs, state = dynamic_unroll(transform_dataset, xs, rng)
    from waxegg.wax.format import format_dataframe

    y = format_dataframe(dataset.coords, np.asarray(outputs), format_dims=dataset.dataarray.dims)
    ref = dataframe.ewm(alpha=0.1).mean()
    np.testing.assert_allclose(y.to_numpy(), ref.to_numpy(), atol=1e-12, rtol=0)
    pd.testing.assert_index_equal(y.index.rename(None), ref.index)
    assert y.to_numpy().dtype == np.float64


def test_seed_workflow_class_matches_pandas():
    from waxegg.bench.workloads import WaxSeedWorkflow, make_frame

    df = make_frame(300, 5)
    wf = WaxSeedWorkflow(df)
    wf.encode()
    wf.compute()
    out = wf.format()
    np.testing.assert_allclose(out.to_numpy(), df.ewm(alpha=0.1).mean().to_numpy(), atol=1e-12, rtol=0)
    with pytest.raises(RuntimeError, match="encode"):
        WaxSeedWorkflow(df).compute()


@pytest.mark.parametrize("obj_kind", ["frame", "series", "dataarray", "dataset"])
def test_stream_apply_formats_back(obj_kind):
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), index=pd.date_range("2000", periods=50, freq="D"),
                      columns=["a", "b", "c"])
    ref = df.ewm(alpha=0.3).mean()
    obj = {"frame": df, "series": df["a"], "dataarray": xr.DataArray(df, dims=("time", "asset")),
           "dataset": xr.Dataset({"v": xr.DataArray(df, dims=("time", "asset"))})}[obj_kind]
    if obj_kind == "dataset":
        fn = lambda x: {"v": EWMA(alpha=0.3)(x["v"])}
    else:
        fn = lambda x: EWMA(alpha=0.3)(x)
    out = obj.wax.stream(return_state=False).apply(fn)
    expected = {"frame": ref, "series": ref["a"], "dataarray": ref, "dataset": ref}[obj_kind]
    got = out["v"].values if obj_kind == "dataset" else np.asarray(out)
    assert type(out) is type(obj)
    np.testing.assert_allclose(got, np.asarray(expected), rtol=0, atol=1e-12)


def test_stream_return_state_continues():
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 2)))
    fn = lambda x: EWMA(alpha=0.3)(x)
    first, state = df.iloc[:30].wax.stream().apply(fn, return_state=True)
    second = df.iloc[30:].wax.stream(return_state=False).apply(fn, state=state, params={})
    np.testing.assert_allclose(np.concatenate([first, second]), df.ewm(alpha=0.3).mean(), rtol=0, atol=1e-12)
    raw = df.wax.stream(return_state=False).apply(fn, format_outputs=False)
    # the second half starts from the first half's carried state: the same steps as one run, bit for bit
    np.testing.assert_array_equal(np.concatenate([first, second]), raw)
    assert raw.shape == (60, 2) and not isinstance(raw, pd.DataFrame)


def test_stream_bad_input_named():
    with pytest.raises(ValueError, match="empty DataFrame"):
        pd.DataFrame({"a": []}, dtype=float).wax.stream().apply(lambda x: x)
    # as pandas' window operations: DataError naming the columns (stream a Dataset to encode strings)
    with pytest.raises(pd.errors.DataError, match="non-numeric columns \\['s'\\]"):
        pd.DataFrame({"s": ["a", "b"], "x": [1.0, 2.0]}).wax.stream().apply(lambda x: x)
    with pytest.raises(ValueError, match="local_time='nope'"):
        Stream(local_time="nope").trace_dataset(_dataset())
    with pytest.raises(TypeError, match="callable"):
        pd.DataFrame({"a": [1.0]}).wax.stream().apply(3)


def test_stream_returns_outputs_and_state_by_default_as_waxml():
    """WAX-ML's README form, ``output, state = obj.wax.stream().apply(f)``, runs unchanged."""
    df = pd.DataFrame(np.random.default_rng(4).normal(size=(50, 3)))
    fn = lambda x: EWMA(alpha=0.2)(x)
    outputs, state = df.wax.stream().apply(fn)
    np.testing.assert_allclose(outputs, df.ewm(alpha=0.2).mean(), rtol=1e-12, atol=1e-12)
    alone = df.wax.stream(return_state=False).apply(fn)
    assert isinstance(alone, pd.DataFrame)
    np.testing.assert_array_equal(alone, outputs)
    again, _ = df.wax.stream().apply(fn, state=state, params={})  # continues from the returned state
    np.testing.assert_allclose(again, pd.concat([df, df]).reset_index(drop=True).ewm(alpha=0.2).mean()[50:],
                               rtol=1e-12, atol=1e-12)
