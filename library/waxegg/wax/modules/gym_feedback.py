"""A closed feedback loop between an agent and an environment, one step per call."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import haiku as hk
import jax


class GymOutput(NamedTuple):
    """What one step of :class:`GymFeedback` records; unrequested fields are ``None``.

    ``None`` is an empty pytree, so under ``dynamic_unroll`` the recorded fields are stacked on a
    leading time axis and the others cost nothing.
    """

    reward: Any
    obs: Any = None
    action: Any = None


class GymInfo(NamedTuple):
    """The environment's and the agent's info of one step."""

    env: Any
    agent: Any


class GymState(NamedTuple):
    """State of :class:`GymFeedback`: the agent's last action, fed to the environment next step."""

    action: Any


def _unpack(owner: str, piece: str, result: Any, n: int, what: str) -> tuple:
    if not isinstance(result, tuple) or len(result) != n:
        got = f"a tuple of length {len(result)}" if isinstance(result, tuple) else type(result).__name__
        raise TypeError(f"{owner}: {piece} must return {what}, got {got}")
    return result


class GymFeedback(hk.Module):
    """Close the loop between ``agent`` and ``env`` over a stream of raw observations (WAX-ML's name).

    At every step, with ``a_{t-1}`` the agent's previous action and ``raw_t`` the step's input:

    - ``reward_t, obs_t, env_info = env(a_{t-1}, raw_t)``: the environment scores the previous
      action against what happened and turns the raw data into the agent's observation;
    - ``a_t, agent_info = agent(obs_t)``: the agent (possibly learning, with its own state) acts.

    Both may be Haiku modules with state; under :func:`~waxegg.wax.unroll.dynamic_unroll` the whole
    loop runs inside one compiled ``lax.scan``.

    Parameters
    ----------
    agent : callable
        ``agent(obs) -> (action, info)``.
    env : callable
        ``env(action, raw_obs) -> (reward, obs, info)``.
    return_obs, return_action : bool, default False
        Also record the observations / actions in the output.
    init_action : pytree, optional
        The action fed to the environment at the first step. By default the agent's action on the
        first raw observation (WAX-ML's choice), computed when the loop is initialised.
    name : str, optional
        Haiku module name.

    Returns
    -------
    (GymOutput, GymInfo)
        ``GymOutput(reward, obs or None, action or None)`` and the two infos.

    Raises
    ------
    TypeError
        ``agent`` or ``env`` not callable or not returning a tuple of the documented length
        (the piece is named), at the first step.
    """

    #: WAX-ML's ``GymFeedback.GymState`` (the same class as :class:`GymState`).
    GymState = GymState

    def __init__(
        self,
        agent: Callable[[Any], tuple[Any, Any]],
        env: Callable[[Any, Any], tuple[Any, Any, Any]],
        return_obs: bool = False,
        return_action: bool = False,
        init_action: Any = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        for piece, fn in (("agent", agent), ("env", env)):
            if not callable(fn):
                raise TypeError(f"GymFeedback: {piece} must be callable, got {type(fn).__name__} {fn!r}")
        self.agent = agent
        self.env = env
        self.return_obs = bool(return_obs)
        self.return_action = bool(return_action)
        self.init_action = init_action

    def _act(self, obs: Any) -> tuple[Any, Any]:
        return _unpack("GymFeedback", "agent", self.agent(obs), 2, "(action, info)")

    def __call__(self, raw_obs: Any) -> tuple[GymOutput, GymInfo]:
        def first_action(*_: Any) -> GymState:
            if self.init_action is not None:
                return GymState(jax.tree_util.tree_map(lambda a: a, self.init_action))
            return GymState(self._act(raw_obs)[0])

        previous = hk.get_state("action", [], init=first_action)
        reward, obs, env_info = _unpack("GymFeedback", "env", self.env(previous.action, raw_obs), 3,
                                        "(reward, obs, info)")
        action, agent_info = self._act(obs)
        prev_leaves, prev_def = jax.tree_util.tree_flatten(previous.action)
        new_leaves, new_def = jax.tree_util.tree_flatten(action)
        if prev_def != new_def or any(jax.numpy.shape(a) != jax.numpy.shape(b) for a, b in zip(prev_leaves, new_leaves)):
            raise TypeError(f"GymFeedback: the agent's action {new_def} "
                            f"{[jax.numpy.shape(a) for a in new_leaves]} differs in structure or shape from the "
                            f"initial action {prev_def} {[jax.numpy.shape(a) for a in prev_leaves]}; "
                            "pass an init_action like the agent's actions")
        hk.set_state("action", GymState(action))
        output = GymOutput(reward=reward,
                           obs=obs if self.return_obs else None,
                           action=action if self.return_action else None)
        return output, GymInfo(env=env_info, agent=agent_info)
