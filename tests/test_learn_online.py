"""Online learning in streams: waxegg.wax.optim.newton, OptaxOptimizer, OnlineSupervisedLearner."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from scipy.signal import lfilter

from waxegg.wax import dynamic_unroll, jit_init_apply, static_unroll
from waxegg.wax.unroll import unroll
from waxegg.wax.modules import OnlineSupervisedLearner, OptaxOptimizer
from waxegg.wax.optim import newton, scale_by_newton, sherman_morrison_update

AR2 = (1.2, -0.5)  # stationary; var(y) ~ 3.7 for unit noise, so a zero model starts with loss ~ 3.7


def mse(y_pred, y):
    return jnp.mean(jnp.square(y_pred - y))


def ar2_frame(T: int, seed: int = 0, dtype=np.float64) -> pd.DataFrame:
    """An AR(2) series and its two lags (pandas ``shift``), NaN in the first two rows."""
    noise = np.random.default_rng(seed).standard_normal(T)
    y = pd.Series(lfilter([1.0], [1.0, -AR2[0], -AR2[1]], noise)).astype(dtype)
    frame = pd.DataFrame({"y": y, "lag1": y.shift(1), "lag2": y.shift(2)})
    frame.index = pd.date_range("2020", periods=T, freq="min")
    return frame


def linear_learner(opt, **linear_kw):
    def learn(row):
        # row = [y_t, y_{t-1}, y_{t-2}]: learn y_t from its two lags.
        return OnlineSupervisedLearner(lambda x: hk.Linear(1, **linear_kw)(x), opt, mse)(row[1:], row[:1])
    return learn


# ---------------------------------------------------------------------------------------------
# newton
# ---------------------------------------------------------------------------------------------

def test_sherman_morrison_matches_inverse():
    rs = np.random.default_rng(0)
    m = rs.standard_normal((5, 5))
    a = m @ m.T + 5 * np.eye(5)
    g = rs.standard_normal(5)
    with jax.enable_x64(True):
        got = np.asarray(sherman_morrison_update(jnp.asarray(np.linalg.inv(a)), jnp.asarray(g)))
    np.testing.assert_allclose(got, np.linalg.inv(a + np.outer(g, g)), rtol=1e-12, atol=1e-14)


def test_scale_by_newton_is_inverse_of_accumulated_outer_products():
    """Per leaf: update_t = (eps I + sum_{s<=t} g_s g_s^T)^{-1} g_t, with the leaf's shape."""
    rs = np.random.default_rng(1)
    eps = 0.5
    grads = [{"w": rs.standard_normal((3, 2)), "b": rs.standard_normal(2)} for _ in range(6)]
    with jax.enable_x64(True):
        tx = scale_by_newton(eps)
        state = tx.init(jax.tree_util.tree_map(jnp.zeros_like, grads[0]))
        acc = {"w": eps * np.eye(6), "b": eps * np.eye(2)}
        for g in grads:
            updates, state = tx.update(jax.tree_util.tree_map(jnp.asarray, g), state)
            for key in ("w", "b"):
                flat = g[key].ravel()
                acc[key] = acc[key] + np.outer(flat, flat)
                expected = np.linalg.solve(acc[key], flat).reshape(g[key].shape)
                np.testing.assert_allclose(np.asarray(updates[key]), expected, rtol=1e-10, atol=0)
                assert updates[key].shape == g[key].shape


def test_newton_scales_by_learning_rate_and_keeps_float32():
    with jax.enable_x64(True):
        opt = newton(0.25, eps=1.0)
        params = jnp.zeros(3, jnp.float32)
        state = opt.init(params)
        g = jnp.asarray([1.0, 2.0, 0.0], jnp.float32)
        updates, state = opt.update(g, state)
    assert updates.dtype == jnp.float32
    assert state[0].hessian_inv.dtype == jnp.float32
    expected = -0.25 * np.linalg.solve(np.eye(3) + np.outer(g, g), np.asarray(g))
    np.testing.assert_allclose(np.asarray(updates), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kwargs, match", [
    (dict(learning_rate=0.0), "learning_rate must be a finite number > 0"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(learning_rate=1.0, eps=0.0), "eps must be a finite number > 0"),
    (dict(learning_rate=1.0, eps=-1.0), "eps"),
])
def test_newton_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        newton(**kwargs)


# ---------------------------------------------------------------------------------------------
# OptaxOptimizer and OnlineSupervisedLearner against a plain optax loop
# ---------------------------------------------------------------------------------------------

def test_optax_optimizer_module_matches_optax():
    rs = np.random.default_rng(2)
    grads = rs.standard_normal((20, 4))
    p0 = np.linspace(-1, 1, 4)

    @hk.transform_with_state
    def step(g):
        params = hk.get_state("params", [], init=lambda *_: jnp.asarray(p0))
        params = OptaxOptimizer(optax.adam(0.1))(params, g)
        hk.set_state("params", params)
        return params

    got, state = dynamic_unroll(step, grads)
    opt = optax.adam(0.1)
    with jax.enable_x64(True):
        params = jnp.asarray(p0)
        opt_state = opt.init(params)
        for t, g in enumerate(grads):
            updates, opt_state = opt.update(jnp.asarray(g), opt_state, params)
            params = optax.apply_updates(params, updates)
            np.testing.assert_allclose(np.asarray(got[t]), np.asarray(params), rtol=1e-12, atol=0)
    # optax's state (here adam's moments and count) is Haiku state of the module.
    assert int(state["optax_optimizer"]["opt_state"][0].count) == 20


def test_learner_matches_hand_written_optax_loop():
    """Same predictions, losses and parameters as value_and_grad + optax.update in a Python loop."""
    frame = ar2_frame(120, seed=3)
    values = frame.to_numpy()
    learn = linear_learner(optax.adam(1e-2), w_init=hk.initializers.Constant(0.1))
    (y_pred, info), state = frame.wax.stream().apply(learn, format_outputs=False, return_state=True)

    opt = optax.adam(1e-2)
    with jax.enable_x64(True):
        params = {"w": jnp.full((2, 1), 0.1), "b": jnp.zeros(1)}
        opt_state = opt.init(params)

        def loss(p, x, y):
            pred = x @ p["w"] + p["b"]
            return mse(pred, y), pred

        for t, row in enumerate(values):
            (value, pred), grads = jax.value_and_grad(loss, has_aux=True)(params, row[1:], row[:1])
            grads = jax.tree_util.tree_map(lambda g: jnp.where(jnp.isfinite(g), g, 0.0), grads)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            np.testing.assert_allclose(np.asarray(y_pred[t]), np.asarray(pred), rtol=1e-12, atol=0)
            np.testing.assert_allclose(np.asarray(info.loss[t]), np.asarray(value), rtol=1e-12, atol=0)
            np.testing.assert_allclose(np.asarray(info.params["linear"]["w"][t]), np.asarray(params["w"]), rtol=1e-12, atol=0)
    final = state["online_supervised_learner"]["model_params_state"].params
    np.testing.assert_allclose(np.asarray(final["linear"]["w"]), np.asarray(params["w"]), rtol=1e-12, atol=0)


def test_nan_observations_leave_parameters_unchanged():
    frame = ar2_frame(60, seed=4)
    frame.iloc[30, 0] = np.nan     # a missing target
    frame.iloc[40, 1] = np.inf     # an overflowing feature
    learn = linear_learner(optax.sgd(1e-2), w_init=hk.initializers.Constant(0.0))
    (_, info), _ = frame.wax.stream().apply(learn, format_outputs=False, return_state=True)
    w = np.asarray(info.params["linear"]["w"])[:, :, 0]
    assert np.all(np.isfinite(w))
    assert np.isnan(info.loss[0]) and np.isnan(info.loss[1]) and np.isnan(info.loss[30])
    # steps 0, 1 (NaN lags), 30 and 40 make no update; every other step does.
    np.testing.assert_array_equal(w[1], 0.0)
    np.testing.assert_array_equal(w[30], w[29])
    np.testing.assert_array_equal(w[40], w[39])
    assert np.all(w[31] != w[30])
    # Without filling, the single NaN target poisons the parameters for good.
    raw = frame.to_numpy()
    unfilled = hk.transform_with_state(lambda row: OnlineSupervisedLearner(
        lambda x: hk.Linear(1, w_init=jnp.zeros)(x), optax.sgd(1e-2), mse, grads_fill_nan_inf=False)(
        jnp.nan_to_num(row[1:], nan=0.0, posinf=0.0), row[:1]))
    (_, info_raw), _ = dynamic_unroll(unfilled, raw)
    assert np.all(np.isnan(np.asarray(info_raw.params["linear"]["w"])[-1]))


def test_dynamic_and_static_unroll_agree_and_jit_init_apply():
    frame = ar2_frame(40, seed=5)
    xs = frame.to_numpy()
    learn = hk.transform_with_state(linear_learner(newton(2.0, eps=10.0)))
    rng = jax.random.PRNGKey(0)
    (p_dyn, i_dyn), s_dyn = dynamic_unroll(learn, xs, rng)
    (p_sta, i_sta), s_sta = static_unroll(learn, xs, rng)
    (p_jit, i_jit), _ = dynamic_unroll(jit_init_apply(learn), xs, rng)
    for other in (p_sta, p_jit):
        np.testing.assert_allclose(np.asarray(p_dyn), np.asarray(other), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(i_dyn.loss), np.asarray(i_sta.loss), rtol=1e-12, atol=0)
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=0),
                           s_dyn, s_sta)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_learner_dtype_follows_data(dtype):
    xs = ar2_frame(50, seed=6, dtype=dtype).to_numpy()
    assert xs.dtype == dtype
    (y_pred, info), state = dynamic_unroll(hk.transform_with_state(linear_learner(newton(2.0, eps=10.0))), xs,
                                           jax.random.PRNGKey(1))
    assert y_pred.dtype == dtype and info.loss.dtype == dtype
    assert info.params["linear"]["w"].dtype == dtype
    opt_state = state["online_supervised_learner/~/optax_optimizer"]["opt_state"]
    assert opt_state[0].hessian_inv["linear"]["w"].dtype == dtype


def test_float32_learning_follows_the_float64_run():
    # The same float32 data learned in float32 and (cast up) in float64, from the same zero weights (the default
    # random init draws differently per dtype). 50 online Newton steps: float32's eps is 1.2e-7 and the errors
    # measured here stay below 3e-6 relative on weights and predictions; the losses are squares of differences,
    # so they get an absolute floor too.
    xs32 = ar2_frame(50, seed=6, dtype=np.float32).to_numpy()
    runs = {}
    for xs in (xs32, xs32.astype(np.float64)):
        learn = linear_learner(newton(2.0, eps=10.0), w_init=hk.initializers.Constant(0.0))
        (y_pred, info), _ = dynamic_unroll(hk.transform_with_state(learn), xs, jax.random.PRNGKey(1))
        runs[xs.dtype.name] = (np.asarray(y_pred), np.asarray(info.loss), np.asarray(info.params["linear"]["w"]))
    (p32, l32, w32), (p64, l64, w64) = runs["float32"], runs["float64"]
    assert p32.dtype == l32.dtype == w32.dtype == np.float32
    np.testing.assert_array_equal(w32[:2], 0.0)  # no update while a lag is missing
    np.testing.assert_allclose(w32, w64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(l32, l64, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert np.abs(w64[-1]).max() > 0.1  # the weights did move away from zero
    assert not np.array_equal(w32, w64.astype(np.float32))  # computed in float32, not float64 rounded at the end


# ---------------------------------------------------------------------------------------------
# Worked example: an AR(2) model learned online
# ---------------------------------------------------------------------------------------------

def test_worked_example_ar2_learned_online():
    """Linear AR model learned online (online Newton step) on a synthetic AR(2) series."""
    T = 3000
    frame = ar2_frame(T, seed=0)
    (y_pred, info), state = frame.wax.stream().apply(
        linear_learner(newton(2.0, eps=10.0)), rng=jax.random.PRNGKey(0), format_outputs=False,
        return_state=True)
    loss = np.asarray(info.loss)
    assert np.isnan(loss[:2]).all() and np.isfinite(loss[2:]).all()

    # Final coefficients within 0.05 of the truth; the intercept (truly 0) small.
    learned = state["online_supervised_learner"]["model_params_state"].params["linear"]
    np.testing.assert_allclose(np.asarray(learned["w"])[:, 0], AR2, rtol=0, atol=0.05)
    assert abs(float(learned["b"][0])) < 0.1

    # The online loss falls to the noise floor. Each step's loss is dominated by the noise, so
    # compare it with what the true coefficients achieve on the same step (the oracle): the excess
    # over the first 100 steps (the price of learning) dwarfs the excess over the last 1000, where
    # the online loss is within 2% of the oracle.
    values = frame.to_numpy()
    oracle = (values[:, 0] - AR2[0] * values[:, 1] - AR2[1] * values[:, 2]) ** 2
    excess = loss - oracle
    assert excess[2:102].mean() > 0.05
    assert excess[2:102].mean() > 10 * abs(excess[-1000:].mean())
    assert loss[-1000:].mean() < 1.02 * oracle[-1000:].mean()
    # The prediction reported at each step was made before seeing y_t: its error is the loss.
    np.testing.assert_allclose((np.asarray(y_pred)[2:, 0] - values[2:, 0]) ** 2, loss[2:], rtol=1e-10, atol=0)


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors at the first step, naming the piece
# ---------------------------------------------------------------------------------------------

def _first_step(fn, x):
    return dynamic_unroll(hk.transform_with_state(fn), x, jax.random.PRNGKey(0))


def test_mismatched_prediction_and_target_shapes():
    # (2, 1) against (2,) broadcasts to (2, 2): each prediction against every target, refused
    def fn(row):
        x = row[2:].reshape(2, 2)
        return OnlineSupervisedLearner(lambda x: hk.Linear(1)(x), optax.sgd(0.1), mse)(x, row[:2])
    with pytest.raises(ValueError, match=r"model output has shape \(2, 1\) but the target y has shape \(2,\).*"
                                         r"broadcast them to \(2, 2\)"):
        _first_step(fn, np.ones((5, 6)))
    # shapes that do not broadcast at all
    def fn3(row):
        return OnlineSupervisedLearner(lambda x: hk.Linear(3)(x), optax.sgd(0.1), mse)(row[2:], row[:2])
    with pytest.raises(ValueError, match=r"model output has shape \(3,\) but the target y has shape \(2,\).*"
                                         r"broadcast them to None"):
        _first_step(fn3, np.ones((5, 5)))


def test_waxml_scalar_target_with_a_one_output_linear_model():
    # WAX-ML's own online_supervised_learner_test.test_online_model: hk.Linear(1) (output (1,)) learns a scalar
    # y; a loss of the two pairs the one prediction with the one target. Hand-checked SGD from zero weights:
    # w_1 = -lr * d/dw (w.x_0 - y_0)^2 = 2 lr y_0 x_0, then w_2 = w_1 - 2 lr (w_1.x_1 - y_1) x_1.
    lr = 1e-2
    X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0], [1.5, 0.0, 1.0]])
    Y = np.array([2.0, -1.0, 0.5])

    def learner(x, y):
        def model(x):
            return hk.Linear(1, with_bias=False, w_init=hk.initializers.Constant(0.0))(x)
        return OnlineSupervisedLearner(model, optax.sgd(lr), mse)(x, y)

    # WAX-ML's spelling: unroll(learner, rng=...)(X, Y) on the plain function (float64: x64 on)
    with jax.enable_x64(True):
        y_pred, info = unroll(learner, rng=jax.random.PRNGKey(0))(X, Y)
    w = np.zeros(3)
    expected_pred, expected_loss, expected_w = [], [], []
    for x, y in zip(X, Y):
        p = w @ x
        expected_pred.append(p)
        expected_loss.append((p - y) ** 2)
        w = w - lr * 2 * (p - y) * x
        expected_w.append(w.copy())
    np.testing.assert_allclose(np.asarray(y_pred)[:, 0], expected_pred, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(info.loss), expected_loss, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(info.params["linear"]["w"])[:, :, 0], expected_w, rtol=1e-12, atol=1e-15)


def test_loss_must_return_a_scalar():
    def squared(y_pred, y):
        return (y_pred - y) ** 2

    def fn(row):
        return OnlineSupervisedLearner(lambda x: hk.Linear(2)(x), optax.sgd(0.1), squared)(row[2:], row[:2])
    with pytest.raises(ValueError, match=r"loss .*squared must return a scalar, got \(2,\)"):
        _first_step(fn, np.ones((5, 4)))


@pytest.mark.parametrize("opt, match", [
    (optax.sgd, r"opt must be an optax.GradientTransformation.*did you mean sgd\(learning_rate\)"),
    ("adam", r"opt must be an optax.GradientTransformation.*got str 'adam'"),
])
def test_optimizer_must_be_an_optax_transformation(opt, match):
    def fn(row):
        return OnlineSupervisedLearner(lambda x: hk.Linear(1)(x), opt, mse)(row[1:], row[:1])
    with pytest.raises(TypeError, match=match):
        _first_step(fn, np.ones((5, 3)))
    with pytest.raises(TypeError, match=r"OptaxOptimizer: opt must be"):
        hk.transform_with_state(lambda p: OptaxOptimizer(opt)(p, p)).init(None, jnp.ones(2))


def test_model_needing_a_key_without_rng():
    def fn(row):
        return OnlineSupervisedLearner(lambda x: hk.Linear(1)(x), optax.sgd(0.1), mse)(row[1:], row[:1])
    with pytest.raises(ValueError, match="needs a PRNG key"):
        dynamic_unroll(hk.transform_with_state(fn), np.ones((5, 3)))
