"""fastem.em: EM for user models on the shared driver, against known maxima."""

import warnings
from fractions import Fraction

import numpy as np
import pytest

import fastem
from fastem import ConvergenceWarning, EMFit, IterationInfo

scipy_optimize = pytest.importorskip("scipy.optimize")
special = pytest.importorskip("scipy.special")

# -- the genetic-linkage multinomial of Dempster, Laird and Rubin (1977) ----------------
Y = np.array([125, 18, 20, 34])
THETA_STAR = (15 + np.sqrt(15**2 + 4 * 197 * 68)) / 394   # root of 197 t^2 - 15 t - 68
# Table 1 of DLR (1977): the EM iterates from 0.5
DLR_TABLE = [0.500000000, 0.608247423, 0.624321051, 0.626488879, 0.626777323, 0.626815632,
             0.626820719, 0.626821395, 0.626821484]


def linkage_loglik(t):
    probabilities = np.array([1 / 2 + t / 4, (1 - t) / 4, (1 - t) / 4, t / 4])
    return float(Y @ np.log(probabilities))


def linkage_e_step(t):
    """The expected count of the latent cell of probability t/4 inside the first cell."""
    return Y[0] * (t / 4) / (1 / 2 + t / 4), linkage_loglik(t)


def linkage_m_step(latent):
    return (latent + Y[3]) / (latent + Y[1] + Y[2] + Y[3])


def linkage_q(t, latent):
    return (latent + Y[3]) * np.log(t) + (Y[1] + Y[2]) * np.log(1 - t)


def logit(t):
    return np.array([np.log(t / (1 - t))])


def expit(u):
    return float(1 / (1 + np.exp(-u[0])))


def recording(e_step):
    """e_step, and the list of the parameters it is called with."""
    seen = []

    def wrapped(theta):
        seen.append(theta)
        return e_step(theta)

    return wrapped, seen


def quiet_em(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fastem.em(*args, **kwargs)


def assert_monotone(fit):
    history = fit.history
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))
    assert fit.log_likelihood >= history[-1] - 1e-12 * abs(history[-1])


def test_score_equation_root():
    assert 197 * THETA_STAR**2 - 15 * THETA_STAR - 68 == pytest.approx(0, abs=1e-12)
    assert round(THETA_STAR, 10) == 0.6268214979      # DLR: 0.626821498 (9 decimals)


def test_linkage_reproduces_dempster_laird_rubin_table_1():
    e_step, seen = recording(linkage_e_step)
    fit = fastem.em(e_step, linkage_m_step, 0.5, tol=1e-12)
    iterates = [float(t) for t in seen[:9]]
    # exact rational EM from 1/2: fastem's float iterates agree to rounding
    t, exact = Fraction(1, 2), []
    for _ in range(9):
        exact.append(t)
        latent = 125 * (t / 4) / (Fraction(1, 2) + t / 4)
        t = (latent + 34) / (latent + 72)
    assert np.allclose(iterates, [float(x) for x in exact], rtol=0, atol=1e-15)
    # DLR printed 9 decimals; three entries (2, 4, 7) are one unit above the exactly
    # rounded values (0.624321050369, 0.626777322347, 0.626821394456), so the check is
    # agreement within one unit of the ninth decimal
    assert np.max(np.abs(np.array(iterates) - DLR_TABLE)) < 1e-9
    assert [round(x, 9) for x in iterates] == pytest.approx(DLR_TABLE, abs=1.01e-9)
    assert fit.converged and fit.n_iter == 8 and len(fit.history) == 8
    assert fit.theta == pytest.approx(THETA_STAR, abs=2e-8)
    assert fit.log_likelihood == pytest.approx(linkage_loglik(fit.theta), abs=0)
    assert fit.history[0] == linkage_loglik(0.5)
    assert_monotone(fit)


def test_linkage_converges_to_the_maximum():
    fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=1e-15)
    assert fit.theta == pytest.approx(THETA_STAR, abs=1e-9)
    # tol bounds the change of the log-likelihood, which is flat at the maximum: every
    # digit of theta takes a fixed number of E-steps instead
    with pytest.warns(ConvergenceWarning):
        fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=0, max_iter=30)
    assert fit.theta == pytest.approx(THETA_STAR, abs=1e-15)
    assert isinstance(fit, EMFit)
    with pytest.raises(AttributeError):
        fit.theta = 0.1                 # frozen
    with pytest.raises(ValueError):
        fit.history[0] = 0.0            # read-only


def test_linkage_squarem_reaches_the_maximum_in_fewer_e_steps():
    def e_steps_to(accuracy, accelerate):
        e_step, seen = recording(linkage_e_step)
        quiet_em(e_step, linkage_m_step, 0.5, tol=0, max_iter=40, accelerate=accelerate)
        return next(i for i, t in enumerate(seen, 1) if abs(t - THETA_STAR) < accuracy)

    plain, fast = e_steps_to(1e-12, None), e_steps_to(1e-12, "squarem")
    assert (plain, fast) == (14, 8)
    # with the same stopping rule SQUAREM ends on the maximum; plain EM 1e-8 short of it
    em = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=1e-12)
    sq = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=1e-12, accelerate="squarem")
    assert sq.converged and abs(sq.theta - THETA_STAR) < 1e-15 < 1e-9 < abs(em.theta - THETA_STAR)
    assert sq.n_iter > len(sq.history)        # cycles of 2 or 3 E-steps
    assert_monotone(sq)


def test_squarem_with_logit_coordinates_keeps_the_probability_inside():
    e_step, seen = recording(linkage_e_step)
    for start in (0.05, 0.5, 0.95):
        seen.clear()
        fit = fastem.em(e_step, linkage_m_step, start, tol=1e-14, accelerate="squarem",
                        pack=logit, unpack=expit)
        assert fit.theta == pytest.approx(THETA_STAR, abs=1e-12)
        assert all(0 < t < 1 for t in seen)
        assert isinstance(fit.theta, float)


@pytest.mark.parametrize("refusal", ["raise", "nan", "zero-division"])
def test_squarem_refuses_points_the_model_rejects(refusal):
    """SQUAREM's first extrapolation from 0.5 overshoots the maximum; a model that
    refuses every point above it still converges, from below."""
    refused = []
    bound = THETA_STAR + 1e-12

    def e_step(t):
        if t > bound:
            refused.append(t)
            if refusal == "raise":
                raise ValueError("outside the model")
            if refusal == "zero-division":
                return 1 / 0, 0.0
            return 0.0, float("nan")
        return linkage_e_step(t)

    fit = fastem.em(e_step, linkage_m_step, 0.5, tol=1e-14, accelerate="squarem")
    assert refused and fit.converged
    assert fit.theta == pytest.approx(THETA_STAR, abs=1e-9) and fit.theta <= bound
    assert_monotone(fit)


def test_generalised_em_equals_the_closed_form_maximum():
    """With q maximised numerically, EM's iterates and maximum."""
    tight = {"options": {"gtol": 1e-10}}

    def q_grad(t, latent):       # d q / d logit(t)
        return [(latent + Y[3]) * (1 - t) - (Y[1] + Y[2]) * t]

    e_step, closed_path = recording(linkage_e_step)
    closed = quiet_em(e_step, linkage_m_step, 0.5, tol=0, max_iter=30)
    # scipy's finite differences limit the accuracy without the gradient
    for grad, accuracy in ((q_grad, 1e-10), (None, 1e-7)):
        e_step, path = recording(linkage_e_step)
        gem = quiet_em(e_step, theta0=0.5, q=linkage_q, q_grad=grad, tol=0, max_iter=30,
                       pack=logit, unpack=expit, minimize_options=tight)
        assert np.allclose(path[:10], closed_path[:10], rtol=0, atol=accuracy)
        assert gem.theta == pytest.approx(closed.theta, abs=accuracy)
        assert_monotone(gem)
    # to tol, in t itself (the default coordinates) with scipy's default BFGS, and
    # with SQUAREM
    plain = fastem.em(linkage_e_step, theta0=0.5, q=linkage_q, tol=1e-12)
    assert plain.converged and plain.theta == pytest.approx(THETA_STAR, abs=1e-6)
    accelerated = fastem.em(linkage_e_step, theta0=0.5, q=linkage_q, q_grad=q_grad, tol=1e-14,
                            pack=logit, unpack=expit, minimize_options=tight,
                            accelerate="squarem")
    assert accelerated.theta == pytest.approx(THETA_STAR, abs=1e-10)
    for fit in (plain, accelerated):
        assert_monotone(fit)


# -- a two-component Poisson mixture --------------------------------------------------
def poisson_data(seed=0, n=2000, weight=0.4, rates=(2.0, 5.0)):
    rng = np.random.default_rng(seed)
    first = rng.random(n) < weight
    return np.where(first, rng.poisson(rates[0], n), rng.poisson(rates[1], n)).astype(float)


class PoissonMixture:
    """theta = (weight of the first component, rate 1, rate 2) as an array."""

    def __init__(self, x):
        self.x = x
        self.log_factorial = special.gammaln(x + 1)
        self.outside = []

    def log_joint(self, theta):
        w, rate1, rate2 = theta
        x, lf = self.x, self.log_factorial
        return np.stack([np.log(w) + x * np.log(rate1) - rate1 - lf,
                         np.log1p(-w) + x * np.log(rate2) - rate2 - lf])

    def loglik(self, theta):
        return float(special.logsumexp(self.log_joint(theta), axis=0).sum())

    def e_step(self, theta):
        w, rate1, rate2 = theta
        if not (0 < w < 1 and rate1 > 0 and rate2 > 0):
            self.outside.append(np.array(theta))
            raise ValueError("not a Poisson mixture")
        joint = self.log_joint(theta)
        total = special.logsumexp(joint, axis=0)
        r = np.exp(joint[0] - total)
        n1 = r.sum()
        return (n1, r @ self.x, len(self.x) - n1, (1 - r) @ self.x), float(total.sum())

    def m_step(self, stats):
        n1, s1, n2, s2 = stats
        return np.array([n1 / (n1 + n2), s1 / n1, s2 / n2])

    def q(self, theta, stats):
        n1, s1, n2, s2 = stats
        w, rate1, rate2 = theta
        return (n1 * np.log(w) + n2 * np.log1p(-w) + s1 * np.log(rate1) - n1 * rate1
                + s2 * np.log(rate2) - n2 * rate2)

    def q_grad(self, theta, stats):      # with respect to pack(theta)
        n1, s1, n2, s2 = stats
        w, rate1, rate2 = theta
        return np.array([n1 * (1 - w) - n2 * w, s1 - n1 * rate1, s2 - n2 * rate2])

    @staticmethod
    def pack(theta):
        return np.r_[np.log(theta[0] / (1 - theta[0])), np.log(theta[1:])]

    @staticmethod
    def unpack(u):
        return np.r_[1 / (1 + np.exp(-u[0])), np.exp(u[1:])]

    def direct_maximum(self, start):
        """The maximum of the log-likelihood by BFGS in unconstrained coordinates."""
        result = scipy_optimize.minimize(lambda u: -self.loglik(self.unpack(u)),
                                         self.pack(np.asarray(start)), method="BFGS",
                                         options={"gtol": 1e-9})
        return self.unpack(result.x), -result.fun


THETA0 = np.array([0.5, 1.0, 6.0])


@pytest.fixture(scope="module")
def poisson():
    model = PoissonMixture(poisson_data())
    return model, model.direct_maximum([0.5, 1.5, 6.0])


def test_poisson_mixture_equals_the_direct_maximum(poisson):
    model, (best, best_loglik) = poisson
    # plain EM converges slowly here (rate about 0.96): a fixed number of E-steps
    with pytest.warns(ConvergenceWarning):
        plain = fastem.em(model.e_step, model.m_step, THETA0, tol=0, max_iter=800)
    assert not plain.converged and plain.n_iter == 800 == len(plain.history)
    fast = fastem.em(model.e_step, model.m_step, THETA0, tol=1e-13, accelerate="squarem")
    assert fast.converged and fast.n_iter < 50
    for fit in (plain, fast):
        assert fit.theta == pytest.approx(best, rel=1e-6)
        assert fit.log_likelihood == pytest.approx(best_loglik, rel=1e-13)
        assert fit.log_likelihood == pytest.approx(model.loglik(fit.theta), abs=0)
        assert_monotone(fit)
    # to the same tol, SQUAREM needs several times fewer E-steps and ends closer
    em = fastem.em(model.e_step, model.m_step, THETA0, tol=1e-10)
    sq = fastem.em(model.e_step, model.m_step, THETA0, tol=1e-10, accelerate="squarem")
    assert em.n_iter > 4 * sq.n_iter
    assert sq.log_likelihood > em.log_likelihood


def test_poisson_mixture_by_generalised_em(poisson):
    model, (best, best_loglik) = poisson
    fit = fastem.em(model.e_step, theta0=THETA0, q=model.q, q_grad=model.q_grad,
                    pack=model.pack, unpack=model.unpack, tol=1e-13, accelerate="squarem",
                    minimize_options={"method": "BFGS", "options": {"gtol": 1e-10}})
    assert fit.converged
    # the maximum is flat along one direction: stopped at tol=1e-13 on the
    # log-likelihood, the parameters are close to sqrt(tol) relative (1.2e-6 seen with
    # scipy 1.17's BFGS), the log-likelihood itself to rounding
    assert fit.log_likelihood == pytest.approx(best_loglik, rel=1e-12)
    assert fit.theta == pytest.approx(best, rel=1e-5)
    assert_monotone(fit)


def test_structured_parameters_are_flattened(poisson):
    """A dict and a tuple of floats and arrays give SQUAREM the same flat vector."""
    model, (best, _) = poisson

    def e_step(theta):
        return model.e_step(np.r_[theta["weight"], theta["rates"]])

    def m_step(stats):
        w, rate1, rate2 = model.m_step(stats)
        return {"weight": w, "rates": np.array([rate1, rate2])}

    start = {"weight": 0.5, "rates": np.array([1.0, 6.0])}
    fit = fastem.em(e_step, m_step, start, tol=1e-13, accelerate="squarem")
    array_fit = fastem.em(model.e_step, model.m_step, THETA0, tol=1e-13,
                          accelerate="squarem")
    assert set(fit.theta) == {"weight", "rates"} and fit.theta["rates"].shape == (2,)
    assert np.r_[fit.theta["weight"], fit.theta["rates"]] == pytest.approx(array_fit.theta,
                                                                          rel=1e-12)
    as_tuple = fastem.em(lambda t: model.e_step(np.r_[t[0], t[1]]),
                         lambda s: (model.m_step(s)[0], model.m_step(s)[1:]),
                         (0.5, np.array([1.0, 6.0])), tol=1e-13, accelerate="squarem")
    assert isinstance(as_tuple.theta, tuple)
    assert np.r_[as_tuple.theta[0], as_tuple.theta[1]] == pytest.approx(best, rel=1e-6)


def test_squarem_default_coordinates_refused_outside_and_packed_stay_inside():
    # one Poisson: the fit drifts towards a boundary, where extrapolations overshoot
    model = PoissonMixture(np.random.default_rng(1).poisson(3.0, 500).astype(float))
    start = np.array([0.2, 2.0, 4.0])
    flat = fastem.em(model.e_step, model.m_step, start, tol=1e-10, max_iter=20000,
                     accelerate="squarem")
    refused = len(model.outside)
    assert refused > 0                   # extrapolations past w = 1, refused by e_step
    packed = fastem.em(model.e_step, model.m_step, start, tol=1e-10, max_iter=20000,
                       accelerate="squarem", pack=model.pack, unpack=model.unpack)
    assert len(model.outside) == refused  # none outside in logit/log coordinates
    assert packed.converged and flat.converged
    assert packed.log_likelihood == pytest.approx(flat.log_likelihood, rel=1e-8)
    assert_monotone(flat)
    assert_monotone(packed)


def test_restarts_keep_the_best_run(poisson):
    model, (_, best_loglik) = poisson

    def init(rs):
        return np.array([rs.uniform(0.1, 0.9), rs.uniform(0.5, 8), rs.uniform(0.5, 8)])

    infos = []
    fit = fastem.em(model.e_step, model.m_step, init, n_init=3, random_state=0, tol=1e-12,
                    accelerate="squarem", callback=infos.append)
    assert {info.init for info in infos} == {0, 1, 2}
    rs = np.random.RandomState(0)
    runs = [fastem.em(model.e_step, model.m_step, init(rs), tol=1e-12, accelerate="squarem")
            for _ in range(3)]
    assert fit.log_likelihood == max(run.log_likelihood for run in runs)
    assert fit.log_likelihood == pytest.approx(best_loglik, rel=1e-12)
    # short runs: 4 starts of 5 E-steps, the best continued
    infos.clear()
    short = fastem.em(model.e_step, model.m_step, init, n_init=4, init_iter=5,
                      random_state=0, tol=1e-12, accelerate="squarem",
                      callback=infos.append)
    assert short.converged
    assert short.log_likelihood == pytest.approx(best_loglik, rel=1e-12)
    e_steps = {}
    for info in infos:
        e_steps[info.init] = info.n_iter
    assert sorted(e_steps.values())[:3] == [5, 5, 5] and short.n_iter in e_steps.values()
    generator = fastem.em(model.e_step, model.m_step, init, n_init=2,
                          random_state=np.random.default_rng(0), tol=1e-12,
                          accelerate="squarem")
    assert generator.log_likelihood == pytest.approx(best_loglik, rel=1e-12)


# -- right-censored exponential lifetimes ------------------------------------------------
@pytest.fixture(scope="module")
def censored():
    rng = np.random.default_rng(3)
    life = rng.exponential(1 / 0.7, 200)
    limit = rng.uniform(0.5, 3.0, 200)
    return np.minimum(life, limit), life > limit


def test_censored_exponential_equals_the_closed_form_mle(censored):
    times, is_censored = censored
    n, failures, total = len(times), int((~is_censored).sum()), times.sum()
    mle = failures / total

    def e_step(rate):     # E[T | T > c] = c + 1/rate: the expected total time
        return total + is_censored.sum() / rate

    def log_likelihood(rate):
        return failures * np.log(rate) - rate * total

    with pytest.warns(ConvergenceWarning):
        plain = fastem.em(e_step, lambda expected: n / expected, 1.0, tol=0, max_iter=100,
                          log_likelihood=log_likelihood)
    fast = fastem.em(e_step, lambda expected: n / expected, 1.0, tol=1e-14,
                     log_likelihood=log_likelihood, accelerate="squarem")
    assert fast.converged
    for fit in (plain, fast):
        assert fit.theta == pytest.approx(mle, rel=1e-10)
        assert fit.log_likelihood == log_likelihood(fit.theta)
        assert_monotone(fit)
    # the same by generalised EM: Q(rate) = n log(rate) - rate * E[total time]
    # (the gradient with respect to log(rate), the optimised coordinate: n - rate * E)
    for grad, accuracy in ((lambda rate, expected: [n - rate * expected], 1e-10),
                           (None, 1e-7)):
        gem = quiet_em(e_step, theta0=1.0, log_likelihood=log_likelihood, tol=0,
                       max_iter=100, q=lambda rate, expected: n * np.log(rate) - rate * expected,
                       q_grad=grad, pack=lambda rate: [np.log(rate)],
                       unpack=lambda u: float(np.exp(u[0])),
                       minimize_options={"options": {"gtol": 1e-10}})
        assert gem.theta == pytest.approx(mle, rel=accuracy)


# -- the driver's machinery ------------------------------------------------------------
def test_convergence_warning_and_history():
    with pytest.warns(ConvergenceWarning):
        fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, max_iter=3)
    assert not fit.converged and fit.n_iter == 3 and fit.history.shape == (3,)
    assert fit.history.dtype == np.float64
    assert_monotone(fit)
    # relative tol: the run stops once |change| < tol * |log-likelihood|
    fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=1e-6)
    changes = np.diff(fit.history)
    assert abs(changes[-1]) < 1e-6 * abs(fit.history[-1])
    assert np.all(np.abs(changes[:-1]) >= 1e-6 * np.abs(fit.history[1:-1]))


def test_no_iteration_evaluates_the_start():
    fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, max_iter=0)
    assert (fit.theta, fit.n_iter, fit.converged, fit.history.size) == (0.5, 0, False, 0)
    assert fit.log_likelihood == linkage_loglik(0.5)


def test_callback_and_verbose(capsys):
    infos = []
    fit = fastem.em(linkage_e_step, linkage_m_step, 0.5, callback=infos.append, verbose=2)
    assert len(infos) == len(fit.history) and all(isinstance(i, IterationInfo) for i in infos)
    assert [i.lower_bound for i in infos] == list(fit.history)
    assert [i.n_iter for i in infos] == list(range(1, fit.n_iter + 1))
    out = capsys.readouterr().out
    assert "Initialization 0 converged" in out and "log-likelihood" in out
    with pytest.warns(ConvergenceWarning):
        stopped = fastem.em(linkage_e_step, linkage_m_step, 0.5,
                            callback=lambda info: info.n_iter == 2)
    assert stopped.n_iter == 2 and not stopped.converged


def test_log_likelihood_callable_convention():
    fit = fastem.em(lambda t: linkage_e_step(t)[0], linkage_m_step, 0.5,
                    log_likelihood=linkage_loglik, tol=1e-12)
    pair = fastem.em(linkage_e_step, linkage_m_step, 0.5, tol=1e-12)
    assert fit.theta == pair.theta and list(fit.history) == list(pair.history)


def _m(stats):
    return 0.5


@pytest.mark.parametrize("kwargs, error, match", [
    ({"e_step": 3, "m_step": _m, "theta0": 0.5}, TypeError, "e_step must be callable"),
    ({"e_step": linkage_e_step, "m_step": _m}, TypeError, "theta0"),
    ({"e_step": linkage_e_step, "theta0": 0.5}, ValueError, "give m_step, .* or q"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "q": linkage_q}, ValueError,
     "not both"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "q_grad": linkage_q},
     ValueError, "q_grad is for the numerical M-step"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "pack": logit}, ValueError,
     "pack and unpack"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "accelerate": "aitken"},
     ValueError, "accelerate must be one of 'squarem'"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "tol": -1.0}, ValueError,
     "tol must be"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "max_iter": 2.5}, TypeError,
     "max_iter must be an integer"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "max_iter": -1}, ValueError,
     "max_iter must be >= 0"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "n_init": 3}, ValueError,
     "n_init=3 restarts need theta0 to be a callable"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "init_iter": 0}, ValueError,
     "init_iter must be >= 1"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "callback": 1}, TypeError,
     "callback must be callable"),
    ({"e_step": linkage_e_step, "m_step": _m, "theta0": 0.5, "random_state": "x"},
     ValueError, "random_state"),
    ({"e_step": linkage_e_step, "theta0": 0.5, "q": linkage_q,
      "minimize_options": {"jac": True}}, ValueError, "minimize_options may not set jac"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastem.em(**kwargs)


def test_bad_returns_are_explained():
    with pytest.raises(TypeError, match=r"e_step must return the pair \(stats, loglik\)"):
        fastem.em(lambda t: 1.0, linkage_m_step, 0.5)
    with pytest.raises(ValueError, match="log-likelihood at theta is nan"):
        fastem.em(lambda t: (1.0, float("nan")), linkage_m_step, 0.5)
    with pytest.raises(TypeError, match="give pack= and unpack="):
        fastem.em(linkage_e_step, lambda s: {"t": "text"}, {"t": "text"},
                  accelerate="squarem")
    with pytest.raises(TypeError, match="pack must return a 1-d array"):
        fastem.em(linkage_e_step, linkage_m_step, 0.5, accelerate="squarem",
                  pack=lambda t: [[t]], unpack=lambda u: u[0])
    with pytest.raises(ValueError, match="q_grad must return the gradient"):
        fastem.em(linkage_e_step, theta0=0.5, q=linkage_q, q_grad=lambda t, s: [1.0, 2.0])


def test_any_parameters_without_squarem():
    """Without SQUAREM or q, theta is never flattened: any object will do."""

    class Rate:
        def __init__(self, value):
            self.value = value

    def e_step(rate):     # 5 lifetimes, 2 censored, 7 time units: the MLE is 3/7
        return 7 + 2 / rate.value, 3 * np.log(rate.value) - 7 * rate.value

    fit = fastem.em(e_step, lambda expected: Rate(5 / expected), Rate(1.0), tol=1e-14)
    assert isinstance(fit.theta, Rate)
    assert fit.theta.value == pytest.approx(3 / 7, rel=1e-6)
