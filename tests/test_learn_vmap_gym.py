"""VMap (independent states per batch member) and GymFeedback (closed agent/environment loops)."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from scipy.signal import lfilter

from waxegg.wax import EWMA, dynamic_unroll, jit_init_apply, static_unroll
from waxegg.wax.modules import SNARIMAX, GymFeedback, GymOutput, OnlineSupervisedLearner, VMap
from waxegg.wax.optim import newton


def run(fn, xs, rng=None, unroll=dynamic_unroll):
    return unroll(hk.transform_with_state(fn), xs, rng)


# ---------------------------------------------------------------------------------------------
# VMap
# ---------------------------------------------------------------------------------------------

def test_vmap_of_stateful_module_equals_separate_runs(frame):
    """VMap(EWMA) over the columns == EWMA of each column alone == pandas ewm().mean()."""
    values = frame.to_numpy()
    got, state = run(lambda x: VMap(lambda v: EWMA(alpha=0.2)(v))(x), values)
    for j in range(values.shape[1]):
        alone, _ = run(lambda v: EWMA(alpha=0.2)(v), values[:, j])
        np.testing.assert_array_equal(np.asarray(got)[:, j], np.asarray(alone))
    np.testing.assert_allclose(np.asarray(got), frame.ewm(alpha=0.2).mean().to_numpy(), rtol=1e-12)
    # One state per member, stacked on the batch axis.
    assert state["v_map"]["params_state"][1]["ewma"]["mean"].shape == (values.shape[1],)


def test_vmap_members_get_their_own_keys_and_learn_independently():
    """Three online learners, each on its own AR(1) series: each recovers its own coefficient."""
    T, phis = 2000, np.array([0.8, 0.0, -0.6])
    rs = np.random.default_rng(0)
    y = np.stack([lfilter([1.0], [1.0, -phi], rs.standard_normal(T)) for phi in phis], axis=1)
    lag = np.vstack([np.full((1, 3), np.nan), y[:-1]])

    def member(x, target):
        return OnlineSupervisedLearner(lambda v: hk.Linear(1)(v), newton(2.0, eps=10.0),
                                       lambda p, t: jnp.mean((p - t) ** 2))(x, target)

    def fn(inputs):
        x, target = inputs
        return VMap(member)(x[:, None], target[:, None])

    (y_pred, info), state = run(fn, (lag, y), rng=jax.random.PRNGKey(0))
    w = np.asarray(info.params["linear"]["w"])          # (T, members, 1, 1)
    assert w.shape == (T, 3, 1, 1)
    assert len(set(np.round(w[0, :, 0, 0], 12))) == 3    # different initial keys per member
    np.testing.assert_allclose(w[-1, :, 0, 0], phis, atol=0.05)
    assert y_pred.shape == (T, 3, 1)


def test_vmap_needs_a_common_batch_size():
    with pytest.raises(ValueError, match=r"VMap: every argument needs the same leading \(batch\) size"):
        run(lambda x: VMap(lambda a, b: a + b)(x[:2], x), np.zeros((4, 3)))


# ---------------------------------------------------------------------------------------------
# GymFeedback: exact mechanics
# ---------------------------------------------------------------------------------------------

class CountingAgent(hk.Module):
    """action = obs + 1 (a dict, to check structured actions), counting its calls in state."""

    def __call__(self, obs):
        count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
        hk.set_state("count", count + 1)
        return {"move": obs + 1.0}, {"count": count + 1}


class AddingEnv(hk.Module):
    def __call__(self, action, raw_obs):
        obs = raw_obs + action["move"]
        return action["move"] * obs, obs, {"raw": raw_obs}


def python_loop(raw):
    """The documented recursion, by hand: a_{-1} = agent(raw_0); r_t, o_t = env(a_{t-1}, raw_t); a_t = agent(o_t)."""
    action = raw[0] + 1.0
    rewards, observations, actions = [], [], []
    for r in raw:
        obs = r + action
        rewards.append(action * obs)
        observations.append(obs)
        action = obs + 1.0
        actions.append(action)
    return np.array(rewards), np.array(observations), np.array(actions)


@pytest.mark.parametrize("unroll", [dynamic_unroll, static_unroll])
def test_gym_feedback_recursion(unroll):
    raw = np.arange(10, dtype=np.float64)

    def gym(r):
        return GymFeedback(CountingAgent(), AddingEnv(), return_obs=True, return_action=True)(r)

    (out, info), state = run(gym, raw, unroll=unroll)
    rewards, observations, actions = python_loop(raw)
    np.testing.assert_array_equal(np.asarray(out.reward), rewards)
    np.testing.assert_array_equal(np.asarray(out.obs), observations)
    np.testing.assert_array_equal(np.asarray(out.action["move"]), actions)
    np.testing.assert_array_equal(np.asarray(info.env["raw"]), raw)
    np.testing.assert_array_equal(np.asarray(info.agent["count"]), np.arange(1, 11))
    assert float(state["gym_feedback"]["action"].action["move"]) == actions[-1]
    assert int(state["counting_agent"]["count"]) == 10


def test_gym_feedback_records_only_what_is_asked_and_runs_under_jit():
    raw = np.arange(6, dtype=np.float64)
    gym = jit_init_apply(hk.transform_with_state(lambda r: GymFeedback(CountingAgent(), AddingEnv())(r)))
    (out, _), _ = dynamic_unroll(gym, raw)
    assert isinstance(out, GymOutput) and out.obs is None and out.action is None
    np.testing.assert_array_equal(np.asarray(out.reward), python_loop(raw)[0])
    # init_action replaces the agent's action on the first raw observation.
    gym = hk.transform_with_state(lambda r: GymFeedback(CountingAgent(), AddingEnv(), return_obs=True,
                                                        init_action={"move": jnp.asarray(0.0)})(r))
    (out, _), _ = dynamic_unroll(gym, raw)
    assert float(out.obs[0]) == 0.0 and float(out.obs[1]) == 1.0 + (0.0 + 1.0)


@pytest.mark.parametrize("agent, env, match", [
    (lambda obs: obs, lambda a, r: (a, r, {}), r"GymFeedback: agent must return \(action, info\)"),
    (lambda obs: (obs, {}), lambda a, r: (a, r), r"GymFeedback: env must return \(reward, obs, info\), "
                                                  r"got a tuple of length 2"),
    (lambda obs: ({"a": obs}, {}), lambda a, r: (r, r, {}), r"GymFeedback: the agent's action .* differs"),
])
def test_gym_feedback_bad_pieces(agent, env, match):
    init_action = 0.0 if "differs" in match else None
    with pytest.raises(TypeError, match=match):
        run(lambda r: GymFeedback(agent, env, init_action=init_action)(r), np.zeros(4))


# ---------------------------------------------------------------------------------------------
# GymFeedback: an agent tracking a drifting target
# ---------------------------------------------------------------------------------------------

class TrackingEnv(hk.Module):
    """The raw input is the target; the reward is minus the squared miss of the previous action."""

    def __call__(self, action, target):
        return -jnp.square(action - target), target, {}


def test_agent_tracks_a_drifting_target():
    """A learning agent (SNARIMAX with d=1 learns the drift) beats an agent that holds the last target."""
    T = 2000
    steps = 0.1 + 0.02 * np.random.default_rng(12).standard_normal(T)
    target = pd.Series(np.cumsum(steps), index=pd.date_range("2021", periods=T, freq="h"))

    def learning(t):
        agent = lambda obs: SNARIMAX(1, 1, opt=optax.sgd(0.05))(obs)  # noqa: E731
        return GymFeedback(agent, TrackingEnv(), return_action=True)(t)

    def holding(t):
        return GymFeedback(lambda obs: (obs, {}), TrackingEnv())(t)

    (out, _), _ = target.wax.stream().apply(learning, format_outputs=False, return_state=True)
    (held, _) = target.wax.stream(return_state=False).apply(holding, format_outputs=False)
    miss = -np.asarray(out.reward)[T // 2:]
    held_miss = -np.asarray(held.reward)[T // 2:]
    # Holding misses by the drift (0.1) every step; the learner only by the drift's noise (0.02).
    assert held_miss.mean() > 0.009
    assert miss.mean() < 0.15 * held_miss.mean()
    assert miss.mean() < 2 * 0.02 ** 2
    # and it learned: its early misses are larger than its late ones.
    assert -np.asarray(out.reward)[1:50].mean() > 2 * miss.mean()
    assert np.asarray(out.action).shape == (T,)
