# Generates glmnet_ridge.json: glmnet ridge fits (alpha=0, standardize=FALSE) used to
# test l2reg.conventions.to_glmnet_lambda / from_glmnet_lambda.
# Run: Rscript tests/reference/glmnet_ridge.R > tests/reference/glmnet_ridge.json
# Versions are recorded in the output header fields.
suppressMessages(library(glmnet))
set.seed(20261126)
fmt <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
cases <- list()
make_case <- function(name, n, p, lambda, weighted, intercept) {
  X <- matrix(rnorm(n * p), n, p) %*% diag(seq(0.5, 2, length.out = p)) + 1
  y <- as.vector(X %*% rnorm(p) + rnorm(n) * 1.5 + 3)
  w <- if (weighted) runif(n, 0.2, 3) else rep(1, n)
  fit <- glmnet(X, y, weights = w, alpha = 0, lambda = lambda, standardize = FALSE,
                intercept = intercept, thresh = 1e-22, maxit = 1e8)
  beta <- as.vector(coef(fit))
  rows <- paste(apply(X, 1, fmt), collapse = ", ")
  sprintf(paste0('{"name": "%s", "lambda": %.17g, "fit_intercept": %s, "X": [%s], ',
                 '"y": %s, "sample_weight": %s, "intercept": %.17g, "coef": %s}'),
          name, lambda, tolower(as.character(intercept)), rows, fmt(y), fmt(w),
          beta[1], fmt(beta[-1]))
}
cases[[1]] <- make_case("unit_weights", 40, 4, 0.3, FALSE, TRUE)
cases[[2]] <- make_case("weighted", 50, 5, 0.05, TRUE, TRUE)
cases[[3]] <- make_case("strong_penalty", 30, 3, 4.0, FALSE, TRUE)
cat(sprintf('{"generator": "glmnet %s on %s", "cases": [%s]}\n',
            as.character(packageVersion("glmnet")), R.version.string,
            paste(unlist(cases), collapse = ",\n")))
