"""dynamic_unroll and jit_init_apply pass the arrays a transform closes over as program arguments."""

from __future__ import annotations

from functools import partial

import haiku as hk
import jax
import numpy as np
import pytest

from waxegg.wax import EWMA, convert_to_tensors, dynamic_unroll, jit_init_apply, static_unroll, tree_access_data
from waxegg.wax._x64 import x64_context
from waxegg.wax.compile import HoistedJit, trace_hoisted
from waxegg.wax.unroll import scan_steps, init_params_state, lower_unroll


def _seed_transform(T: int, N: int, seed: int = 0):
    # The seed tutorial's step 2: a transform that closes over the whole (device) dataset.
    values = np.random.default_rng(seed).normal(size=(T, N))
    values[::7, 0] = np.nan
    jnp_data, jnp_index = convert_to_tensors(({"time": {"dataarray": values}}, {"time": np.arange(T)}), "jax")

    @jit_init_apply
    @hk.transform_with_state
    def transform_dataset(step):
        data = tree_access_data(jnp_data, jnp_index, step)
        return EWMA(alpha=1.0 / 10.0, adjust=True)(data["dataarray"])

    return transform_dataset, values, np.arange(T)


@partial(jax.jit, static_argnums=0)
def _scan_with_constants(apply, params, state, rng, xs):
    # The former dynamic_unroll: the jitted apply traced inside the scan, its captures baked in as constants.
    def body(carry, x):
        state, step = carry
        out, state = apply(params, state, jax.random.fold_in(rng, step), x)
        return (state, step + 1), out

    (state, _), outputs = jax.lax.scan(body, (state, 0), xs)
    return outputs, state


def test_results_identical_to_the_closure_constant_path():
    transformed, values, xs = _seed_transform(300, 5)
    rng = jax.random.PRNGKey(42)
    outputs, state = dynamic_unroll(transformed, xs, rng)
    params, state0 = init_params_state(transformed, xs, rng)
    with x64_context():
        ref_out, ref_state = _scan_with_constants(jax.jit(transformed.apply.__wrapped__), params, state0, rng, xs)
    np.testing.assert_array_equal(np.asarray(outputs), np.asarray(ref_out))
    for got, ref in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(ref_state)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    assert np.asarray(outputs).dtype == np.float64
    # and the Python-loop reference agrees
    loop_out, _ = static_unroll(transformed, xs[:40], rng)
    np.testing.assert_array_equal(np.asarray(loop_out), np.asarray(outputs)[:40])


def _data_constants(text: str, T: int, N: int) -> list[str]:
    return [line for line in text.splitlines() if "constant" in line and f"{T}x{N}" in line]


@pytest.mark.parametrize("T", [200, 2000])
def test_scan_program_takes_the_data_as_an_argument(T):
    N = 7
    transformed, _, xs = _seed_transform(T, N)
    text = lower_unroll(transformed, xs, jax.random.PRNGKey(0)).as_text()
    assert f"tensor<{T}x{N}xf64>" in text           # the data is there, as a parameter ...
    assert _data_constants(text, T, N) == []         # ... not as a constant
    assert len(text) < 20_000                        # T * N float64 as text would be far larger


def test_program_size_does_not_depend_on_the_data():
    sizes = []
    for T in (100, 10_000):
        transformed, _, xs = _seed_transform(T, 3)
        sizes.append(len(lower_unroll(transformed, xs, jax.random.PRNGKey(0)).as_text()))
    assert abs(sizes[1] - sizes[0]) < 300  # only the digits of T differ


def test_jitted_init_does_not_bake_the_data():
    T, N = 500, 4
    transformed, values, xs = _seed_transform(T, N)
    assert isinstance(transformed.init, HoistedJit)
    rng = jax.random.PRNGKey(0)
    text = transformed.init.lower(rng, xs[0]).as_text()
    assert _data_constants(text, T, N) == []  # (the data is read, then only its shape is kept: XLA drops it)
    assert len(text) < 20_000
    params, state = transformed.init(rng, xs[0])
    with x64_context():
        ref_params, ref_state = transformed.init.__wrapped__(rng, xs[0])
    assert jax.tree_util.tree_structure(state) == jax.tree_util.tree_structure(ref_state)
    for got, ref in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(ref_state)):
        assert np.asarray(got).dtype == np.asarray(ref).dtype
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    assert np.asarray(state["ewma"]["mean"]).shape == (N,)


def test_repeated_calls_reuse_the_trace_and_the_compiled_scan():
    transformed, _, xs = _seed_transform(100, 3)
    rng = jax.random.PRNGKey(0)
    first, _ = dynamic_unroll(transformed, xs, rng)
    size = scan_steps._cache_size()
    params, state = init_params_state(transformed, xs, rng)
    with x64_context():
        step_a, consts = trace_hoisted(transformed.apply.__wrapped__, params, state, rng, xs[0])
        step_b, _ = trace_hoisted(transformed.apply.__wrapped__, params, state, rng, xs[0])
    assert step_a is step_b
    assert len(consts) == 2  # the index and the data
    for _ in range(3):
        again, _ = dynamic_unroll(transformed, xs, rng)
    assert scan_steps._cache_size() == size
    np.testing.assert_array_equal(np.asarray(again), np.asarray(first))


def test_plain_transform_is_hoisted_too():
    # Without jit_init_apply the apply function is traced directly: its captures are lifted the same way.
    T, N = 150, 2
    values = np.random.default_rng(3).normal(size=(T, N))
    data = convert_to_tensors(values)

    @hk.transform_with_state
    def fn(step):
        return EWMA(com=3.0, adjust=False)(data[step])

    xs = np.arange(T)
    outputs, _ = dynamic_unroll(fn, xs)
    text = lower_unroll(fn, xs).as_text()
    assert _data_constants(text, T, N) == []
    import pandas as pd

    ref = pd.DataFrame(values).ewm(com=3.0, adjust=False).mean().to_numpy()
    np.testing.assert_allclose(np.asarray(outputs), ref, rtol=0, atol=1e-12)


def test_a_transform_and_its_data_are_freed_with_it():
    # The trace cache is weak on the function: nothing cached keeps the transform (or its data) alive.
    import gc
    import weakref

    transformed, _, xs = _seed_transform(120, 3)
    dynamic_unroll(transformed, xs, jax.random.PRNGKey(0))
    raw_apply = weakref.ref(transformed.apply.__wrapped__)
    raw_init = weakref.ref(transformed.init.__wrapped__)
    del transformed
    gc.collect()
    assert raw_apply() is None and raw_init() is None
