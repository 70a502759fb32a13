"""The GP underneath bayesopt: closed-form posterior, marginal likelihood, EI, encoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import multivariate_normal, norm

from scheduler.searchers.bayesopt.acquisition import (
    log_expected_improvement,
    log_h,
    log_probability_feasible,
)
from scheduler.searchers.bayesopt.encoding import Encoder
from scheduler.searchers.bayesopt.fit import fit_hyperparameters, log_prior, standardize
from scheduler.searchers.bayesopt.gp import (
    GPParams,
    Posterior,
    matern52,
    neg_log_marginal_likelihood,
)
from scheduler.searchers.bayesopt.model import SurrogateModel
from scheduler.space import Bool, Categorical, Domain, Int, Real, SearchSpace

PARAMS = GPParams(mean=0.3, amplitude=1.7, lengthscales=np.array([0.4, 0.9]), noise=0.05)


def tiny_data(n=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2))
    y = np.sin(4 * X[:, 0]) + X[:, 1]
    return X, y


# -- kernel and posterior ---------------------------------------------------------------


def test_matern52_closed_form():
    x, z = np.array([[0.1, 0.2]]), np.array([[0.4, 0.6]])
    r = math.sqrt((0.3 / 0.4) ** 2 + (0.4 / 0.9) ** 2)
    expected = 1.7 * (1 + math.sqrt(5) * r + 5 * r * r / 3) * math.exp(-math.sqrt(5) * r)
    assert matern52(x, z, PARAMS.lengthscales, PARAMS.amplitude)[0, 0] == pytest.approx(expected)
    assert matern52(x, x, PARAMS.lengthscales, PARAMS.amplitude)[0, 0] == pytest.approx(1.7)


def test_posterior_one_point_closed_form():
    """One observation y0 at x0: at x0, mean = m + s/(s+v) (y0 - m), var = s v / (s + v)."""
    x0, y0 = np.array([[0.5, 0.5]]), np.array([2.0])
    s, v, m = PARAMS.amplitude, PARAMS.noise, PARAMS.mean
    mean, var = Posterior(x0, y0, PARAMS).predict(x0)
    assert mean[0] == pytest.approx(m + s / (s + v) * (y0[0] - m))
    assert var[0] == pytest.approx(s * v / (s + v))


def test_posterior_matches_the_textbook_formulas():
    X, y = tiny_data()
    Xs = np.random.default_rng(1).random((7, 2))
    K = matern52(X, X, PARAMS.lengthscales, PARAMS.amplitude) + PARAMS.noise * np.eye(len(X))
    Ks = matern52(Xs, X, PARAMS.lengthscales, PARAMS.amplitude)
    Kss = matern52(Xs, Xs, PARAMS.lengthscales, PARAMS.amplitude)
    Kinv = np.linalg.inv(K)
    mean_ref = PARAMS.mean + Ks @ Kinv @ (y - PARAMS.mean)
    cov_ref = Kss - Ks @ Kinv @ Ks.T
    posterior = Posterior(X, y, PARAMS)
    mean, var = posterior.predict(Xs)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, np.diag(cov_ref), rtol=1e-8, atol=1e-12)
    _, cov = posterior.predict(Xs, full_cov=True)
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-8, atol=1e-12)
    # the mean at the training inputs without a solve
    Kf = K - PARAMS.noise * np.eye(len(X))
    np.testing.assert_allclose(
        posterior.mean_at_data(), PARAMS.mean + Kf @ Kinv @ (y - PARAMS.mean), atol=1e-10
    )


def test_posterior_columns_are_independent_posteriors():
    X, y = tiny_data()
    Y = np.stack([y, 2 * y - 1, -y], axis=1)
    Xs = np.random.default_rng(2).random((4, 2))
    mean, var = Posterior(X, Y, PARAMS).predict(Xs)
    for column in range(3):
        single_mean, single_var = Posterior(X, Y[:, column], PARAMS).predict(Xs)
        np.testing.assert_allclose(mean[:, column], single_mean)
        np.testing.assert_allclose(var, single_var)


def test_neg_log_marginal_likelihood_is_the_gaussian_density_and_its_gradient():
    X, y = tiny_data(8)
    theta = PARAMS.to_theta()
    K = matern52(X, X, PARAMS.lengthscales, PARAMS.amplitude) + PARAMS.noise * np.eye(len(X))
    expected = -multivariate_normal(mean=np.full(len(X), PARAMS.mean), cov=K).logpdf(y)
    value, grad = neg_log_marginal_likelihood(theta, X, y)
    assert value == pytest.approx(expected, rel=1e-10)
    numeric = approx_fprime(theta, lambda t: neg_log_marginal_likelihood(t, X, y)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5)
    numeric = approx_fprime(theta, lambda t: log_prior(t)[0], 1e-7)
    np.testing.assert_allclose(log_prior(theta)[1], numeric, rtol=1e-4, atol=1e-5)


def test_fit_recovers_a_smooth_function_and_is_reproducible():
    rng = np.random.default_rng(0)
    X, Xs = rng.random((40, 2)), rng.random((50, 2))
    f = np.sin(3 * X[:, 0]) + 0.1 * X[:, 1]
    y, mu, sigma = standardize(f)
    theta = fit_hyperparameters(X, y, np.random.default_rng(5))
    np.testing.assert_array_equal(theta, fit_hyperparameters(X, y, np.random.default_rng(5)))
    params = GPParams.from_theta(theta)
    assert params.noise < 0.01  # noiseless data
    assert params.lengthscales[1] > params.lengthscales[0]  # x2 matters less
    mean, _ = Posterior(X, y, params).predict(Xs)
    truth = (np.sin(3 * Xs[:, 0]) + 0.1 * Xs[:, 1] - mu) / sigma
    assert np.abs(mean - truth).max() < 0.05


def test_surrogate_subsample_keeps_the_best_and_is_deterministic():
    model = SurrogateModel(max_size_data_for_model=40)
    y = np.random.default_rng(0).standard_normal(200)
    rows = model.subsample(y)
    assert len(rows) == 40 and len(set(rows)) == 40
    np.testing.assert_array_equal(rows, model.subsample(y))
    assert set(np.argsort(y)[:10]) <= set(rows)  # the best quarter
    np.testing.assert_array_equal(model.subsample(y[:30]), np.arange(30))


# -- acquisition ------------------------------------------------------------------------


def test_log_h_and_log_ei_match_the_closed_form():
    z = np.array([-30.0, -8.0, -2.0, -1.0, -0.3, 0.0, 0.7, 3.0])
    expected = np.log(z * norm.cdf(z) + norm.pdf(z))
    np.testing.assert_allclose(log_h(z), expected, rtol=1e-9)
    assert np.all(np.isfinite(log_h(np.array([-1e5, -1e9]))))
    mean, std, best = np.array([0.2, -0.1]), np.array([0.5, 0.3]), 0.0
    zz = (best - mean) / std
    ei = std * (zz * norm.cdf(zz) + norm.pdf(zz))
    np.testing.assert_allclose(np.exp(log_expected_improvement(mean, std, best)), ei)
    # fantasy columns: the mean of the per-column EIs
    means = np.stack([mean, mean + 0.1], axis=1)
    bests = np.array([0.0, 0.1])
    per = [np.exp(log_expected_improvement(means[:, s], std, bests[s])) for s in range(2)]
    np.testing.assert_allclose(
        np.exp(log_expected_improvement(means, std, bests)), (per[0] + per[1]) / 2
    )
    np.testing.assert_allclose(
        np.exp(log_probability_feasible(np.array([0.3]), np.array([0.6]))), norm.cdf(-0.5)
    )


# -- encoding ---------------------------------------------------------------------------


class _Weird(Domain):
    cardinality = None

    def contains(self, value):
        return True


EVERY_TYPE = SearchSpace(
    lr=Real(1e-5, 1e-1, log=True),
    dropout=Real(0.0, 0.5),
    layers=Int(1, 8),
    fixed=Int(3, 3),
    flag=Bool(),
    act=Categorical("relu", "tanh", "gelu"),
    shape=Categorical((1, 2), [3], {"k": None}),
    only=Categorical("one"),
    epochs=10,
)


def test_encoding_round_trip_for_every_space_type():
    encoder = Encoder(EVERY_TYPE)
    # lr, dropout, layers, flag: 1 column each; act 3, shape 3 one-hot; constants none
    assert encoder.dim == 4 + 3 + 3
    rng = np.random.default_rng(0)
    for config in [EVERY_TYPE.default_config()] + [EVERY_TYPE.sample(rng) for _ in range(200)]:
        x = encoder.encode(config)
        assert x.shape == (encoder.dim,) and np.all((x >= 0) & (x <= 1))
        np.testing.assert_array_equal(encoder.project(x[None, :])[0], x)  # a feasible point
        back = encoder.decode(x)
        assert set(back) == set(EVERY_TYPE.hyperparameters)
        assert EVERY_TYPE.contains(back)
        for name in ("layers", "fixed", "flag", "act", "shape", "only"):
            assert back[name] == config[name] and type(back[name]) is type(config[name])
        assert back["lr"] == pytest.approx(config["lr"], rel=1e-12)
        assert back["dropout"] == pytest.approx(config["dropout"], abs=1e-15)
    every_int = {
        encoder.decode(encoder.encode({**EVERY_TYPE.default_config(), "layers": k}))["layers"]
        for k in range(1, 9)
    }
    assert every_int == set(range(1, 9))


def test_any_point_decodes_into_the_space_and_samples_cover_it():
    encoder = Encoder(EVERY_TYPE)
    rng = np.random.default_rng(1)
    for x in rng.random((100, encoder.dim)) * 1.4 - 0.2:  # outside the cube too
        assert EVERY_TYPE.contains(encoder.decode(encoder.project(x[None, :])[0]))
    samples = [encoder.decode(x) for x in encoder.sample(rng, 400)]
    assert {s["act"] for s in samples} == {"relu", "tanh", "gelu"}
    assert {s["flag"] for s in samples} == {False, True}
    assert {s["layers"] for s in samples} == set(range(1, 9))
    logs = np.log10([s["lr"] for s in samples])
    assert -5 <= logs.min() < -4.5 and -1.5 < logs.max() <= -1  # log-uniform
    neighbours = encoder.neighbours(encoder.sample(rng, 50), rng, 0.1)
    assert all(EVERY_TYPE.contains(encoder.decode(x)) for x in neighbours)


def test_encoder_refuses_what_it_cannot_encode():
    with pytest.raises(ValueError, match=r"hyperparameter 'odd'.*Real, Int, Categorical or Bool"):
        Encoder(SearchSpace(odd=_Weird(), x=Real(0, 1)))
    encoder = Encoder(SearchSpace(x=Real(0, 1)))
    with pytest.raises(ValueError, match="missing hyperparameter 'x'"):
        encoder.encode({"y": 1})
    with pytest.raises(ValueError, match=r"within \[0.0, 1.0\]"):
        encoder.encode({"x": 3.0})
