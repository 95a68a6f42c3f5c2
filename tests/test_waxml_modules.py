"""WAX-ML 0.7's module names and options (issue 18): hand-computed values and pandas twins."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from waxegg.wax import dynamic_unroll
from waxegg.wax.modules import (
    EWMA, Buffer, BufferState, Counter, EWMCov, EWMVar, FuncOptimizer, GymFeedback, Lag, MaskStd,
    OnlineOptimizer, PctChange, RollingMean, UpdateParams, add_batch, buffer_fn, tree_lag,
)
from waxegg.wax.optim import newton, sherman_morrison

nan = np.nan
TIGHT = dict(rtol=1e-12, atol=1e-12)


def unroll(fn, xs):
    out, _ = dynamic_unroll(hk.transform_with_state(fn), xs)
    return jax.tree_util.tree_map(np.asarray, out)


def assert_close(got, ref, rtol=1e-12, atol=1e-12):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True)


# --- EWMA(initial_value=, return_info=) ---------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(com=2.0), dict(alpha=0.3, adjust=False), dict(com=1.5, ignore_na=True)], ids=str)
def test_ewma_initial_value_equals_pandas_with_value_prepended(kw):
    # mirrors: Series([v, *x]).ewm(**kw).mean()[1:]
    x = np.array([1.0, nan, 4.0, -2.0, nan, nan, 3.0])
    got = unroll(lambda v: EWMA(**kw, initial_value=10.0)(v), x)
    ref = pd.Series(np.r_[10.0, x]).ewm(**kw).mean().to_numpy()[1:]
    assert_close(got, ref)


def test_ewma_initial_value_by_hand():
    # com=1 (alpha=1/2), adjust=True: the initial value is a weight-1 observation before step 0.
    got = unroll(lambda v: EWMA(com=1.0, initial_value=2.0)(v), np.array([4.0, 0.0]))
    m0 = (0.5 * 2.0 + 1.0 * 4.0) / 1.5
    w0 = 0.5 + 1.0
    m1 = (0.5 * w0 * m0 + 0.0) / (0.5 * w0 + 1.0)
    np.testing.assert_allclose(got, [m0, m1], **TIGHT)


def test_ewma_return_info_com_eff_and_nobs():
    x = np.array([1.0, 2.0, nan, 3.0])
    out, info = unroll(lambda v: EWMA(com=1.0, return_info=True)(v), x)
    assert_close(out, pd.Series(x).ewm(com=1.0).mean())
    # old weight before each blend: 0 (no mean yet), 1*(1/2), then decayed through the gap.
    w1 = 0.5
    w2 = (w1 + 1.0) * 0.5
    w3 = w2 * 0.5
    np.testing.assert_allclose(info["com_eff"], [0.0, w1, w2, w3], **TIGHT)
    np.testing.assert_array_equal(info["nobs"], [1, 2, 2, 3])


# --- learnable com (WAX-ML's logcom parameter) ----------------------------------------------------

def _scan_loss(t, params, x, target):
    state = t.init(None, x[0])[1]

    def body(state, xt):
        out, state = t.apply(params, state, None, xt)
        return state, out

    _, out = jax.lax.scan(body, state, x)
    return jnp.nanmean((out[1:] - target[1:]) ** 2)


def _descend_logcom(t, params, x, target, module, steps, lr):
    """Gradient descent on ``params[module]["logcom"]`` (finite gradients asserted); the losses and last params."""
    loss = jax.jit(lambda p: _scan_loss(t, p, jnp.asarray(x), jnp.asarray(target)))
    grad = jax.jit(jax.grad(lambda p: _scan_loss(t, p, jnp.asarray(x), jnp.asarray(target))))
    losses = [float(loss(params))]
    for _ in range(steps):
        g = grad(params)
        assert np.isfinite(g[module]["logcom"])
        params = jax.tree_util.tree_map(lambda p, d: p - lr * d, params, g)
        losses.append(float(loss(params)))
    return losses, params


@pytest.mark.parametrize("adjust", [True, False, "linear"])
def test_ewma_learn_com_gradient_finite_and_descends(adjust):
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        x = rng.standard_normal(200)
        x[::7] = nan
        # The target is an EWMA of com 4; start from com 1 and learn logcom.
        target = pd.Series(x).ewm(com=4.0, adjust=adjust is True).mean().to_numpy() if adjust != "linear" \
            else np.asarray(unroll(lambda v: EWMA(com=4.0, adjust="linear")(v), x))
        t = hk.transform_with_state(lambda v: EWMA(com=1.0, adjust=adjust, learn_com=True)(v))
        params = t.init(None, x[0])[0]
        np.testing.assert_allclose(params["ewma"]["logcom"], np.log(1.0), rtol=0, atol=1e-15)
        losses, params = _descend_logcom(t, params, x, target, "ewma", steps=30, lr=0.5)
        assert losses[-1] < 0.2 * losses[0]
        assert np.exp(params["ewma"]["logcom"]) > 2.0


def test_ewma_learn_com_forward_matches_pandas():
    x = np.array([1.0, 3.0, nan, -1.0, 2.0])
    got = unroll(lambda v: EWMA(com=3.0, learn_com=True)(v), x)
    assert_close(got, pd.Series(x).ewm(com=3.0).mean(), rtol=1e-14, atol=1e-14)


# --- EWMCov: tuple call (outer product), assume_centered, adjust="linear" ------------------------

def test_ewmcov_tuple_call_outer_product_matches_pandas_pairwise_biased():
    # mirrors: DataFrame.ewm(com=2).cov(bias=True) (pairwise): WAX-ML's cov is biased.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 3))
    x[5, 1] = nan
    got = unroll(lambda v: EWMCov(com=2.0)((v, v)), x)
    assert got.shape == (30, 3, 3)
    ref = pd.DataFrame(x).ewm(com=2.0).cov(bias=True).to_numpy().reshape(30, 3, 3)
    assert_close(got, ref)
    # pairwise=True with two arguments: pandas' default unbiased pairwise cov.
    got2 = unroll(lambda v: EWMCov(com=2.0, pairwise=True)(v, v), x)
    assert_close(got2, pd.DataFrame(x).ewm(com=2.0).cov().to_numpy().reshape(30, 3, 3))


def test_ewmcov_matches_numpy_weighted_cov_by_hand():
    # WAX-ML's definition E_w[x y^T] - E_w[x] E_w[y]^T with pandas' adjusted weights (1-alpha)^k.
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((12, 2)), rng.standard_normal((12, 3))
    got = unroll(lambda a: EWMCov(alpha=0.25)((a[0], a[1])), (x, y))[-1]
    w = 0.75 ** np.arange(11, -1, -1)
    w = w / w.sum()
    mx, my = w @ x, w @ y
    ref = np.einsum("t,ti,tj->ij", w, x, y) - np.outer(mx, my)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)


def test_ewmcov_assume_centered_is_ewma_of_product():
    # mirrors: (x_i * y_j).ewm(com=3).mean()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((20, 2))
    x[4, 0] = nan
    got = unroll(lambda v: EWMCov(com=3.0, assume_centered=True)((v, v)), x)
    prod = x[:, :, None] * x[:, None, :]
    ref = pd.DataFrame(prod.reshape(20, 4)).ewm(com=3.0).mean().to_numpy().reshape(20, 2, 2)
    assert_close(got, ref)


def test_ewmcov_ewmvar_linear_by_hand():
    # adjust="linear", com=2: weights 1/n for the first com+1 = 3 observations (biased expanding
    # variance), then alpha = 1/3 recursively.
    x = np.array([1.0, 4.0, 2.0, 8.0, 5.0])
    var = unroll(lambda v: EWMVar(com=2.0, adjust="linear")(v), x)
    cov = unroll(lambda v: EWMCov(com=2.0, adjust="linear")((v, v)), x[:, None])[:, 0, 0]
    ref = [np.var(x[:1]), np.var(x[:2]), np.var(x[:3])]
    m, s = np.mean(x[:3]), np.var(x[:3])
    for xt in x[3:]:
        d = xt - m
        m = m + d / 3
        s = (2 / 3) * (s + d * d / 3)
        ref.append(s)
    np.testing.assert_allclose(var, ref, **TIGHT)
    np.testing.assert_allclose(cov, ref, **TIGHT)
    with pytest.raises(ValueError, match="adjust='linear'"):
        hk.transform_with_state(lambda v: EWMVar(com=2.0, adjust="linear", bias=False)(v)).init(None, x[0])


# --- Buffer / Lag / tree_lag ---------------------------------------------------------------------

def test_buffer_return_state():
    out, state = unroll(lambda v: Buffer(3, fill_value=-1.0, return_state=True)(v), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(out, [[-1, -1, 1], [-1, 1, 2], [1, 2, 3], [2, 3, 4]])
    assert isinstance(state, BufferState)
    np.testing.assert_array_equal(state.len_buffer, [1, 2, 3, 3])
    np.testing.assert_array_equal(state.i_start, [2, 1, 0, 0])


def test_buffer_state_is_waxml_buffer_state():
    # WAX-ML's state layout: state[name]["buffer_state"] = BufferState(buffer, len_buffer, i_start)
    fun = hk.transform_with_state(lambda v: Buffer(2, name="buf")(v))
    params, state = fun.init(None, 1.0)
    st = state["buf"]["buffer_state"]
    assert np.isnan(np.asarray(st.buffer)).all() and int(st.len_buffer) == 0 and int(st.i_start) == 2
    out, state = fun.apply(params, state, None, 1.0)
    out, state = fun.apply(params, state, None, 2.0)
    out, state = fun.apply(params, state, None, 3.0)
    st = state["buf"]["buffer_state"]
    np.testing.assert_array_equal(out, [2.0, 3.0])
    np.testing.assert_array_equal(st.buffer, [2.0, 3.0])
    assert int(st.len_buffer) == 2 and int(st.i_start) == 0


def test_buffer_fn_pure_functions():
    fun = buffer_fn(2, fill_value=0.0)
    state = fun.init((), jnp.float32)
    buf, state = fun.apply(5.0, state)
    buf, state = fun.apply(6.0, state)
    np.testing.assert_array_equal(buf, [5.0, 6.0])
    assert int(state.len_buffer) == 2 and int(state.i_start) == 0


@pytest.mark.parametrize("lag", [1, 3])
def test_lag_fill_value_matches_pandas_shift(lag):
    # mirrors: Series.shift(lag, fill_value=0) (integers stay integers) and shift(lag)
    s = pd.Series([3, 1, 4, 1, 5, 9, 2])
    got = unroll(lambda v: Lag(lag=lag, fill_value=0)(v), s.to_numpy())
    assert got.dtype == s.to_numpy().dtype
    np.testing.assert_array_equal(got, s.shift(lag, fill_value=0))
    assert_close(unroll(lambda v: Lag(lag)(v), s.to_numpy()), s.shift(lag))


def test_lag_return_state_and_tree_lag():
    x = np.array([1.0, 2.0, 3.0])
    lagged, state = unroll(lambda v: Lag(2, return_state=True)(v), x)
    assert_close(lagged, [nan, nan, 1.0])
    np.testing.assert_array_equal(state.len_buffer, [1, 2, 2])
    a, b = unroll(lambda p: tree_lag(1)(p["a"], p["b"]), {"a": x, "b": 10 * x})
    assert_close(a, [nan, 1.0, 2.0])
    assert_close(b, [nan, 10.0, 20.0])


# --- RollingMean(horizon=), Counter, PctChange(fill_method=) -----------------------------------

def test_rolling_mean_horizon_wax_defaults_match_pandas():
    # mirrors: rolling(3, min_periods=1).mean() (WAX-ML's default) and rolling(3).mean()
    s = pd.Series([1.0, 2.0, nan, 4.0, 8.0, nan, nan, nan, 1.0])
    assert_close(unroll(lambda v: RollingMean(horizon=3)(v), s.to_numpy()), s.rolling(3, min_periods=1).mean())
    assert_close(unroll(lambda v: RollingMean(3)(v), s.to_numpy()), s.rolling(3).mean())
    np.testing.assert_allclose(unroll(lambda v: RollingMean(horizon=2)(v), s.to_numpy())[:2], [1.0, 1.5], **TIGHT)


def test_counter_uint32():
    got = unroll(lambda v: Counter()(), np.zeros(5))
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, [1, 2, 3, 4, 5])
    assert unroll(lambda v: Counter(dtype=jnp.int32)(), np.zeros(2)).dtype == np.int32


@pytest.mark.parametrize("periods", [1, 2])
@pytest.mark.parametrize("limit", [None, 1])
def test_pct_change_fill_method_matches_pandas(periods, limit):
    # mirrors: Series.ffill(limit=limit).pct_change(periods) (pandas' fill_method="pad" before 3)
    s = pd.Series([1.0, nan, 2.0, nan, nan, 4.0, 0.0, nan, 3.0])
    got = unroll(lambda v: PctChange(periods, fill_method="pad", limit=limit)(v), s.to_numpy())
    assert_close(got, s.ffill(limit=limit).pct_change(periods))
    assert_close(unroll(lambda v: PctChange(periods)(v), s.to_numpy()), s.pct_change(periods))


def test_pct_change_fillna_zero_false_by_hand():
    x = np.array([2.0, nan, 3.0])
    got = unroll(lambda v: PctChange(fill_method="ffill", fillna_zero=False)(v), x)
    assert_close(got, [nan, nan, 3.0 / 2.0 - 1.0])
    assert_close(unroll(lambda v: PctChange(fill_method="ffill")(v), x), [nan, 0.0, 0.5])


# --- MaskStd: gradient at zero spread ---------------------------------------------------------------

def test_mask_std_zero_spread_gradient_is_finite():
    f = hk.without_apply_rng(hk.transform(lambda v: MaskStd()(jnp.ones(3, bool), v)))
    x = jnp.full(3, 2.0)
    assert float(f.apply({}, x)) == 0.0
    g = jax.grad(lambda v: f.apply({}, v))(x)
    np.testing.assert_array_equal(g, np.zeros(3))
    eps = float(jnp.finfo(jnp.float32).resolution) ** 2
    y = jnp.array([1.0, 2.0, 4.0], jnp.float32)
    got = hk.without_apply_rng(hk.transform(lambda v: MaskStd(eps=eps)(jnp.ones(3, bool), v))).apply({}, y)
    np.testing.assert_allclose(got, np.sqrt(np.var([1.0, 2.0, 4.0]) + eps), rtol=1e-6, atol=1e-7)


# --- UpdateParams / FuncOptimizer / OnlineOptimizer -----------------------------------------------

def _linear(x):
    return hk.Linear(1, with_bias=False, w_init=hk.initializers.Constant(0.0))(x)[0]


def test_update_params_evaluates_with_given_params():
    t = hk.transform_with_state(lambda p, x: UpdateParams(_linear)(p, x))
    p0 = {"linear": {"w": jnp.array([[2.0], [3.0]])}}
    params, state = t.init(None, p0, jnp.ones(2))
    out, _ = t.apply(params, state, None, p0, jnp.array([1.0, 10.0]))
    np.testing.assert_allclose(out, 32.0, **TIGHT)


def test_func_optimizer_sgd_step_by_hand():
    x, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1.0, 2.0])

    def step(a):
        return FuncOptimizer(lambda x, y: (_linear(x) - y) ** 2, optax.sgd(0.1))(a[0], a[1])

    with jax.enable_x64(True):
        (loss, w) = unroll(step, (x, y))
    # w0 = 0: loss 1, grad -2*y*x = [-2, -4] -> w1 = [0.2, 0.4]; pred 0.1 - 0.4 = -0.3, loss 2.3^2.
    np.testing.assert_allclose(loss, [1.0, 2.3 ** 2], **TIGHT)
    w1 = np.array([0.2, 0.4])
    w2 = w1 - 0.1 * 2 * (w1 @ x[1] - y[1]) * x[1]
    np.testing.assert_allclose(w["linear"]["w"][:, :, 0], [w1, w2], **TIGHT)


def test_online_optimizer_matches_func_optimizer_and_returns_params():
    x, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([1.0, 2.0])

    def model(x, y):
        err = _linear(x) - y
        return err ** 2, {"err": err}

    with jax.enable_x64(True):
        info = unroll(lambda a: OnlineOptimizer(model, optax.sgd(0.1), return_params=True)(a[0], a[1]), (x, y))
    np.testing.assert_allclose(info.loss, [1.0, 2.3 ** 2], **TIGHT)
    np.testing.assert_allclose(info.model_info["err"], [-1.0, -2.3], **TIGHT)
    np.testing.assert_allclose(info.params["linear"]["w"][0, :, 0], [0.2, 0.4], **TIGHT)


# --- add_batch, GymFeedback.GymState, sherman_morrison, newton -------------------------------------

def test_add_batch_mean_and_lifted_params():
    def fn(x):
        return add_batch(lambda v: EWMA(com=1.0)(v) + hk.get_parameter("b", [], init=jnp.zeros))(x)

    t = hk.transform_with_state(fn)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])  # time x batch
    params, state = t.init(None, x[0])
    assert params["vmap_lift/~"]["b"].shape == (2,)
    out, state = t.apply(params, state, None, x[0])
    np.testing.assert_allclose(out, 1.5, **TIGHT)
    out, _ = t.apply(params, state, None, x[1])
    # Member means (1 + 2*3)/3 = 7/3 and (2 + 2*6)/3 = 14/3, averaged.
    np.testing.assert_allclose(out, (7 / 3 + 14 / 3) / 2, rtol=1e-6, atol=1e-6)


def test_gym_feedback_gym_state_attribute():
    assert GymFeedback.GymState(action=1).action == 1
    assert GymFeedback.GymState._fields == ("action",)


def test_sherman_morrison_general_rank_one():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    u, v = rng.standard_normal(4), rng.standard_normal(4)
    with jax.enable_x64(True):
        got = sherman_morrison(jnp.asarray(np.linalg.inv(a)), jnp.asarray(u), jnp.asarray(v))
    np.testing.assert_allclose(got, np.linalg.inv(a + np.outer(u, v)), rtol=1e-10, atol=1e-12)


def test_newton_first_step_by_hand():
    opt = newton(1.0, eps=1.0)
    state = opt.init(jnp.zeros(2))
    updates, _ = opt.update(jnp.array([2.0, 0.0]), state)
    # (I + g g^T)^{-1} g = g / (1 + |g|^2) = [0.4, 0], negated.
    np.testing.assert_allclose(updates, [-0.4, 0.0], rtol=1e-6, atol=1e-7)


def test_mask_normalize_default_is_waxml_x_over_std():
    # WAX-ML: x / std (std centred over the selected values), not centred; non-finite -> 0.
    from waxegg.wax.modules import MaskNormalize

    x = np.array([1.0, 3.0, 8.0, nan])
    mask = np.array([True, True, False, True])
    f = hk.without_apply_rng(hk.transform(lambda m, v: (MaskNormalize()(m, v), MaskNormalize(center=True)(m, v))))
    with jax.enable_x64(True):
        scaled, z = f.apply({}, mask, x)
    std = np.std([1.0, 3.0])
    np.testing.assert_allclose(scaled, [1.0 / std, 3.0 / std, 8.0 / std, 0.0], **TIGHT)
    np.testing.assert_allclose(z, [(1.0 - 2.0) / std, (3.0 - 2.0) / std, (8.0 - 2.0) / std, 0.0], **TIGHT)


def test_scale_by_newton_default_eps_is_waxml():
    from waxegg.wax.optim import scale_by_newton

    with jax.enable_x64(True):
        state = scale_by_newton().init(jnp.zeros(2, jnp.float64))
    np.testing.assert_allclose(state.hessian_inv, np.eye(2) / 1e-7, rtol=1e-15, atol=0)


def test_ffill_accepts_waxml_periods_and_matches_pandas():
    # mirrors: Series.ffill()
    from waxegg.wax.modules import Ffill

    s = pd.Series([nan, 1.0, nan, nan, 2.0, nan])
    assert_close(unroll(lambda v: Ffill(periods=1)(v), s.to_numpy()), s.ffill())
    with pytest.raises(ValueError, match="Ffill: periods must be 1"):
        hk.transform_with_state(lambda v: Ffill(periods=2)(v)).init(None, np.zeros(1))


# --- EWMCov(initial_value=), learnable com of EWMVar / EWMCov ---------------------------------------

@pytest.mark.parametrize("kw", [dict(com=2.0), dict(alpha=0.3, adjust=False), dict(com=1.5, ignore_na=True)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_ewmcov_initial_value_equals_pandas_with_pair_prepended(kw, bias):
    # mirrors: Series([v, *x]).ewm(**kw).cov(Series([v, *y]), bias=bias)[1:]
    x = np.array([1.0, nan, 4.0, -2.0, nan, 3.0, 5.0])
    y = np.array([2.0, 1.0, nan, 0.5, 1.0, -1.0, 2.0])
    got = unroll(lambda v: EWMCov(**kw, bias=bias, initial_value=10.0)(v[0], v[1]), (x, y))
    ref = pd.Series(np.r_[10.0, x]).ewm(**kw).cov(pd.Series(np.r_[10.0, y]), bias=bias).to_numpy()[1:]
    assert_close(got, ref, rtol=1e-12, atol=1e-13)


def test_ewmcov_initial_value_zero_equals_waxml_composite():
    # WAX-ML: EWMA(x y^T; v) - EWMA(x; v) EWMA(y; v)^T, each EWMA starting from v (here 0).
    rng = np.random.default_rng(5)
    x = rng.standard_normal((15, 2))
    got = unroll(lambda v: EWMCov(com=2.0, initial_value=0.0)((v, v)), x)

    def composite(v):
        exy = EWMA(com=2.0, initial_value=0.0, name="xy")(v[:, None] * v[None, :])
        ex = EWMA(com=2.0, initial_value=0.0, name="x")(v)
        return exy - ex[:, None] * ex[None, :]

    np.testing.assert_allclose(got, unroll(composite, x), rtol=1e-12, atol=1e-13)
    # with min_periods=0 and an initial value, the first step already has a value (the prior observation)
    assert np.isfinite(got[0]).all()


@pytest.mark.parametrize("adjust", [True, False, "linear"])
def test_ewmvar_ewmcov_learn_com_forward_unchanged_and_parameter_named_logcom(adjust):
    x = np.array([1.0, 3.0, nan, -1.0, 2.0, 5.0])
    y = np.array([0.5, nan, 2.0, 1.0, -2.0, 1.0])
    with jax.enable_x64(True):
        for module in (lambda v: EWMVar(com=3.0, adjust=adjust, learn_com=True)(v[0]),
                       lambda v: EWMCov(com=3.0, adjust=adjust, learn_com=True)(v[0], v[1]),
                       lambda v: EWMCov(com=3.0, adjust=adjust, assume_centered=True, learn_com=True)(v[0], v[1])):
            fixed = unroll(lambda v, m=module: m(v), (x, y))
            t = hk.transform_with_state(module)
            params, _ = t.init(None, (x[0], y[0]))
            (name, leaf), = params.items()
            assert name in ("ewm_var", "ewm_cov") and set(leaf) == {"logcom"}
            np.testing.assert_allclose(leaf["logcom"], np.log(3.0), rtol=0, atol=1e-15)
            assert fixed.shape == x.shape
    # values: the learn_com module with its initial logcom equals the constant-com one (pandas)
    got = unroll(lambda v: EWMVar(com=3.0, learn_com=True)(v), x)
    assert_close(got, pd.Series(x).ewm(com=3.0).var(), rtol=1e-13, atol=1e-13)
    got = unroll(lambda v: EWMCov(com=3.0, learn_com=True)(v[0], v[1]), (x, y))
    assert_close(got, pd.Series(x).ewm(com=3.0).cov(pd.Series(y)), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("adjust", [True, False, "linear"])
def test_ewmvar_learn_com_gradient_finite_and_descends(adjust):
    with jax.enable_x64(True):
        rng = np.random.default_rng(6)
        x = rng.standard_normal(300)
        x[::9] = nan
        target = np.asarray(unroll(lambda v: EWMVar(com=6.0, adjust=adjust)(v), x))
        t = hk.transform_with_state(lambda v: EWMVar(com=1.5, adjust=adjust, learn_com=True)(v))
        params = t.init(None, x[0])[0]
        start = len(x) // 10  # skip the warm-up, where every com gives about the same values
        losses, params = _descend_logcom(t, params, x[start:], target[start:], "ewm_var", steps=40, lr=1.0)
        assert losses[-1] < 0.5 * losses[0]
        assert np.exp(params["ewm_var"]["logcom"]) > 2.0


def test_ewmcov_learn_com_gradient_finite():
    with jax.enable_x64(True):
        rng = np.random.default_rng(7)
        x, y = rng.standard_normal(100), rng.standard_normal(100)
        x[::5] = nan
        for kw in (dict(), dict(assume_centered=True), dict(adjust="linear")):
            t = hk.transform_with_state(lambda v, kw=kw: EWMCov(com=2.0, learn_com=True, **kw)(v[0], v[1]))
            params = t.init(None, (x[0], y[0]))[0]
            g = jax.grad(lambda p: _scan_loss(t, p, (jnp.asarray(x), jnp.asarray(y)), jnp.zeros(100)))(params)
            assert np.isfinite(g["ewm_cov"]["logcom"]) and g["ewm_cov"]["logcom"] != 0


# --- set_params_or_state_dict / set_state_from_dict (WAX-ML's update_on_event helpers) ----------------

def test_set_state_from_dict_and_set_params_or_state_dict_by_hand():
    from waxegg.wax.modules.update_on_event import set_params_or_state_dict, set_state_from_dict

    class Acc(hk.Module):
        def __call__(self, x):
            s = hk.get_state("s", x.shape, x.dtype, init=jnp.zeros)
            hk.set_state("s", s + x)
            return s + x

    def f(x):
        m = Acc(name="acc")
        before = m.state_dict()
        y = m(x)
        if before:  # WAX-ML's UpdateOnEvent pattern: undo the step
            set_state_from_dict(m, before)
        return y

    t = hk.transform_with_state(f)
    params, state = t.init(None, jnp.ones(2))
    y, state = t.apply(params, state, None, jnp.ones(2))
    np.testing.assert_array_equal(y, [1.0, 1.0])
    np.testing.assert_array_equal(state["acc"]["s"], [0.0, 0.0])  # the step was undone

    def g(x):
        w = hk.get_parameter("w", [], x.dtype, init=jnp.ones)
        set_params_or_state_dict("scale", set(), "state", {"scale/c": jnp.asarray(7.0)})
        return w * x

    def h(x):
        with hk.experimental.name_scope("scale"):
            hk.get_state("c", [], x.dtype, init=jnp.zeros)
        return g(x)

    t = hk.transform_with_state(h)
    params, state = t.init(None, jnp.ones(()))
    _, state = t.apply(params, state, None, jnp.ones(()))
    assert float(state["scale"]["c"]) == 7.0
    with pytest.raises(KeyError, match="scale/c"):
        hk.transform_with_state(lambda x: (h(x), set_params_or_state_dict("scale", set(), "state", {})))\
            .init(None, jnp.ones(()))
    with pytest.raises(ValueError, match="which must be"):
        hk.transform_with_state(lambda x: set_params_or_state_dict("a", set(), "both", {})).init(None, 1.0)


# --- OnlineSupervisedLearner: WAX-ML's loss(y, y_pred) ---------------------------------------------------

def test_online_supervised_learner_calls_loss_with_target_first():
    from waxegg.wax.modules import OnlineSupervisedLearner

    seen = []

    def asymmetric(y, y_pred):  # WAX-ML calls self.loss(y, y_pred)
        seen.append((jnp.shape(y), jnp.shape(y_pred)))
        return jnp.sum(2.0 * y - y_pred)

    x, y = np.array([[1.0, 2.0]]), np.array([[3.0]])
    with jax.enable_x64(True):
        _, info = unroll(lambda a: OnlineSupervisedLearner(
            lambda v: hk.Linear(1, w_init=jnp.zeros)(v), optax.sgd(0.1), asymmetric)(a[0], a[1]), (x, y))
    # the model predicts 0 before learning: loss = 2 * 3 - 0 (with loss(y_pred, y) it would be 2 * 0 - 3)
    np.testing.assert_allclose(info.loss, [6.0], **TIGHT)


def test_mask_modules_take_waxml_positional_options():
    from waxegg.wax.modules import MaskMean, MaskNormalize

    x = np.array([[1.0, 3.0], [5.0, 7.0]])
    mask = np.ones_like(x, dtype=bool)
    f = hk.without_apply_rng(hk.transform(lambda m, v: (MaskMean(0, "mean")(m, v), MaskStd(0, True, "std")(m, v),
                                                         MaskNormalize(0, True, "norm")(m, v))))
    with jax.enable_x64(True):
        mean, std, norm = f.apply({}, mask, x)
    np.testing.assert_allclose(mean, [3.0, 5.0], **TIGHT)
    # assume_centered=True: the root mean square over axis 0
    rms = np.sqrt(np.mean(x ** 2, axis=0))
    np.testing.assert_allclose(std, rms, **TIGHT)
    np.testing.assert_allclose(norm, x / rms, **TIGHT)


def test_ewma_in_jitted_unroll_drops_the_unused_count():
    # jax.jit(unroll(EWMA))(xs) (WAX-ML 0.7's step 2) discards the final state: with min_periods <= 1 the output
    # does not read the observation count, so XLA removes it from the loop (as it does from WAX-ML's EWMA);
    # with min_periods=3 the count stays.
    from waxegg.wax.unroll import unroll as waxml_unroll

    x = np.random.default_rng(9).standard_normal((20, 7))
    x[3, 2] = nan
    with jax.enable_x64(True):
        for kw, counted in ((dict(alpha=0.1), False), (dict(alpha=0.1, min_periods=3), True)):
            fn = jax.jit(waxml_unroll(lambda v, kw=kw: EWMA(**kw)(v)))
            hlo = fn.lower(x).compile().as_text()
            assert ("s32[7]" in hlo) == counted
            assert_close(fn(x), pd.DataFrame(x).ewm(**kw).mean())


def test_arma_coefficients_and_newton_hyper_parameters_may_be_traced():
    # WAX-ML's hyper-parameter scans vmap over ARMA coefficients and newton's learning rate / eps.
    from waxegg.wax.modules import ARMA

    eps = np.random.default_rng(11).standard_normal(30)
    alphas = np.array([[0.5], [-0.3], [0.9]])

    def simulate(alpha):
        t = hk.transform_with_state(lambda e: ARMA(alpha)(e))
        params, state = t.init(None, eps[0])
        _, out = jax.lax.scan(lambda s, e: t.apply(params, s, None, e)[::-1], state, jnp.asarray(eps))
        return out

    with jax.enable_x64(True):
        scanned = jax.vmap(simulate)(jnp.asarray(alphas))
        for row, a in zip(np.asarray(scanned), (0.5, -0.3, 0.9)):
            ref = np.zeros_like(eps)  # y_t = eps_t + a y_{t-1}, by hand
            for t in range(len(eps)):
                ref[t] = eps[t] + (a * ref[t - 1] if t else 0.0)
            np.testing.assert_allclose(row, ref, rtol=1e-12, atol=1e-12)

        def first_update(lr, e):
            opt = newton(lr, eps=e)
            updates, _ = opt.update(jnp.array([2.0, 0.0]), opt.init(jnp.zeros(2)))
            return updates

        got = jax.vmap(first_update)(jnp.array([1.0, 0.5]), jnp.array([1.0, 4.0]))
    # (e I + g g^T)^{-1} g = g / (e + |g|^2), times -lr
    np.testing.assert_allclose(got, [[-2.0 / 5.0, 0.0], [-0.5 * 2.0 / 8.0, 0.0]], rtol=1e-12, atol=1e-12)
    from waxegg.wax.modules._coefs import as_coefficients

    with pytest.raises(ValueError, match="alpha must be 1-D"):
        jax.jit(lambda a: as_coefficients("ARMA", "alpha", a))(jnp.ones((2, 2)))


# --- OHLC's WAX-ML field names, ApplyMask's shape rule ----------------------------------------

def test_ohlc_fields_and_state_keys_are_waxml():
    from waxegg.wax.modules import OHLC, OHLCData

    x = np.array([3.0, 5.0, 1.0, 4.0])
    reset = np.array([False, False, False, True])
    bar = unroll(lambda a: OHLC()(a[0], reset_on=a[1]), (x, reset))
    assert OHLCData._fields == ("OPEN", "HIGH", "LOW", "CLOSE")
    # by hand: the bar 3, 5, 1 then a fresh bar at 4
    np.testing.assert_array_equal(bar.HIGH, [3, 5, 5, 4])
    np.testing.assert_array_equal(bar._asdict()["LOW"], [3, 3, 1, 4])
    np.testing.assert_array_equal(bar.open, bar.OPEN)  # waxegg's lower-case names read the same arrays
    _, state = hk.transform_with_state(lambda v: OHLC()(v, reset_on=False)).init(None, 1.0)
    assert set(state["ohlc"]) == {"BIN_OPEN", "BIN_HIGH", "BIN_LOW", "BIN_CLOSE"}


def test_apply_mask_without_axis_needs_the_data_shape():
    from waxegg.wax.modules import ApplyMask

    x = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    run = lambda axis, m: hk.transform(lambda m_, v: ApplyMask(axis=axis)(m_, v)).apply({}, None, m, x)
    # a mask over one axis must say which (WAX-ML's rule), where broadcasting would lay it on the last
    with pytest.raises(ValueError, match=r"ApplyMask: mask of shape \(3,\) differs from data shape \(2, 3\); pass axis="):
        run(None, jnp.array([True, False, True]))
    np.testing.assert_array_equal(run(1, jnp.array([True, False, True])), [[1, 0, 3], [4, 0, 6]])
    np.testing.assert_array_equal(run(None, x > 2), [[0, 0, 3], [4, 5, 6]])
