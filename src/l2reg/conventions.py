r"""The objective convention of l2reg and conversions to other libraries.

Every l2reg estimator minimizes the **weighted mean loss plus alpha times the
squared norm of the coefficients** (the seed's formula, and glmnet's):

.. math::

    J(\theta, b) = \frac{\sum_i w_i\, \ell(y_i, x_i^\top\theta + b)}{\sum_i w_i}
                   + \alpha \lVert\theta\rVert_2^2
                   \;(+\; \alpha b^2 \text{ only if } penalize\_intercept)

With squared error and unit weights this is exactly
``(1/m) * SSE + alpha * sum(theta_i**2)``.  Consequences:

* multiplying every sample weight by the same constant changes nothing;
* integer weights are the same as repeated rows;
* the same ``alpha`` means the same amount of shrinkage whatever the number of
  samples (scikit-learn's ``Ridge`` instead sums the loss, so its alpha must
  grow with the data).

The functions below convert ``alpha`` to and from the regularization parameter
of other libraries.  Each is checked numerically against the real library in
``tests/test_conventions.py``.

=============================================  =====================================
other library                                  its parameter for l2reg's ``alpha``
=============================================  =====================================
scikit-learn ``Ridge(alpha=a)``                ``a = alpha * sum(w)``
scikit-learn ``LogisticRegression(C=c)``       ``c = 1 / (2 * alpha * sum(w))``
glum / skglm / scikit-learn ``ElasticNet``     the same ``alpha`` (``l1_ratio=0``)
  (pure L2)
R glmnet, gaussian, ``alpha=0``,               ``lambda = alpha * sd_w(y)``
  ``standardize=FALSE``
PyTorch SGD / Adam ``weight_decay``            ``weight_decay = 2 * alpha``
  (coupled: added to the gradient)
=============================================  =====================================

:class:`l2reg.ElasticNet` keeps glmnet's and scikit-learn's form (half of the
ridge form, see its docstring), so its ``(alpha, l1_ratio)`` are the same
numbers in scikit-learn's ``ElasticNet`` and in glum; glmnet's
``(lambda, alpha)`` differ by glmnet's scaling of y
(:func:`to_glmnet_elastic_net`).

PyTorch's decoupled decay (``AdamW``) is *not* an L2 penalty for adaptive
optimizers: it shrinks each parameter by ``1 - lr * weight_decay`` per step
independently of the gradient scaling, so no ``alpha`` reproduces it.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "OBJECTIVE",
    "to_sklearn_ridge_alpha",
    "from_sklearn_ridge_alpha",
    "to_sklearn_logistic_C",
    "from_sklearn_logistic_C",
    "to_glum_alpha",
    "from_glum_alpha",
    "to_glmnet_lambda",
    "from_glmnet_lambda",
    "to_torch_weight_decay",
    "from_torch_weight_decay",
    "to_adamw_weight_decay",
    "from_adamw_weight_decay",
    "adamw_decay_per_step",
    "adamw_weight_decay",
    "decay_shrink_factor",
    "to_sklearn_multinomial_C",
    "from_sklearn_multinomial_C",
    "to_sklearn_glm_alpha",
    "from_sklearn_glm_alpha",
    "to_glum_glm_alpha",
    "from_glum_glm_alpha",
    "to_sklearn_elastic_net",
    "from_sklearn_elastic_net",
    "to_glum_elastic_net",
    "from_glum_elastic_net",
    "to_glmnet_elastic_net",
    "from_glmnet_elastic_net",
    "to_skglm_elastic_net",
    "from_skglm_elastic_net",
]

#: One-line statement of the objective, recorded in saved models and reports.
OBJECTIVE = (
    "sum_i w_i * loss(y_i, x_i.theta + b) / sum_i w_i + alpha * ||theta||^2 "
    "(+ alpha * b^2 only if penalize_intercept)"
)


def _positive_weight_sum(sample_weight, n_samples) -> float:
    """The total weight ``sum(w)``: ``n_samples`` for unit weights."""
    if sample_weight is None:
        if n_samples is None:
            raise ValueError("pass n_samples (unit weights) or sample_weight.")
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        return float(n_samples)
    weights = np.asarray(sample_weight, dtype=float)
    if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("sample_weight must be a 1-D array of finite, non-negative numbers.")
    if n_samples is not None and n_samples != weights.shape[0]:
        raise ValueError(
            f"n_samples={n_samples} does not match len(sample_weight)={weights.shape[0]}."
        )
    total = float(weights.sum())
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum.")
    return total


def _check_nonnegative(name: str, value):
    values = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"{name} must be finite and >= 0; got {value!r}.")
    return values if values.ndim else float(values)


def to_sklearn_ridge_alpha(alpha, *, n_samples=None, sample_weight=None):
    """scikit-learn ``Ridge`` alpha that gives the same solution as l2reg's ``alpha``.

    scikit-learn minimizes ``sum_i w_i (y_i - x_i.theta - b)^2 + a ||theta||^2``
    with the weights as given; dividing by ``sum(w)`` gives l2reg's objective
    with ``alpha = a / sum(w)``.  Pass the *same* ``sample_weight`` to both.

    Parameters
    ----------
    alpha : float or array-like
        l2reg's regularization strength (>= 0).
    n_samples : int, default=None
        Number of samples, used when ``sample_weight`` is None.
    sample_weight : array-like of shape (n_samples,), default=None
        The weights passed to both estimators.

    Returns
    -------
    float or ndarray
        ``alpha * sum(sample_weight)``.
    """
    return _check_nonnegative("alpha", alpha) * _positive_weight_sum(sample_weight, n_samples)


def from_sklearn_ridge_alpha(sklearn_alpha, *, n_samples=None, sample_weight=None):
    """l2reg ``alpha`` equivalent to scikit-learn ``Ridge(alpha=sklearn_alpha)``.

    The inverse of :func:`to_sklearn_ridge_alpha`.
    """
    weight_sum = _positive_weight_sum(sample_weight, n_samples)
    return _check_nonnegative("sklearn_alpha", sklearn_alpha) / weight_sum


def to_sklearn_logistic_C(alpha, *, n_samples=None, sample_weight=None):
    """scikit-learn ``LogisticRegression`` ``C`` equivalent to l2reg's ``alpha``.

    scikit-learn minimizes ``C * sum_i w_i logloss_i + ||theta||^2 / 2``;
    dividing by ``C * sum(w)`` gives l2reg's objective with
    ``alpha = 1 / (2 * C * sum(w))``.  ``alpha=0`` maps to ``C=inf`` (no penalty).
    """
    alpha = _check_nonnegative("alpha", alpha)
    weight_sum = _positive_weight_sum(sample_weight, n_samples)
    with np.errstate(divide="ignore"):
        return (
            1.0 / (2.0 * np.asarray(alpha) * weight_sum)
            if np.ndim(alpha)
            else (np.inf if alpha == 0 else 1.0 / (2.0 * alpha * weight_sum))
        )


def from_sklearn_logistic_C(C, *, n_samples=None, sample_weight=None):  # noqa: N803
    """l2reg ``alpha`` equivalent to scikit-learn ``LogisticRegression(C=C)``."""
    values = np.asarray(C, dtype=float)
    if np.any(np.isnan(values)) or np.any(values <= 0):
        raise ValueError(f"C must be > 0; got {C!r}.")
    weight_sum = _positive_weight_sum(sample_weight, n_samples)
    result = 1.0 / (2.0 * values * weight_sum)
    return result if result.ndim else float(result)


def to_glum_alpha(alpha):
    """glum / skglm / scikit-learn ``ElasticNet`` alpha for a pure L2 penalty.

    These libraries minimize ``mean_w(loss) / 2 + alpha * ||theta||^2 / 2`` for
    squared error (``l1_ratio=0``): half of l2reg's objective, hence the same alpha.
    """
    return _check_nonnegative("alpha", alpha)


def from_glum_alpha(glum_alpha):
    """l2reg ``alpha`` equivalent to a pure-L2 glum / skglm / scikit-learn ``ElasticNet`` alpha."""
    return _check_nonnegative("glum_alpha", glum_alpha)


def _weighted_sd(y, sample_weight) -> float:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError("y must be a non-empty 1-D array of finite numbers.")
    weights = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
    weight_sum = _positive_weight_sum(weights, y.shape[0])
    mean = weights @ y / weight_sum
    # glmnet's standard deviation uses the 1/n (population) formula.
    return float(np.sqrt(weights @ (y - mean) ** 2 / weight_sum))


def to_glmnet_lambda(alpha, y, *, sample_weight=None):
    """glmnet lambda (gaussian, ``alpha=0``, ``standardize=FALSE``) for l2reg's ``alpha``.

    glmnet's objective is ``RSS_w / (2 sum(w)) + lambda * ||theta||^2 / 2``, half of
    l2reg's, but for the gaussian family glmnet first scales ``y`` to unit
    (population, weighted) standard deviation and applies ``lambda`` to that
    problem before scaling the coefficients back.  The net effect is a penalty of
    ``lambda / sd(y)``, so ``lambda = alpha * sd(y)``.
    """
    return _check_nonnegative("alpha", alpha) * _weighted_sd(y, sample_weight)


def from_glmnet_lambda(glmnet_lambda, y, *, sample_weight=None):
    """l2reg ``alpha`` equivalent to glmnet's ``lambda`` (see :func:`to_glmnet_lambda`)."""
    return _check_nonnegative("glmnet_lambda", glmnet_lambda) / _weighted_sd(y, sample_weight)


def to_torch_weight_decay(alpha):
    """PyTorch ``weight_decay`` (SGD, Adam: coupled) equivalent to ``alpha * ||theta||^2``.

    PyTorch adds ``weight_decay * theta`` to the gradient of the loss, and the
    gradient of ``alpha * ||theta||^2`` is ``2 * alpha * theta``.  This holds when
    the training loss is the *mean* loss over the batch (PyTorch's default
    ``reduction="mean"``), which is l2reg's convention.
    """
    return 2.0 * _check_nonnegative("alpha", alpha)


def from_torch_weight_decay(weight_decay):
    """l2reg ``alpha`` equivalent to a coupled PyTorch ``weight_decay``."""
    return _check_nonnegative("weight_decay", weight_decay) / 2.0


# --- Decoupled weight decay (PyTorch AdamW) ---------------------------------
#
# PyTorch's AdamW (and Adam(decoupled_weight_decay=True)) update is
#     theta <- (1 - lr_t * weight_decay) * theta - lr_t * adam_step(grad)
# so its decay is decoupled from the gradient but still multiplied by the
# current learning rate lr_t.  Loshchilov & Hutter's lambda (arXiv:1711.05101,
# Algorithm 2) multiplies the *schedule multiplier* eta_t = lr_t / lr_peak
# instead, hence lambda = lr_peak * weight_decay.  Coupled decay (SGD, Adam)
# adds weight_decay * theta to the gradient; that is the L2 penalty's gradient.


def to_adamw_weight_decay(alpha):
    """Decoupled ``weight_decay`` that shrinks parameters like ``alpha * ||theta||^2`` under SGD.

    Returns ``2 * alpha``: with plain SGD a penalty ``alpha * ||theta||^2`` turns
    each step into ``theta <- (1 - 2 * alpha * lr) * theta - lr * grad``, and a
    decoupled decay ``weight_decay`` (PyTorch's AdamW form) multiplies ``theta``
    by ``1 - lr * weight_decay`` before the same gradient step.

    When they are equivalent and when they are not:

    * **plain SGD** (``momentum=0``): identical trajectories, for any schedule;
    * **SGD with momentum**: not equivalent.  Coupled decay goes through the
      momentum buffer (an effective shrink of about ``lr * wd / (1 - momentum)``
      per step once the buffer is warm), decoupled decay does not;
    * **Adam and other adaptive methods**: not equivalent for *any* number.
      Coupled decay is divided by Adam's ``sqrt(v)`` like the rest of the
      gradient (weights with small gradients are shrunk much more), decoupled
      decay shrinks every weight by the same factor.  AdamW's result is not the
      minimizer of any ``loss + alpha * ||theta||^2``; ``2 * alpha`` is then no
      more than a unit-consistent starting point for a search.

    Parameters
    ----------
    alpha : float or array-like
        l2reg's penalty strength (>= 0).

    Returns
    -------
    float or ndarray
        ``2 * alpha``.

    See Also
    --------
    to_torch_weight_decay : coupled ``weight_decay``, exact for SGD and Adam.
    decay_shrink_factor : what a decoupled decay does over a schedule.
    """
    return 2.0 * _check_nonnegative("alpha", alpha)


def from_adamw_weight_decay(weight_decay):
    """l2reg ``alpha`` whose SGD shrinkage equals a decoupled ``weight_decay``.

    The inverse of :func:`to_adamw_weight_decay`, with the same caveat: exact
    for plain SGD only, never for Adam/AdamW.
    """
    return _check_nonnegative("weight_decay", weight_decay) / 2.0


def adamw_decay_per_step(weight_decay, lr):
    """The fraction of each parameter AdamW removes per step: ``lr * weight_decay``.

    With ``lr`` the peak (base) learning rate this is also Loshchilov &
    Hutter's decoupled ``lambda`` (arXiv:1711.05101), whose decay follows the
    schedule multiplier ``lr_t / lr`` rather than the learning rate itself.

    Parameters
    ----------
    weight_decay : float or array-like
        PyTorch AdamW's ``weight_decay`` (>= 0).
    lr : float or array-like
        The learning rate (> 0).

    Returns
    -------
    float or ndarray
        ``lr * weight_decay``.
    """
    return _check_nonnegative("weight_decay", weight_decay) * _check_positive("lr", lr)


def adamw_weight_decay(decay_per_step, lr):
    """PyTorch AdamW ``weight_decay`` that removes ``decay_per_step`` per step at ``lr``.

    The inverse of :func:`adamw_decay_per_step`: ``decay_per_step / lr``.  Use it
    to keep the decay fixed while tuning the learning rate, since AdamW's
    ``weight_decay`` is multiplied by it (pytorch #38767, apex #1849):
    ``adamw_weight_decay(adamw_decay_per_step(wd, old_lr), new_lr)``; or to turn
    a paper's decoupled ``lambda`` into PyTorch's ``weight_decay`` with ``lr``
    the peak learning rate.

    Parameters
    ----------
    decay_per_step : float or array-like
        Fraction removed per step at learning rate ``lr`` (>= 0).
    lr : float or array-like
        The learning rate (> 0).

    Returns
    -------
    float or ndarray
        ``decay_per_step / lr``.
    """
    return _check_nonnegative("decay_per_step", decay_per_step) / _check_positive("lr", lr)


def decay_shrink_factor(weight_decay, learning_rates):
    """Total factor a decayed parameter is multiplied by over a learning-rate schedule.

    ``prod_t (1 - learning_rates[t] * weight_decay)``.  For AdamW (and
    ``Adam(decoupled_weight_decay=True)``) each step multiplies every decayed
    parameter by ``1 - lr_t * weight_decay`` before the gradient step, so after
    the schedule ``theta_T = factor * theta_0 + (the accumulated, also decayed,
    gradient steps)``: the factor is how much of the initial weights survives.
    The same holds for coupled decay with plain SGD (``momentum=0``); with
    momentum or with Adam's coupled decay there is no such product.

    Parameters
    ----------
    weight_decay : float
        PyTorch ``weight_decay`` (>= 0).
    learning_rates : float or array-like of shape (n_steps,)
        The learning rate used at each optimizer step (>= 0), e.g. collected
        from ``scheduler.get_last_lr()`` before each ``scheduler.step()``.

    Returns
    -------
    float
        The product; 1.0 for an empty schedule.  A step with
        ``lr * weight_decay > 1`` flips the sign, and the result shows it.

    Examples
    --------
    >>> round(decay_shrink_factor(0.01, [1e-3] * 10_000), 4)  # exp(-0.1)
    0.9048
    """
    weight_decay = _check_nonnegative("weight_decay", weight_decay)
    if np.ndim(weight_decay):
        raise ValueError(f"weight_decay must be a scalar; got shape {np.shape(weight_decay)}.")
    rates = np.atleast_1d(np.asarray(learning_rates, dtype=float))
    if rates.ndim != 1:
        raise ValueError(f"learning_rates must be 1-D; got shape {rates.shape}.")
    _check_nonnegative("learning_rates", rates)
    return float(np.prod(1.0 - rates * weight_decay))


def _check_positive(name: str, value):
    values = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"{name} must be finite and > 0; got {value!r}.")
    return values if values.ndim else float(values)


# --- Generalized linear models (logistic, multinomial, Poisson) -------------
#
# l2reg's GLM losses are the mean negative log-likelihoods (log-loss; Poisson
# deviance / 2), with alpha * ||theta||^2 and no 1/2.  scikit-learn's and glum's
# GLMs minimize deviance / (2 sum(w)) + alpha' / 2 * ||theta||^2.  For the
# Poisson and binomial families deviance / 2 *is* l2reg's loss, so
# alpha' = 2 * alpha; for the normal family deviance = squared error, the whole
# objective is half of l2reg's and alpha' = alpha (the squared-loss rule above).

_GLM_FAMILY_FACTOR = {"normal": 1.0, "gaussian": 1.0, "poisson": 2.0, "binomial": 2.0}


def _family_factor(family: str, allowed) -> float:
    if family not in allowed:
        raise ValueError(
            f"family must be one of {', '.join(repr(f) for f in allowed)}; got {family!r}."
        )
    return _GLM_FAMILY_FACTOR[family]


def to_sklearn_multinomial_C(alpha, *, n_samples=None, sample_weight=None):  # noqa: N802
    """scikit-learn multinomial ``LogisticRegression`` ``C`` equivalent to l2reg's ``alpha``.

    scikit-learn (>= 1.5, every solver but liblinear) fits the full softmax
    over all K classes with the penalty ``||W||_F^2 / 2`` on all K coefficient
    vectors, and scales the summed loss by ``C`` exactly as in the binary case
    (``C * sum_i w_i logloss_i + ||W||^2 / 2``), so the mapping is the binary
    one: ``C = 1 / (2 * alpha * sum(w))``, with the *same* sample weights
    passed to both.  Checked numerically in ``tests/glm/test_conventions_glm.py``.
    (Before 1.5 the lbfgs/newton-cg multinomial path did not divide the weights
    by their sum in the same way; this mapping is for current releases.)
    """
    return to_sklearn_logistic_C(alpha, n_samples=n_samples, sample_weight=sample_weight)


def from_sklearn_multinomial_C(C, *, n_samples=None, sample_weight=None):  # noqa: N802, N803
    """l2reg ``alpha`` equivalent to a multinomial scikit-learn ``LogisticRegression(C=C)``."""
    return from_sklearn_logistic_C(C, n_samples=n_samples, sample_weight=sample_weight)


def to_sklearn_glm_alpha(alpha, family="poisson"):
    """scikit-learn ``PoissonRegressor`` / ``TweedieRegressor`` alpha for l2reg's ``alpha``.

    scikit-learn minimizes ``sum_i w_i dev_i / (2 sum(w)) + alpha' / 2 ||theta||^2``
    (weights normalized, so they need no conversion).

    Parameters
    ----------
    alpha : float or array-like
        l2reg's regularization strength (>= 0).
    family : {"poisson", "normal"}, default="poisson"
        ``"poisson"``: ``PoissonRegressor`` or ``TweedieRegressor(power=1)``, returns
        ``2 * alpha``.  ``"normal"``: ``TweedieRegressor(power=0)``, returns ``alpha``.

    Returns
    -------
    float or ndarray
    """
    return _check_nonnegative("alpha", alpha) * _family_factor(family, ("poisson", "normal"))


def from_sklearn_glm_alpha(sklearn_alpha, family="poisson"):
    """l2reg ``alpha`` equivalent to a scikit-learn GLM regressor's ``alpha``."""
    factor = _family_factor(family, ("poisson", "normal"))
    return _check_nonnegative("sklearn_alpha", sklearn_alpha) / factor


def to_glum_glm_alpha(alpha, family="poisson"):
    """glum ``GeneralizedLinearRegressor(alpha=..., l1_ratio=0)`` alpha for l2reg's ``alpha``.

    glum minimizes ``sum_i w_i dev_i / (2 sum(w)) + alpha' / 2 ||theta||^2``.

    Parameters
    ----------
    alpha : float or array-like
        l2reg's regularization strength (>= 0).
    family : {"poisson", "binomial", "normal", "gaussian"}, default="poisson"
        ``"poisson"`` (PoissonRegression) and ``"binomial"`` (binary
        LogisticRegression): ``2 * alpha``.  ``"normal"``/``"gaussian"`` (Ridge):
        ``alpha`` (as :func:`to_glum_alpha`).

    Returns
    -------
    float or ndarray
    """
    factor = _family_factor(family, tuple(_GLM_FAMILY_FACTOR))
    return _check_nonnegative("alpha", alpha) * factor


def from_glum_glm_alpha(glum_alpha, family="poisson"):
    """l2reg ``alpha`` equivalent to glum's ``alpha`` (``l1_ratio=0``) for ``family``."""
    factor = _family_factor(family, tuple(_GLM_FAMILY_FACTOR))
    return _check_nonnegative("glum_alpha", glum_alpha) / factor


def _check_l1_ratio(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a real number in [0, 1]; got {value!r}.")
    return float(value)


def to_sklearn_elastic_net(alpha, l1_ratio):
    """scikit-learn ``ElasticNet`` parameters for :class:`l2reg.ElasticNet`'s.

    The same numbers: scikit-learn minimizes
    ``sum_i s_i r_i^2 / (2 n) + alpha l1_ratio ||theta||_1 + alpha (1 - l1_ratio) ||theta||^2 / 2``
    after rescaling ``sample_weight`` to sum to ``n`` (``s = n w / sum(w)``),
    which is l2reg's weighted mean.  Pass the same ``sample_weight`` to both.

    Returns
    -------
    dict
        ``{"alpha": ..., "l1_ratio": ...}``, keyword arguments of
        ``sklearn.linear_model.ElasticNet``.
    """
    return {
        "alpha": _check_nonnegative("alpha", alpha),
        "l1_ratio": _check_l1_ratio("l1_ratio", l1_ratio),
    }


def from_sklearn_elastic_net(alpha, l1_ratio):
    """:class:`l2reg.ElasticNet` parameters for scikit-learn ``ElasticNet``'s (the same numbers)."""
    return to_sklearn_elastic_net(alpha, l1_ratio)


def to_glum_elastic_net(alpha, l1_ratio, *, penalty_factor=None):
    """glum ``GeneralizedLinearRegressor`` (normal family) parameters for l2reg's elastic net.

    glum minimizes ``deviance_w / (2 sum(w)) + alpha l1_ratio ||P1 theta||_1
    + alpha (1 - l1_ratio) theta^T P2 theta / 2``; for the normal family the
    deviance is the weighted sum of squares, so ``alpha`` and ``l1_ratio`` are
    the same numbers and l2reg's ``penalty_factor`` is both ``P1`` and the
    diagonal ``P2``.

    Returns
    -------
    dict
        ``{"alpha", "l1_ratio"}`` plus ``{"P1", "P2"}`` when ``penalty_factor`` is given.
    """
    params = to_sklearn_elastic_net(alpha, l1_ratio)
    if penalty_factor is not None:
        factors = _check_nonnegative("penalty_factor", penalty_factor)
        factors = np.atleast_1d(np.asarray(factors, dtype=float))
        params.update(P1=factors.copy(), P2=factors.copy())
    return params


def from_glum_elastic_net(alpha, l1_ratio):
    """:class:`l2reg.ElasticNet` parameters for glum's ``(alpha, l1_ratio)`` (the same numbers)."""
    return to_sklearn_elastic_net(alpha, l1_ratio)


def to_skglm_elastic_net(alpha, l1_ratio):
    """skglm parameters for :class:`l2reg.ElasticNet`'s (the same numbers).

    skglm's ``ElasticNet(alpha, l1_ratio)`` and its penalty
    ``L1_plus_L2(alpha, l1_ratio)`` are ``alpha l1_ratio ||theta||_1 + alpha
    (1 - l1_ratio) ||theta||^2 / 2``, added to the datafit ``Quadratic``
    (``||y - X theta||^2 / (2 n)``) or, with sample weights,
    ``WeightedQuadratic(w)`` (``sum_i w_i r_i^2 / (2 sum(w))``): l2reg's form.
    skglm's ``ElasticNet`` estimator takes no sample weights; pass them through
    ``GeneralizedLinearEstimator(WeightedQuadratic(w), L1_plus_L2(**params))``.

    Returns
    -------
    dict
        ``{"alpha": ..., "l1_ratio": ...}``.
    """
    return to_sklearn_elastic_net(alpha, l1_ratio)


def from_skglm_elastic_net(alpha, l1_ratio):
    """:class:`l2reg.ElasticNet` parameters for skglm's ``(alpha, l1_ratio)`` (the same numbers)."""
    return to_sklearn_elastic_net(alpha, l1_ratio)


def _glmnet_y_scale(y, sample_weight, fit_intercept) -> float:
    if fit_intercept:
        scale = _weighted_sd(y, sample_weight)
    else:  # glmnet does not center y without an intercept: its scale is the root mean square
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
            raise ValueError("y must be a non-empty 1-D array of finite numbers.")
        weights = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, float)
        scale = float(np.sqrt(weights @ y**2 / _positive_weight_sum(weights, y.shape[0])))
    if not scale > 0:
        raise ValueError("y is constant (glmnet's scale of y is 0); there is nothing to convert.")
    return scale


def to_glmnet_elastic_net(alpha, l1_ratio, y, *, sample_weight=None, fit_intercept=True):
    """glmnet (gaussian, ``standardize=FALSE``) ``lambda`` and ``alpha`` for l2reg's elastic net.

    glmnet's objective has l2reg's elastic-net form, ``RSS_w / (2 sum(w)) +
    lambda (a ||theta||_1 + (1 - a) ||theta||^2 / 2)``, but glmnet first
    divides y by its weighted population standard deviation ``s`` (the root
    mean square without an intercept) and fits that with ``lambda / s``, then
    scales the coefficients back.  Multiplying that objective by ``s^2`` shows
    the L1 part unchanged and the L2 part divided by ``s``:
    ``alpha * l1_ratio = lambda * a`` and ``alpha * (1 - l1_ratio) = lambda * (1 - a) / s``,
    so ``lambda = alpha (l1_ratio + (1 - l1_ratio) s)`` and
    ``a = alpha l1_ratio / lambda``.  With ``y`` scaled to unit variance the
    numbers coincide.  (For ``l1_ratio=0`` this is :func:`to_glmnet_lambda`.)

    Returns
    -------
    dict
        ``{"lambda": ..., "alpha": ...}`` (glmnet's names).
    """
    alpha = _check_nonnegative("alpha", alpha)
    l1_ratio = _check_l1_ratio("l1_ratio", l1_ratio)
    scale = _glmnet_y_scale(y, sample_weight, fit_intercept)
    glmnet_lambda = alpha * (l1_ratio + (1.0 - l1_ratio) * scale)
    glmnet_alpha = alpha * l1_ratio / glmnet_lambda if glmnet_lambda > 0 else l1_ratio
    return {"lambda": glmnet_lambda, "alpha": glmnet_alpha}


def from_glmnet_elastic_net(
    glmnet_lambda, glmnet_alpha, y, *, sample_weight=None, fit_intercept=True
):
    """l2reg ElasticNet ``alpha``, ``l1_ratio`` for glmnet's (:func:`to_glmnet_elastic_net`)."""
    glmnet_lambda = _check_nonnegative("glmnet_lambda", glmnet_lambda)
    glmnet_alpha = _check_l1_ratio("glmnet_alpha", glmnet_alpha)
    scale = _glmnet_y_scale(y, sample_weight, fit_intercept)
    alpha = glmnet_lambda * (glmnet_alpha + (1.0 - glmnet_alpha) / scale)
    l1_ratio = glmnet_lambda * glmnet_alpha / alpha if alpha > 0 else glmnet_alpha
    return {"alpha": alpha, "l1_ratio": l1_ratio}
