"""The online-learning benchmark workload computes the same thing three ways (checked before timing)."""

from __future__ import annotations

import numpy as np
import pytest

from waxegg.bench.learn_workloads import OnlineLinearLearning, run_online_learning


@pytest.mark.parametrize("opt", ["sgd", "newton"])
def test_jit_and_python_loops_agree(opt):
    work = OnlineLinearLearning(300, 10, opt)
    jit = work.jit()
    loop = work.python_loop()
    for key in ("w", "b"):
        np.testing.assert_allclose(np.asarray(jit["linear"][key]), np.asarray(loop["linear"][key]), rtol=1e-10, atol=1e-12)
    # The first 50 eager steps follow the jitted loop too.
    np.testing.assert_allclose(np.asarray(work.python_loop(50, jit_step=False)["linear"]["w"]),
                               np.asarray(work.python_loop(50)["linear"]["w"]), rtol=1e-10, atol=1e-12)


def test_run_online_learning_reports_rates():
    result = run_online_learning(200, 4, "newton", repeat=1, eager_steps=10)
    assert result["max_abs_param_diff"] < 1e-10
    assert set(result["steps_per_s"]) == {"jit", "python-jit-step", "python-eager"}
    assert all(rate > 0 for rate in result["steps_per_s"].values())
    with pytest.raises(ValueError, match="opt must be one of"):
        OnlineLinearLearning(10, 2, "adagrad")
