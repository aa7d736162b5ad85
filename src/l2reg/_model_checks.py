"""What a loaded model may hold: the checks :func:`l2reg.load` runs on every file.

A model file can be tampered with, so a loaded model must be a model ``fit``
could have produced:

* its parameters pass the estimator's own validation (:data:`PARAMETER_CHECKS`,
  which calls the same ``_check_params`` as ``fit``): ``Ridge(alpha=-1)`` does
  not load;
* its fitted attributes are the ones its class sets (:data:`FITTED`), each with
  the type, shape and range ``fit`` gives it (:data:`ATTRIBUTE_RULES`).

The rules run twice.  First on the ``.npy`` headers
(:class:`l2reg._model_file.ArrayHeader`, which has an array's ``shape``, ``ndim``
and ``dtype``), before any array data is read: a header claiming a shape that
``n_features_in_`` and the class do not allow is refused without allocating
it.  Then on the arrays themselves, for what only values show (finiteness,
signs, sorted classes).

Adding a fitted attribute to an estimator means adding its name to the class's
entry in :data:`FITTED` and, for a new name, a rule to :data:`ATTRIBUTE_RULES`;
tests/test_io.py round-trips every public estimator, so a forgotten
registration fails there (a file holding an unknown attribute is refused).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from l2reg._model_file import ArrayHeader, file_error
from l2reg._stats_checks import stats_layout

__all__ = ["Fitted", "FITTED", "ATTRIBUTE_RULES", "PARAMETER_CHECKS", "check_fitted", "lookup"]

# Bounds that no real model reaches; they keep the arithmetic on claimed sizes sane.
_MAX_FEATURES = 2**40
_MAX_NAME = 256  # characters of a solver name or a short informational string


@dataclass(frozen=True)
class Fitted:
    """The fitted attributes of a class: those ``fit`` always sets, and optional ones."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def __or__(self, other: Fitted) -> Fitted:
        return Fitted(self.required + other.required, self.optional + other.optional)


_LINEAR = Fitted(("n_features_in_", "coef_", "intercept_"), ("feature_names_in_",))
_SOLVED = Fitted(("solver_", "certificate_", "n_iter_"))
_GLM = _LINEAR | _SOLVED | Fitted(("objective_",))
_SELECTED = Fitted(("alpha_", "best_score_", "cv_results_"))
# Statistics a partial_fit or fit_stats keeps, so a loaded model can go on.
_STREAMED = Fitted((), ("stats_", "n_chunks_"))

#: Class name -> its fitted attributes (looked up along the class's MRO).
FITTED: dict[str, Fitted] = {
    "Ridge": _LINEAR | _SOLVED | _STREAMED,
    "ElasticNet": _LINEAR | _SOLVED,
    "ElasticNetCV": _LINEAR | _SOLVED | _SELECTED | Fitted(("l1_ratio_",)),
    "MultiTaskElasticNet": _LINEAR | _SOLVED,
    # RidgeCV refits its chosen alpha through the solvers in newer versions:
    # solver_ and certificate_ are optional so files without them still load.
    "RidgeCV": _LINEAR
    | _SELECTED
    | Fitted(
        (),
        (
            "solver_",
            "certificate_",
            "n_iter_",
            # RidgeCV(feature_groups=...): one alpha per group of features.
            "group_alphas_",
            "feature_groups_",
            "group_cv_results_",
        ),
    )
    | _STREAMED
    | Fitted((), ("fold_stats_",)),
    "PoissonRegression": _GLM,
    "LogisticRegression": _GLM | Fitted(("classes_",)),
    "PoissonRegressionCV": _GLM | _SELECTED | Fitted(("alphas_",)),
    "LogisticRegressionCV": _GLM | _SELECTED | Fitted(("classes_", "alphas_")),
    "TabularPreprocessor": Fitted(
        (
            "numeric_columns_",
            "categorical_columns_",
            "categories_",
            "mean_",
            "scale_",
            "feature_names_out_",
        )
    ),
    "TabularModel": Fitted(("preprocessor_", "estimator_", "feature_names_")),
}


#: Classes whose ``coef_`` is always 1-D (one target, never a 2-D array).
SINGLE_TARGET = frozenset({"ElasticNet", "ElasticNetCV"})


def lookup(table: dict, cls: type):
    """The entry of ``table`` for ``cls`` or its nearest listed base class."""
    for base in cls.__mro__:
        if base.__name__ in table:
            return table[base.__name__]
    return None


class _Context:
    """The attributes of one model, and how to report what is wrong with them.

    ``prefix`` names a nested model (``"estimator_."``), empty for the file's own.
    """

    def __init__(self, path, prefix: str, attributes: dict, cls: type | None = None):
        self.path = path
        self.prefix = prefix
        self.attributes = attributes
        self.cls = cls

    def fail(self, name: str, problem: str):
        raise file_error(self.path, f"{self.prefix}{name}", problem)

    @property
    def n_features(self) -> int:
        return self.attributes["n_features_in_"]

    @property
    def n_rows(self) -> int | None:
        """Rows of a 2-D ``coef_`` (targets or classes), None for a 1-D one."""
        coef = self.attributes.get("coef_")
        return coef.shape[0] if getattr(coef, "ndim", 1) == 2 else None


def _is_array(value) -> bool:
    return isinstance(value, np.ndarray | ArrayHeader)


def _has_values(value) -> bool:
    """Whether array values are known yet (not only a header)."""
    return isinstance(value, np.ndarray)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _float_array(ctx, name, value, shape, *, finite=True, positive=False, nonnegative=False):
    """A float32/float64 array of exactly ``shape`` (``None`` entries: any length >= 1)."""
    if not _is_array(value) or value.dtype.kind != "f":
        ctx.fail(name, f"must be a float array; got {_describe(value)}")
    if len(value.shape) != len(shape) or any(
        (n != expected) if expected is not None else n < 1
        for n, expected in zip(value.shape, shape, strict=True)
    ):
        wanted = ", ".join("n" if s is None else str(s) for s in shape)
        wanted += "," if len(shape) == 1 else ""
        ctx.fail(name, f"has shape {value.shape}; expected ({wanted})")
    if _has_values(value):
        if finite and not np.all(np.isfinite(value)):
            ctx.fail(name, "holds NaN or infinity")
        if positive and not np.all(value > 0):
            ctx.fail(name, "must be > 0")
        if nonnegative and not np.all(value >= 0):
            ctx.fail(name, "must be >= 0")


def _as_float(value) -> float:
    """``value`` as the float64 computations will use; inf for an int beyond its range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _finite_real(ctx, name, value, *, positive=False):
    if not _is_real(value) or not math.isfinite(_as_float(value)):
        ctx.fail(name, f"must be a finite real number; got {_describe(value)}")
    if positive and not value > 0:
        ctx.fail(name, f"must be > 0; got {value!r}")


def _string_list(ctx, name, value, *, unique=True):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.fail(name, f"must be a list of strings; got {_describe(value)}")
    if unique and len(set(value)) != len(value):
        ctx.fail(name, "holds duplicated names")


def _string_array(ctx, name, value, shape):
    if not _is_array(value) or value.dtype.kind not in "UO" or value.shape != shape:
        ctx.fail(name, f"must be a string array of shape {shape}; got {_describe(value)}")
    if _has_values(value) and not all(isinstance(v, str) for v in value.ravel()):
        ctx.fail(name, "must hold only strings")


def _describe(value) -> str:
    if _is_array(value):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


# --- one rule per attribute name, in dependency order ------------------------------


def _n_features_in(ctx, name, value):
    if not _is_int(value) or not 1 <= value <= _MAX_FEATURES:
        ctx.fail(name, f"must be a positive integer; got {_describe(value)}")


def _feature_names_in(ctx, name, value):
    _string_array(ctx, name, value, (ctx.n_features,))


def _classes(ctx, name, value):
    if not _is_array(value) or value.ndim != 1 or value.dtype.kind not in "UOiubf":
        ctx.fail(name, f"must be a 1-D array of labels; got {_describe(value)}")
    if value.shape[0] < 2:
        ctx.fail(name, f"must hold at least 2 classes; got {value.shape[0]}")
    if _has_values(value):
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            ctx.fail(name, "holds NaN or infinity")
        if value.dtype.kind == "O" and not all(isinstance(v, str) for v in value):
            ctx.fail(name, "must hold only strings")
        if not np.array_equal(np.unique(value), value):
            ctx.fail(name, "must be sorted and distinct (as fit stores them)")


def _coef(ctx, name, value):
    classes = ctx.attributes.get("classes_")
    if classes is not None:  # a classifier: one row for two classes, else one per class
        n_classes = classes.shape[0]
        _float_array(ctx, name, value, (1 if n_classes == 2 else n_classes, ctx.n_features))
    elif getattr(value, "ndim", None) == 1 or (
        ctx.cls is not None and lookup(dict.fromkeys(SINGLE_TARGET, True), ctx.cls)
    ):
        _float_array(ctx, name, value, (ctx.n_features,))
    else:
        _float_array(ctx, name, value, (None, ctx.n_features))


def _intercept(ctx, name, value):
    if ctx.n_rows is None:
        _finite_real(ctx, name, value)
    else:
        _float_array(ctx, name, value, (ctx.n_rows,))


def _solver(ctx, name, value):
    from l2reg.solvers import registered_solvers

    # A solver's name, or one followed by a note on its precision:
    # "cholesky (mixed precision)", "svd (mixed precision fell back to double: ...)".
    solver = value.split(" (", 1)[0] if isinstance(value, str) and value.endswith(")") else value
    if not isinstance(value, str) or solver not in registered_solvers():
        ctx.fail(name, f"must name a solver, one of {registered_solvers()}; got {_describe(value)}")


def _certificate(ctx, name, value):
    from l2reg.solvers._result import Certificate

    if type(value) is not Certificate:
        ctx.fail(name, f"must be a Certificate; got {_describe(value)}")
    for field in ("gradient_norm", "relative_gradient_norm"):
        number = getattr(value, field)
        # NaN is what a solver reports when the gradient could not be evaluated.
        if not _is_real(number) or number < 0:
            ctx.fail(f"{name}.{field}", f"must be a real number >= 0; got {_describe(number)}")
    if not isinstance(value.computed_from, str) or len(value.computed_from) > _MAX_NAME:
        ctx.fail(f"{name}.computed_from", f"must be a short string; got {_describe(value)}")
    gap = value.duality_gap  # absent (None) in files written before the field existed
    if gap is not None and not (_is_real(gap) and gap >= 0):
        ctx.fail(f"{name}.duality_gap", f"must be None or a real number >= 0; got {_describe(gap)}")


def _n_iter(ctx, name, value):
    if value is not None and not (_is_int(value) and value >= 0):
        ctx.fail(name, f"must be None or an integer >= 0; got {_describe(value)}")


def _objective(ctx, name, value):
    _finite_real(ctx, name, value)


def _per_target(ctx, name, value) -> None:
    if ctx.n_rows is None:
        ctx.fail(name, f"must be a number for a single-target model; got {_describe(value)}")


def _alpha_(ctx, name, value):
    if _is_array(value):  # RidgeCV(alpha_per_target=True): one alpha per target
        _per_target(ctx, name, value)
        _float_array(ctx, name, value, (ctx.n_rows,), positive=True)
    else:
        _finite_real(ctx, name, value, positive=True)


def _alphas_(ctx, name, value):
    _float_array(ctx, name, value, (None,), positive=True)


def _best_score(ctx, name, value):
    # Informational: its type and shape are checked, its value is whatever CV gave.
    if _is_array(value):
        _per_target(ctx, name, value)
        _float_array(ctx, name, value, (ctx.n_rows,), finite=False)
    elif not _is_real(value):
        ctx.fail(name, f"must be a real number; got {_describe(value)}")


_MAX_CV_KEYS = 64


def _cv_results(ctx, name, value):
    if not isinstance(value, dict) or "alphas" not in value or len(value) > _MAX_CV_KEYS:
        ctx.fail(name, f"must be a mapping with an 'alphas' entry; got {_describe(value)}")
    alphas = value["alphas"]
    # ElasticNetCV with a list of l1_ratios: one grid per ratio, (n_l1_ratios, n_alphas).
    grids = _is_array(alphas) and alphas.ndim == 2 and "l1_ratios" in value
    _float_array(ctx, f"{name}['alphas']", alphas, (None,) * (2 if grids else 1), positive=True)
    n_alphas = alphas.shape[-1]
    for key, entry in value.items():
        part = f"{name}[{key!r}]"
        if key == "l1_ratios":
            _float_array(ctx, part, entry, (alphas.shape[0] if grids else 1,), nonnegative=True)
            if _has_values(entry) and np.any(entry > 1):
                ctx.fail(part, "must lie in [0, 1]")
            continue
        if not _is_array(entry) or entry.dtype.kind != "f" or entry.ndim not in (1, 2):
            ctx.fail(part, f"must be a 1-D or 2-D float array; got {_describe(entry)}")
        if n_alphas not in entry.shape:  # (alphas,), (alphas, targets) or (folds, alphas)
            ctx.fail(part, f"has shape {entry.shape}; one axis must have the {n_alphas} alphas")
    chosen = ctx.attributes.get("alpha_")
    if _has_values(alphas) and chosen is not None and not isinstance(chosen, ArrayHeader):
        if not np.all(np.isin(chosen, alphas)):  # fit picks alpha_ from this grid
            ctx.fail("alpha_", "is not one of the alphas in cv_results_['alphas']")


def _one_stats(ctx, name, value):
    """Statistics of this model's features and targets (their own fields are checked on load)."""
    layout = stats_layout(value)
    if layout is None:
        ctx.fail(name, f"must be GramStats; got {_describe(value)}")
    n_features, n_targets, single_target = layout
    if n_features != ctx.n_features:
        ctx.fail(name, f"hold {n_features} features; the model has {ctx.n_features}")
    rows = 1 if ctx.n_rows is None else ctx.n_rows
    if n_targets != rows or bool(single_target) != (ctx.n_rows is None):
        ctx.fail(name, f"hold {n_targets} target(s) of another form than coef_")


def _stats(ctx, name, value):
    _one_stats(ctx, name, value)


def _fold_stats(ctx, name, value):
    if not isinstance(value, list) or not 2 <= len(value) <= 2**20:
        ctx.fail(name, f"must be a list of at least 2 GramStats; got {_describe(value)}")
    for index, part in enumerate(value):
        _one_stats(ctx, f"{name}[{index}]", part)
    if "stats_" not in ctx.attributes:
        ctx.fail(name, "comes without stats_ (partial_fit keeps both)")


def _n_chunks(ctx, name, value):
    if not (_is_int(value) and value >= 0):
        ctx.fail(name, f"must be an integer >= 0; got {_describe(value)}")
    if "stats_" not in ctx.attributes:
        ctx.fail(name, "comes without stats_ (partial_fit keeps both)")


def _group_alphas(ctx, name, value):
    _float_array(ctx, name, value, (None,), positive=True)


def _feature_groups(ctx, name, value):
    if not _is_array(value) or value.dtype.kind not in "iu" or value.shape != (ctx.n_features,):
        ctx.fail(name, f"must be an integer array of shape ({ctx.n_features},); got "
                 f"{_describe(value)}")  # fmt: skip
    groups = ctx.attributes.get("group_alphas_")
    if groups is None:
        ctx.fail(name, "needs group_alphas_ (one alpha per group)")
    if _has_values(value) and (value.min() < 0 or value.max() >= groups.shape[0]):
        ctx.fail(name, f"must index group_alphas_ (0 to {groups.shape[0] - 1})")


def _group_cv_results(ctx, name, value):
    expected = {"group_alphas": 2, "mean_error": 1, "n_decompositions": 1}
    if not isinstance(value, dict) or set(value) != set(expected):
        ctx.fail(name, f"must be a mapping with the keys {sorted(expected)}")
    for key, ndim in expected.items():
        entry = value[key]
        if not _is_array(entry) or entry.dtype.kind != "f" or entry.ndim != ndim:
            ctx.fail(f"{name}[{key!r}]", f"must be a {ndim}-D float array; got {_describe(entry)}")


def _l1_ratio_(ctx, name, value):
    _finite_real(ctx, name, value)
    if not 0.0 <= _as_float(value) <= 1.0:
        ctx.fail(name, f"must lie in [0, 1]; got {value!r}")


def _column_lists(ctx, name, value):
    _string_list(ctx, name, value)


def _categories(ctx, name, value):
    if not isinstance(value, dict) or set(value) != set(ctx.attributes["categorical_columns_"]):
        ctx.fail(name, "must map each categorical column to its categories")
    for column, categories in value.items():
        _string_list(ctx, f"{name}[{column!r}]", categories)


def _scaling(ctx, name, value):
    n_numeric = len(ctx.attributes["numeric_columns_"])
    _float_array(ctx, name, value, (n_numeric,), positive=name == "scale_")


def _feature_names_out(ctx, name, value):
    attrs = ctx.attributes
    expected = attrs["numeric_columns_"] + [
        f"{c}={v}" for c in attrs["categorical_columns_"] for v in attrs["categories_"][c]
    ]
    if value != expected:
        ctx.fail(name, "does not match the columns and categories")


def _preprocessor(ctx, name, value):
    from l2reg.preprocessing import TabularPreprocessor

    if type(value) is not TabularPreprocessor or not hasattr(value, "feature_names_out_"):
        ctx.fail(name, f"must be a fitted TabularPreprocessor; got {_describe(value)}")


def _estimator(ctx, name, value):
    from l2reg.io import _saveable_classes

    if _saveable_classes().get(type(value).__name__) is not type(value) or not hasattr(
        value, "n_features_in_"
    ):
        ctx.fail(name, f"must be a fitted l2reg estimator; got {_describe(value)}")
    expected = len(ctx.attributes["preprocessor_"].feature_names_out_)
    if value.n_features_in_ != expected:
        ctx.fail(name, f"takes {value.n_features_in_} features; the preprocessing makes {expected}")


def _feature_names(ctx, name, value):
    if value != list(ctx.attributes["preprocessor_"].feature_names_out_):
        ctx.fail(name, "does not match the preprocessor's feature_names_out_")


#: Attribute name -> rule(context, name, value), in the order they are checked:
#: a rule may read attributes listed before it (they have passed their own).
ATTRIBUTE_RULES: dict[str, Callable] = {
    "n_features_in_": _n_features_in,
    "feature_names_in_": _feature_names_in,
    "classes_": _classes,
    "coef_": _coef,
    "intercept_": _intercept,
    "solver_": _solver,
    "certificate_": _certificate,
    "n_iter_": _n_iter,
    "objective_": _objective,
    "alpha_": _alpha_,
    "l1_ratio_": _l1_ratio_,
    "alphas_": _alphas_,
    "best_score_": _best_score,
    "cv_results_": _cv_results,
    "stats_": _stats,
    "fold_stats_": _fold_stats,
    "n_chunks_": _n_chunks,
    "group_alphas_": _group_alphas,
    "feature_groups_": _feature_groups,
    "group_cv_results_": _group_cv_results,
    "numeric_columns_": _column_lists,
    "categorical_columns_": _column_lists,
    "categories_": _categories,
    "mean_": _scaling,
    "scale_": _scaling,
    "feature_names_out_": _feature_names_out,
    "preprocessor_": _preprocessor,
    "estimator_": _estimator,
    "feature_names_": _feature_names,
}

#: Rules that need values an array header does not have (nested estimators).
_VALUE_ONLY = {"preprocessor_", "estimator_", "feature_names_"}


def check_fitted(cls: type, attributes: dict, path, prefix: str, *, headers_only: bool) -> None:
    """Check the fitted attributes of a ``cls`` model against :data:`FITTED` and the rules.

    ``attributes`` maps names to decoded values; arrays are
    :class:`~l2reg._model_file.ArrayHeader` objects when ``headers_only``.
    An empty mapping is an unfitted model (a composite's template) and passes.
    """
    if not attributes:
        return
    fitted = lookup(FITTED, cls)
    if fitted is None:  # pragma: no cover - every saveable class is listed (tested)
        raise file_error(path, prefix or "class", f"{cls.__name__} models cannot be loaded")
    known = set(fitted.required) | set(fitted.optional)
    unknown = sorted(set(attributes) - known)
    if unknown:
        raise file_error(
            path,
            prefix or "attributes",
            f"unknown fitted attribute(s) of {cls.__name__}: {unknown}",
        )
    missing = [name for name in fitted.required if name not in attributes]
    if missing:
        raise file_error(
            path, prefix or "attributes", f"{cls.__name__} lacks fitted attribute(s) {missing}"
        )
    ctx = _Context(path, prefix, attributes, cls)
    for name, rule in ATTRIBUTE_RULES.items():
        if name in attributes and not (headers_only and name in _VALUE_ONLY):
            rule(ctx, name, attributes[name])


# --- parameters: the estimators' own validation -------------------------------------


def _n_targets(model) -> int:
    coef = getattr(model, "coef_", None)
    if coef is not None:
        return 1 if np.ndim(coef) == 1 else np.shape(coef)[0]
    try:  # an unfitted template: one target per alpha given; check_alpha judges the rest
        return max(int(np.size(model.alpha)), 1)
    except (TypeError, ValueError):
        return 1


def _penalty_options(model) -> None:
    """The generalized L2 options' shapes, once the fitted model says what they must be."""
    from l2reg.linear_model._penalty_options import check_penalty_options

    n_features = getattr(model, "n_features_in_", None)
    if n_features is not None:
        check_penalty_options(model, int(n_features), _n_targets(model))


def _ridge_params(model) -> None:
    model._check_params(_n_targets(model))
    _penalty_options(model)


def _elastic_net_params(model) -> None:
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:  # unfitted: the factors' length is checked at fit time
        factors = model.penalty_factor
        n_features = np.shape(factors)[0] if np.ndim(factors) == 1 else 0
    model._check_params(n_features)


def _ridge_cv_params(model) -> None:
    from l2reg.model_selection._path import check_alpha_grid

    model._check_params()
    if model.alphas is not None:
        check_alpha_grid(type(model).__name__, model.alphas)
    _penalty_options(model)


def _glm_params(model) -> None:
    model._check_params()
    _penalty_options(model)


def _glm_cv_params(model) -> None:
    from l2reg._validation import validate_params
    from l2reg.model_selection._path import check_alpha_grid

    model._check_params()
    _penalty_options(model)
    validate_params(type(model).__name__, model.get_params(), model._cv_specs)
    if model.alphas is not None and not _is_int(model.alphas):
        check_alpha_grid(type(model).__name__, model.alphas)


def _preprocessor_params(model) -> None:
    from l2reg._validation import InstanceOf, Options, Satisfies, validate_params

    specs = {
        "columns": [
            Options((None,)),
            Satisfies(
                lambda v: isinstance(v, list) and all(isinstance(c, str) for c in v),
                "a list of column names",
            ),
        ],
        "standardize": [InstanceOf((bool,))],
    }
    validate_params(type(model).__name__, model.get_params(deep=False), specs)


def _tabular_model_params(model) -> None:
    from l2reg._validation import InstanceOf, Options, Satisfies, validate_params
    from l2reg.io import _saveable_classes
    from l2reg.preprocessing import TabularPreprocessor

    classes = tuple(_saveable_classes().values())
    specs = {
        "preprocessor": [Options((None,)), InstanceOf((TabularPreprocessor,))],
        "estimator": [
            Options((None,)),
            Satisfies(lambda v: isinstance(v, classes), "an l2reg estimator"),
        ],
        "target": [Options((None,)), InstanceOf((str,))],
    }
    validate_params(type(model).__name__, model.get_params(deep=False), specs)


#: Class name -> the estimator's own parameter validation (looked up along the MRO).
PARAMETER_CHECKS: dict[str, Callable] = {
    "Ridge": _ridge_params,
    "ElasticNet": _elastic_net_params,
    "ElasticNetCV": _elastic_net_params,  # the same _check_params(n_features)
    "MultiTaskElasticNet": lambda model: model._check_params(),
    "RidgeCV": _ridge_cv_params,
    "LogisticRegressionCV": _glm_cv_params,
    "PoissonRegressionCV": _glm_cv_params,
    "LogisticRegression": _glm_params,
    "PoissonRegression": _glm_params,
    "TabularPreprocessor": _preprocessor_params,
    "TabularModel": _tabular_model_params,
}
