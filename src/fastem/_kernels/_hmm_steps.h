/* Forward-backward of one sequence of a hidden Markov model (see _hmm.pyx for the
 * scaling). Written in C so that the short loops over the states vectorise (restrict
 * pointers, `omp simd`), and dispatched once per sequence on x86-64 Linux. */
#ifndef FASTEM_HMM_STEPS_H
#define FASTEM_HMM_STEPS_H

#include <math.h>
#include "_simd.h"

/* frame (T x K): log emission probabilities in, scaled emission probabilities out.
   post (T x K) receives the posteriors, or is NULL (forward only); scale (T) the
   inverse normalisers 1 / c_t; xi (K x K), unless NULL, the expected transition counts. work holds
   5 K doubles. Returns the log-likelihood, or -inf when the sequence has probability
   zero (post and xi are then left incomplete). */
FASTEM_CLONES static double fastem_forward_backward(
        double* FASTEM_RESTRICT frame, double* FASTEM_RESTRICT post,
        double* FASTEM_RESTRICT scale, double* FASTEM_RESTRICT xi,
        const double* FASTEM_RESTRICT start, const double* FASTEM_RESTRICT A,
        const double* FASTEM_RESTRICT AT, ptrdiff_t T, ptrdiff_t K,
        double* FASTEM_RESTRICT work) {
    double* FASTEM_RESTRICT pred = work;
    double* FASTEM_RESTRICT beta = work + 3 * K;
    double* FASTEM_RESTRICT u = work + 4 * K;
    const double* a_prev = NULL;
    /* log p = sum_t (log c_t + m_t): the c_t are multiplied up and their log taken only
       when the product leaves [2^-600, 2^600] */
    double ll = 0.0, product = 1.0;
    for (ptrdiff_t t = 0; t < T; ++t) {
        double* FASTEM_RESTRICT lb = frame + t * K;
        double* FASTEM_RESTRICT a = post != NULL ? post + t * K : work + (1 + (t & 1)) * K;
        if (t == 0) {
            for (ptrdiff_t j = 0; j < K; ++j) pred[j] = start[j];
        } else {
            for (ptrdiff_t j = 0; j < K; ++j) pred[j] = 0.0;
            for (ptrdiff_t i = 0; i < K; ++i) {
                const double ai = a_prev[i];
                const double* FASTEM_RESTRICT row = A + i * K;
                FASTEM_PRAGMA(omp simd)
                for (ptrdiff_t j = 0; j < K; ++j) pred[j] += ai * row[j];
            }
        }
        /* the largest log emission probability among the reachable states */
        double m = -INFINITY;
        for (ptrdiff_t j = 0; j < K; ++j) {
            const double v = pred[j] > 0.0 ? lb[j] : -INFINITY;
            m = v > m ? v : m;
        }
        if (m == -INFINITY) return -INFINITY;
        double total = 0.0;
        FASTEM_PRAGMA(omp simd reduction(+:total))
        for (ptrdiff_t j = 0; j < K; ++j) {
            const double diff = lb[j] - m;
            const double e = fastem_exp_core(diff <= 0.0 ? diff : 0.0);
            lb[j] = e;
            a[j] = pred[j] * e;
            total += a[j];
        }
        const double inv = 1.0 / total;
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t j = 0; j < K; ++j) a[j] *= inv;
        scale[t] = inv;
        ll += m;
        product *= total;
        if (!(product > 0x1p-600 && product < 0x1p600)) {
            ll += log(product);
            product = 1.0;
        }
        a_prev = a;
    }
    ll += log(product);
    if (post == NULL) return ll;

    if (xi != NULL) memset(xi, 0, (size_t)(K * K) * sizeof(double));
    for (ptrdiff_t j = 0; j < K; ++j) beta[j] = 1.0;
    for (ptrdiff_t t = T - 2; t >= 0; --t) {
        /* u_j = B_{t+1, j} beta_{t+1, j} / c_{t+1} */
        const double* FASTEM_RESTRICT B = frame + (t + 1) * K;
        const double inv = scale[t + 1];
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t j = 0; j < K; ++j) u[j] = B[j] * beta[j] * inv;
        double* FASTEM_RESTRICT a = post + t * K;
        if (xi != NULL) {
            /* xi_ij = A_ij sum_t alpha_t(i) u_{t+1}(j): A_ij is applied once at the end */
            for (ptrdiff_t i = 0; i < K; ++i) {
                const double ai = a[i];
                double* FASTEM_RESTRICT xrow = xi + i * K;
                FASTEM_PRAGMA(omp simd)
                for (ptrdiff_t j = 0; j < K; ++j) xrow[j] += ai * u[j];
            }
        }
        /* beta_t = A u, column by column of A (rows of AT) */
        for (ptrdiff_t i = 0; i < K; ++i) beta[i] = 0.0;
        for (ptrdiff_t j = 0; j < K; ++j) {
            const double uj = u[j];
            const double* FASTEM_RESTRICT col = AT + j * K;
            FASTEM_PRAGMA(omp simd)
            for (ptrdiff_t i = 0; i < K; ++i) beta[i] += col[i] * uj;
        }
        double total = 0.0;
        FASTEM_PRAGMA(omp simd reduction(+:total))
        for (ptrdiff_t i = 0; i < K; ++i) {
            a[i] *= beta[i];
            total += a[i];
        }
        if (total > 0.0) {
            const double g = 1.0 / total;
            FASTEM_PRAGMA(omp simd)
            for (ptrdiff_t i = 0; i < K; ++i) a[i] *= g;
        }
    }
    if (xi != NULL) {
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t i = 0; i < K * K; ++i) xi[i] *= A[i];
    }
    return ll;
}

#endif
