# The reference of tests/test_init.py: mclust's model-based hierarchical clustering
# (hc, VVV, use = "SVD", Mclust's default start) cut at G = 2..5 clusters, run as
#   Rscript mclust_hc.R > mclust_hc.json
# (R with the mclust and jsonlite packages; Debian: r-base-core r-cran-mclust).
library(mclust)
data(iris); data(diabetes); data(banknote)
sets <- list(iris = as.matrix(iris[, 1:4]), diabetes = as.matrix(diabetes[, -1]),
             banknote = as.matrix(banknote[, -1]))
out <- list()
for (name in names(sets)) {
  X <- sets[[name]]
  out[[name]] <- list(X = X, classes = hclass(hc(X, modelName = "VVV", use = "SVD"), 2:5))
}
cat(jsonlite::toJSON(out, digits = NA))
