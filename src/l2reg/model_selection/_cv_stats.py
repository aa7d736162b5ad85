"""RidgeCV from sufficient statistics: ``fit_stats`` and ``partial_fit``.

The selection criteria that the statistics of the rows suffice for (GCV,
evidence, and k-fold from per-fold statistics), as a mixin of
:class:`~l2reg.model_selection.RidgeCV`, and the k-fold errors from fold
statistics that ``RidgeCV.fit`` uses as well (docs/streaming.md).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.metaestimators import available_if

from l2reg.exceptions import IncompatibleOptionsError, InvalidParameterError
from l2reg.linear_model._base import (
    chunk_error,
    forget_statistics,
    restored_on_error,
    store_stats_fit,
    validate_chunk,
)
from l2reg.model_selection._folds import HashedKFold
from l2reg.model_selection._path import check_alpha_grid
from l2reg.model_selection._selection import weighted_standard_error
from l2reg.model_selection._spectral import default_alphas, intercept_mode, spectrum_from_stats
from l2reg.objective.gram import GramStats
from l2reg.objective.streaming import check_stats, merged_chunk, merged_folds

__all__ = ["StatisticsSelection", "kfold_from_stats", "MSE_SCORERS"]

# Scorer names whose value is -(weighted MSE): the closed-form criteria serve them.
MSE_SCORERS = ("neg_mean_squared_error",)


class StatisticsSelection:
    """``fit_stats`` and ``partial_fit`` of :class:`~l2reg.model_selection.RidgeCV`.

    Relies on RidgeCV's ``_check_params``, ``_closed_form``, ``_choose`` and
    ``_store_choice``, so the criteria and the choice are those of ``fit``.
    """

    def fit_stats(self, stats):
        """Choose alpha and fit from sufficient statistics alone: no rows.

        What the statistics allow:

        * ``cv="gcv"`` and ``cv="evidence"``: the statistics of all rows (one
          :class:`~l2reg.GramStats`; a sequence of them is merged).  The
          criteria are those :meth:`fit` computes on the rows.
        * k-fold (``cv`` an int k or a :class:`HashedKFold` of k splits): a
          sequence of k statistics, one per test fold (a partition of the
          rows, e.g. ``fold_stats_`` of :meth:`partial_fit`, or
          :meth:`GramStats.from_chunk_by_group
          <l2reg.GramStats.from_chunk_by_group>` with :func:`hashed_folds`).
          Each training set is all rows minus its fold (downdated), each
          held-out error comes from the fold's own statistics, as in
          :meth:`fit`'s one-pass k-fold.
        * exact leave-one-out (``cv=None``) needs the rows (each row's
          leverage), and a scorer other than mean squared error needs the
          predictions: both raise.

        The model at the chosen alpha is ``Ridge(alpha_).fit_stats(stats)``.

        Parameters
        ----------
        stats : GramStats or sequence of GramStats

        Returns
        -------
        self : RidgeCV
            With ``stats_`` (all rows) and, for k-fold, ``fold_stats_``.
        """
        owner = type(self).__name__
        self._check_params()
        n_folds = self._stream_folds()
        parts = [stats] if isinstance(stats, GramStats) else stats
        if not isinstance(parts, (list, tuple)) or not parts:
            raise InvalidParameterError(
                f"{owner}: stats must be GramStats or a non-empty list of them (one per "
                f"fold for k-fold); got {type(stats).__name__}."
            )
        for index, part in enumerate(parts):
            if not isinstance(part, GramStats):
                check_stats(owner, part, name=f"stats[{index}]")
        if n_folds is not None and len(parts) != n_folds:
            raise IncompatibleOptionsError(
                f"{owner}: cv={self.cv!r} is {n_folds}-fold and needs the statistics of each "
                f"of the {n_folds} folds (a list of {n_folds} GramStats, e.g. fold_stats_ of "
                f"partial_fit); got {len(parts)}. Use cv='gcv' or 'evidence' with the "
                "statistics of all rows."
            )
        total = check_stats(owner, GramStats.merge_all(parts))
        with restored_on_error(self):
            vars(self).pop("feature_names_in_", None)
            forget_statistics(self)
            self._fit_from_stats(total, parts if n_folds is not None else None)
            self.n_chunks_ = 0
        return self

    def _partial_fit_available(self) -> bool:
        """``partial_fit`` exists only where the statistics can choose alpha.

        Otherwise ``hasattr(model, "partial_fit")`` is False (scikit-learn's
        checks then treat the model as one without it) and calling it raises
        an AttributeError whose ``__cause__`` says why.
        """
        self._stream_folds()
        return True

    @available_if(_partial_fit_available)
    def partial_fit(self, X, y, sample_weight=None):
        """Add a chunk of rows, then choose alpha and refit on every row seen so far.

        Available where the statistics suffice (see :meth:`fit_stats`):
        ``cv="gcv"``, ``cv="evidence"`` and k-fold with hashed folds (``cv``
        an int k, meaning ``HashedKFold(k, seed=0)``, or a
        :class:`HashedKFold`): row i of the stream (counted from 0 over all
        chunks) belongs to fold ``hashed_folds(i, 1, k, seed)``, so the
        per-fold statistics ``fold_stats_`` accumulate in the same pass.
        After any chunking the model is :meth:`fit`'s on the concatenated
        rows with the same ``cv`` (``HashedKFold`` for k-fold: ``fit`` with
        an int ``cv`` uses unshuffled ``KFold`` folds instead).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
        y : array-like of shape (n_rows,) or (n_rows, n_targets)
        sample_weight : array-like of shape (n_rows,), default=None

        Returns
        -------
        self : RidgeCV

        Raises
        ------
        InvalidParameterError
            For a chunk that fails validation, naming its index (counted from
            0); the model, ``stats_`` and ``fold_stats_`` included, is left
            exactly as it was.  The same holds when the rows so far cannot
            choose alpha yet (fewer than 2 rows of positive weight, or a
            k-fold training set without weight): pass a larger chunk.
        IncompatibleOptionsError
            For ``cv=None`` (exact LOO needs the rows), another splitter, or a
            scorer other than mean squared error.
        """
        owner = type(self).__name__
        self._check_params()
        n_folds = self._stream_folds()
        first = not hasattr(self, "stats_")
        index = 0 if first else self.n_chunks_
        with restored_on_error(self):
            try:
                X = validate_chunk(self, X, first=first)
                if n_folds is None:
                    stats = merged_chunk(None if first else self.stats_, X, y, sample_weight)
                    folds = None
                else:
                    start = 0 if first else self.stats_.n_samples
                    folds = merged_folds(
                        None if first else self.fold_stats_,
                        X,
                        y,
                        sample_weight,
                        self._hashed_splitter().folds(start, X.shape[0]),
                        n_folds,
                    )
                    stats = GramStats.merge_all(folds)
            except (ValueError, TypeError) as error:
                raise chunk_error(owner, index, error) from error
            self._fit_from_stats(stats, folds)
            self.n_chunks_ = index + 1
        return self

    def _hashed_splitter(self) -> HashedKFold:
        return self.cv if isinstance(self.cv, HashedKFold) else HashedKFold(int(self.cv))

    def _stream_folds(self) -> int | None:
        """None for GCV and evidence, k for hashed k-fold; raise for what needs the rows."""
        owner = type(self).__name__
        if self.cv is None:
            raise IncompatibleOptionsError(
                f"{owner}: exact leave-one-out (cv=None) needs the rows (each row's leverage); "
                "from sufficient statistics use cv='gcv', cv='evidence', or k-fold with "
                "hashed folds (cv=5 or cv=HashedKFold(5, seed))."
            )
        if self.scoring is not None and self.scoring not in MSE_SCORERS:
            raise IncompatibleOptionsError(
                f"{owner}: scoring={self.scoring!r} needs predictions of the held-out rows; "
                "from sufficient statistics only the mean squared error (scoring=None) can "
                "be evaluated."
            )
        if isinstance(self.cv, str):
            return None
        if isinstance(self.cv, numbers.Integral) or isinstance(self.cv, HashedKFold):
            return self._hashed_splitter().n_splits
        raise IncompatibleOptionsError(
            f"{owner}: cv={self.cv!r} needs the rows to split; from sufficient statistics "
            "k-fold uses hashed folds (cv=5 or cv=HashedKFold(5, seed)), or use cv='gcv' "
            "or 'evidence'."
        )

    def _fit_from_stats(self, stats: GramStats, folds) -> None:
        owner = type(self).__name__
        n_positive = stats.positive_count
        if n_positive < 2:
            raise InvalidParameterError(
                f"{owner}: choosing alpha needs at least 2 samples with positive weight; "
                f"the statistics hold {n_positive}."
            )
        mode = intercept_mode(self.fit_intercept, self.penalize_intercept)
        spectrum = spectrum_from_stats(stats, mode, n_positive=n_positive)
        alphas = (
            default_alphas(spectrum)
            if self.alphas is None
            else check_alpha_grid(owner, self.alphas)
        )
        k = stats.n_targets
        per_target = self.alpha_per_target and k > 1
        results = {"alphas": alphas, "effective_df": spectrum.effective_df(alphas)}
        if folds is not None:
            positive = np.array([fold.positive_count for fold in folds])
            criterion = kfold_from_stats(folds, stats, mode, alphas, n_positive, positive)
        elif self.cv == "gcv":
            criterion = self._closed_form(spectrum.gcv(alphas))
        else:
            log_evidence = spectrum.log_evidence(alphas)
            criterion = self._closed_form(-log_evidence)
            results["log_evidence"] = log_evidence if per_target else log_evidence.mean(axis=1)
        alpha, best = self._choose(alphas, criterion, k, results)
        store_stats_fit(self, stats, alpha)
        self._store_choice(alpha, best, results, per_target)
        if folds is not None:
            self.fold_stats_ = list(folds)


def kfold_from_stats(fold_stats, full, mode, alphas, n_positive, positive_by_fold):
    """k-fold squared errors from fold statistics: downdate, decompose, evaluate.

    ``fold_stats`` are the test folds' statistics, ``full`` those of all rows
    (the folds and any rows in no test fold), ``positive_by_fold`` the rows of
    positive weight in each fold.

    The held-out weighted SSE of ``(theta, b)`` on fold B is
    ``yy_B - 2 theta.xy_B + theta.xx_B.theta + W_B u^2`` with B's own centered
    statistics and ``u = y_mean_B - x_mean_B.theta - b`` (the cross terms vanish
    about B's means), so no held-out row is read again.
    """
    A = alphas.shape[0]
    k = full.n_targets
    errors = []
    fold_weights = []
    target_index = np.tile(np.arange(k), A)
    for fold in range(len(fold_stats)):
        test = fold_stats[fold]
        if not test.weight_sum > 0:
            continue
        train = full.downdate(test)
        spectrum = spectrum_from_stats(
            train, mode, n_positive=int(n_positive - positive_by_fold[fold])
        )
        coef, intercept = spectrum.coefficients(alphas)
        theta = coef.reshape(A * k, -1)
        b = intercept.reshape(A * k)
        if mode == "centered":
            # b = y_mean_T - theta.x_mean_T, so the offset is a difference of
            # means, taken from their two parts: no eps * |mean| (1e8 offsets).
            dx, dy = train.mean_difference(test)
            offset = dy[target_index] - theta @ dx
        else:
            offset = test.y_mean[target_index] - theta @ test.x_mean - b
        sse = (
            test.yy[target_index]
            - 2 * np.sum(theta * test.xy.T[target_index], axis=1)
            + np.sum((theta @ test.xx) * theta, axis=1)
            + test.weight_sum * offset**2
        )
        errors.append(np.maximum(sse, 0.0).reshape(A, k) / test.weight_sum)
        fold_weights.append(test.weight_sum)
    fold_weights = np.asarray(fold_weights)
    errors = np.asarray(errors)  # (F, A, k)
    shared = errors.mean(axis=2)
    total = fold_weights.sum()
    return (
        fold_weights @ shared / total,
        weighted_standard_error(shared, fold_weights),
        (
            np.tensordot(fold_weights, errors, axes=1) / total,
            weighted_standard_error(errors, fold_weights),
        ),
    )
