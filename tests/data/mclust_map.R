# The reference of tests/test_prior.py: mclust's MAP fits (priorControl()) of
# mclust_map_data.csv, run as  Rscript mclust_map.R <this folder> > mclust_map.json
# (R with the mclust and jsonlite packages; Debian: r-base-core r-cran-mclust).
args <- commandArgs(trailingOnly = TRUE)
dir <- if (length(args)) args[1] else "."
library(mclust)
X <- as.matrix(read.csv(file.path(dir, "mclust_map_data.csv"), header=FALSE)); lab <- scan(file.path(dir, "mclust_map_labels.txt"), quiet=TRUE)
z0 <- unmap(lab)
out <- list()
for (m in c("VVV","EEE","VVI","VII")) {
  st <- mstep(modelName=m, data=X, z=z0, prior=priorControl())$parameters
  e <- em(modelName=m, data=X, parameters=st, prior=priorControl(),
          control=emControl(tol=c(1e-14, sqrt(.Machine$double.eps)), itmax=c(10000, 10000)))
  e5 <- em(modelName=m, data=X, parameters=st, prior=priorControl(),
           control=emControl(tol=c(0, 0), itmax=c(5, 5)), warn=FALSE)
  fit <- Mclust(X, G=3, modelNames=m, prior=priorControl(), verbose=FALSE)
  pack <- function(p) list(pro=p$pro, mean=t(p$mean), sigma=aperm(p$variance$sigma, c(3,1,2)))
  out[[m]] <- list(start=pack(st), em=pack(e$parameters), em_loglik=e$loglik, em5=pack(e5$parameters), em5_loglik=e5$loglik,
                   mclust=pack(fit$parameters), mclust_loglik=fit$loglik, mclust_bic=fit$bic)
}
cat(jsonlite::toJSON(out, digits=NA, auto_unbox=TRUE))
