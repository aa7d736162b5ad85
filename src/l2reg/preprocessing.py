"""Tabular preprocessing that travels with a saved model.

:class:`TabularPreprocessor` turns a data frame into the numeric design matrix
(numeric columns as they are or standardized, categorical columns one-hot
encoded) and remembers how, and :class:`TabularModel` joins it to an l2reg
estimator so that ``predict`` takes the raw table.  Both are saved and loaded by
:mod:`l2reg.io` like any estimator.  pandas is needed only to call them.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["TabularPreprocessor", "TabularModel"]


def is_numeric(series) -> bool:
    """Whether a pandas column is numeric (booleans count as categories)."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _model_file_error(path, message):
    from l2reg.io import ModelFileError

    return ModelFileError(f"{path}: {message}")


class TabularPreprocessor(BaseEstimator):
    """Numeric columns (optionally standardized) plus one-hot encoded categorical columns.

    Parameters
    ----------
    columns : list of str, default=None
        The feature columns; None means every column of the frame given to ``fit``.
    standardize : bool, default=False
        Center numeric columns and divide them by their (population) standard
        deviation, so that one alpha penalizes every numeric feature alike.
        Constant columns are left unscaled.

    Attributes
    ----------
    numeric_columns_ : list of str
    categorical_columns_ : list of str
        Non-numeric columns (strings, booleans, categories), one-hot encoded with one
        indicator per category seen in ``fit``; a category unseen in ``fit`` gets all
        indicators zero at ``transform``.
    categories_ : dict of str to list of str
    mean_, scale_ : ndarray of shape (n_numeric,)
        Zeros and ones when ``standardize=False``.
    feature_names_out_ : list of str
        Names of the design-matrix columns (``"column=category"`` for indicators).

    Notes
    -----
    Missing values are not imputed: ``fit`` and ``transform`` raise a ``ValueError``
    naming the columns and the number of missing cells.
    """

    def __init__(self, columns=None, *, standardize=False):
        self.columns = columns
        self.standardize = standardize

    @staticmethod
    def _check_missing(frame, columns) -> None:
        missing = {c: int(n) for c, n in frame[columns].isna().sum().items() if n}
        if missing:
            described = ", ".join(f"{c!r} ({n} missing)" for c, n in missing.items())
            raise ValueError(
                f"missing values in {described}; remove or impute them first "
                "(l2reg does not guess replacements)."
            )

    def fit(self, frame, y=None):
        """Learn the columns, categories and (optionally) the scaling from ``frame``."""
        columns = list(frame.columns) if self.columns is None else list(self.columns)
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise ValueError(f"column(s) not found: {', '.join(map(str, absent))}")
        if not columns:
            raise ValueError("no feature columns to use.")
        self._check_missing(frame, columns)
        self.numeric_columns_ = [str(c) for c in columns if is_numeric(frame[c])]
        self.categorical_columns_ = [str(c) for c in columns if not is_numeric(frame[c])]
        self.categories_ = {
            c: sorted(frame[c].astype(str).unique().tolist()) for c in self.categorical_columns_
        }
        numeric = frame[self.numeric_columns_].to_numpy(dtype=np.float64)
        if self.standardize and numeric.size:
            self.mean_ = numeric.mean(axis=0)
            scale = numeric.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        else:
            self.mean_ = np.zeros(len(self.numeric_columns_))
            self.scale_ = np.ones(len(self.numeric_columns_))
        self.feature_names_out_ = self.numeric_columns_ + [
            f"{c}={value}" for c in self.categorical_columns_ for value in self.categories_[c]
        ]
        return self

    def transform(self, frame) -> np.ndarray:
        """The design matrix of ``frame`` (same columns as in ``fit``)."""
        check_is_fitted(self)
        needed = self.numeric_columns_ + self.categorical_columns_
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            raise ValueError(f"column(s) missing from the data: {', '.join(absent)}")
        self._check_missing(frame, needed)
        parts = []
        if self.numeric_columns_:
            try:
                numeric = frame[self.numeric_columns_].to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as error:
                raise ValueError(f"numeric columns hold non-numeric values: {error}") from None
            parts.append((numeric - self.mean_) / self.scale_)
        for column in self.categorical_columns_:
            values = frame[column].astype(str).to_numpy()
            categories = np.asarray(self.categories_[column])
            parts.append((values[:, None] == categories[None, :]).astype(np.float64))
        return np.hstack(parts) if parts else np.empty((len(frame), 0))

    def fit_transform(self, frame, y=None) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def _check_loaded(self, path) -> None:
        n_numeric = len(self.numeric_columns_)
        if np.shape(self.mean_) != (n_numeric,) or np.shape(self.scale_) != (n_numeric,):
            raise _model_file_error(path, "scaling arrays do not match the numeric columns.")
        if not np.all(np.asarray(self.scale_) > 0):
            raise _model_file_error(path, "scales must be positive.")
        if set(self.categories_) != set(self.categorical_columns_):
            raise _model_file_error(path, "categories do not match the categorical columns.")
        expected = n_numeric + sum(len(v) for v in self.categories_.values())
        if len(self.feature_names_out_) != expected:
            raise _model_file_error(path, "feature names do not match the encoding.")


class TabularModel(BaseEstimator):
    """A :class:`TabularPreprocessor` followed by an l2reg estimator, fitted on a data frame.

    Parameters
    ----------
    preprocessor : TabularPreprocessor, default=None
        None means ``TabularPreprocessor()``.
    estimator : l2reg estimator, default=None
        None means ``l2reg.RidgeCV()``.
    target : str, default=None
        The target column; required by ``fit``.

    Attributes
    ----------
    preprocessor_, estimator_ : fitted clones of the parameters
    feature_names_ : list of str
        The design-matrix column names.
    """

    def __init__(self, preprocessor=None, estimator=None, *, target=None):
        self.preprocessor = preprocessor
        self.estimator = estimator
        self.target = target

    def fit(self, frame):
        """Fit the preprocessing, then the estimator, on ``frame``."""
        from l2reg import RidgeCV

        if self.target is None or self.target not in frame.columns:
            raise ValueError(
                f"target column {self.target!r} not found; columns are: "
                f"{', '.join(map(str, frame.columns))}"
            )
        preprocessor = clone(self.preprocessor or TabularPreprocessor())
        if preprocessor.columns is None:
            preprocessor.set_params(columns=[c for c in frame.columns if c != self.target])
        if self.target in preprocessor.columns:
            raise ValueError(f"the target {self.target!r} cannot also be a feature.")
        TabularPreprocessor._check_missing(frame, [self.target])
        X = preprocessor.fit_transform(frame)
        y = frame[self.target].to_numpy()
        estimator = clone(self.estimator if self.estimator is not None else RidgeCV())
        estimator.fit(X, y)
        self.preprocessor_, self.estimator_ = preprocessor, estimator
        self.feature_names_ = list(preprocessor.feature_names_out_)
        return self

    def design(self, frame) -> np.ndarray:
        """The design matrix the estimator sees for ``frame``."""
        check_is_fitted(self)
        return self.preprocessor_.transform(frame)

    def predict(self, frame):
        """Predictions for the rows of ``frame`` (raw columns, as in the training file)."""
        return self.estimator_.predict(self.design(frame))

    def _check_loaded(self, path) -> None:
        n_features = getattr(self.estimator_, "n_features_in_", None)
        if n_features != len(self.preprocessor_.feature_names_out_):
            raise _model_file_error(
                path, "the estimator's number of features does not match the preprocessing."
            )
