"""What AutoGluon's searcher unit test checks of ``RandomSearcher``, stated for this package.

Source: AutoGluon v0.2.0 ``core/tests/unittests/test_skoptsearcher.py`` and v0.0.15
``tests/unittests/test_skoptsearcher.py`` (Apache-2.0). Their scikit-optimize searcher
has no counterpart here (``run_upstream.py`` skips those files with that reason); the
random-search half of the test is restated: a ``RandomSearcher`` built from a ConfigSpace
(with AutoGluon's ``reward_attribute=``) proposes configs of that space, 15 times, and
takes each reward as ``update(config, **{reward_attribute: value})``.
"""

from __future__ import annotations

import pytest

from scheduler.searchers import RandomSearcher

CS = pytest.importorskip("ConfigSpace")
CSH = pytest.importorskip("ConfigSpace.hyperparameters")


def toy_reward(config):
    reward = (10 * config["b"] + config["c"]) * 30 ** config["a"]
    return reward * {"good": 5, "neutral": 2}.get(config["d"], 1)


def test_random_searcher_over_a_configspace():
    cs = CS.ConfigurationSpace()
    cs.add(
        [
            CSH.UniformFloatHyperparameter("a", lower=1e-4, upper=1e-1, log=True),
            CSH.UniformFloatHyperparameter("b", lower=-2, upper=0),
            CSH.UniformIntegerHyperparameter("c", lower=0, upper=1000),
            CSH.CategoricalHyperparameter("d", choices=["good", "neutral", "bad"]),
        ]
    )
    optimal = toy_reward({"a": 1e-1, "b": 0, "c": 1000, "d": "good"})
    searcher = RandomSearcher(cs, reward_attribute="accuracy")
    rewards = []
    for _ in range(15):
        config = searcher.get_config()
        assert set(config) == {"a", "b", "c", "d"}
        assert 1e-4 <= config["a"] <= 1e-1 and -2 <= config["b"] <= 0
        assert isinstance(config["c"], int) and 0 <= config["c"] <= 1000
        assert config["d"] in ("good", "neutral", "bad")
        reward = toy_reward(config) / optimal
        searcher.update(config, **{"accuracy": reward})
        rewards.append(reward)
    assert searcher.num_results == 15
    assert searcher.get_best_reward() == max(rewards)
