/* Inner loops of the kernels, written so the compiler vectorises them.
 *
 * The Gaussian kernels store the rows of a block feature-major (x[i * FASTEM_BLOCK + b]),
 * so their loops run over the rows of the block; the k-means kernels read the rows as
 * stored and put the centers in lanes (see "Centers in lanes" below). Reductions use `omp simd reduction`, enabled by
 * -fopenmp or -fopenmp-simd (no OpenMP runtime needed): the summation order is fixed by
 * the binary and the block, never by the thread count, so results stay bitwise
 * reproducible for any number of threads.
 */
#ifndef FASTEM_SIMD_H
#define FASTEM_SIMD_H

#include <math.h>
#include <stddef.h>
#include <string.h>

#define FASTEM_BLOCK 256
/* Position of (i, j), j >= i, in a packed upper triangle of a d x d matrix (row by row). */
#define FASTEM_TRI(i, j, d) ((i) * (2 * (d) - (i) + 1) / 2 + ((j) - (i)))
/* Rows of a transposed block that a kernel handles side by side: 64 bytes, two AVX2
   vectors (eight doubles, sixteen floats), so that a tile of partial products has enough
   independent multiply-add chains to hide their latency. */
#define FASTEM_LANES(T) ((int)(64 / sizeof(T)))
#define FASTEM_PAD_ROWS 16

#if defined(__GNUC__) || defined(__clang__)
#define FASTEM_PRAGMA(x) _Pragma(#x)
#define FASTEM_UNUSED __attribute__((unused))   /* each module uses some helpers */
#define FASTEM_RESTRICT __restrict__
#define FASTEM_PREFETCH(p) __builtin_prefetch(p)
#else /* MSVC: no `omp simd` in its C OpenMP; /O2 still vectorises the plain loops */
#define FASTEM_PRAGMA(x)
#define FASTEM_UNUSED
#define FASTEM_RESTRICT __restrict
#define FASTEM_PREFETCH(p) ((void)(p))
#endif

/* Kernels that stream over the rows as stored, a tile of `rows` rows at a time, fetch
   the next tile into the cache while they work on this one (measured: k-means++ at
   n = 200,000, d = 50 went from 690 to 370 ms; the hardware prefetcher alone lags). */
#define FASTEM_PREFETCH_TILE(X, b0, nb, d, rows)                                          \
    if ((b0) + 2 * (rows) <= (nb)) {                                                      \
        const char* ahead_ = (const char*)((X) + ((b0) + (rows)) * (d));                  \
        const ptrdiff_t bytes_ = (ptrdiff_t)((rows) * (d) * sizeof(*(X)));                \
        for (ptrdiff_t off_ = 0; off_ < bytes_; off_ += 64) FASTEM_PREFETCH(ahead_ + off_); \
    }

/* On x86-64 Linux with GCC each loop is also compiled for AVX2+FMA (and most for
   AVX-512) and the best version is picked when the module loads (the baseline wheel
   target is SSE2). The float64 register-tiled full-covariance kernels stay at AVX2
   (measured: AVX-512 made them 20% slower at d = 50 on AMD Zen 4, while the float32
   ones gain 10-15% from its 32 registers). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTEM_CLONES FASTEM_UNUSED \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FASTEM_CLONES_AVX2 FASTEM_UNUSED \
    __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FASTEM_CLONES FASTEM_UNUSED
#define FASTEM_CLONES_AVX2 FASTEM_UNUSED
#endif

/* xt[i * FASTEM_BLOCK + b] = X[b, i] for the nb rows of a block; rows nb up to the next
   multiple of FASTEM_PAD_ROWS are zeroed (the loops below read whole groups of rows).
   Eight rows at a time: their cache lines stay in L1 while each feature's eight values
   are written as one contiguous run. */
#define FASTEM_TRANSPOSE(NAME, T)                                                         \
FASTEM_CLONES static void NAME(const T* X, ptrdiff_t nb, ptrdiff_t d, T* xt) {            \
    const ptrdiff_t full = nb & ~(ptrdiff_t)7;                                            \
    const ptrdiff_t padded = (nb + FASTEM_PAD_ROWS - 1) & ~(ptrdiff_t)(FASTEM_PAD_ROWS - 1); \
    for (ptrdiff_t b0 = 0; b0 < full; b0 += 8) {                                          \
        const T* FASTEM_RESTRICT x = X + b0 * d;                                          \
        for (ptrdiff_t i = 0; i < d; ++i) {                                               \
            T* FASTEM_RESTRICT out = xt + i * FASTEM_BLOCK + b0;                          \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (int l = 0; l < 8; ++l) out[l] = x[l * d + i];                            \
        }                                                                                 \
    }                                                                                     \
    for (ptrdiff_t i = 0; i < d; ++i)                                                     \
        for (ptrdiff_t b = full; b < padded; ++b)                                         \
            xt[i * FASTEM_BLOCK + b] = b < nb ? X[b * d + i] : (T)0;                      \
}
FASTEM_TRANSPOSE(fastem_transpose_generic_d, double)
FASTEM_TRANSPOSE(fastem_transpose_generic_f, float)

/* xt[j * FASTEM_BLOCK + b] = X[rows[b], obs[j]] for the nb rows listed in rows (a
   pattern's rows with missing values, scattered over X), rows nb up to the next multiple
   of FASTEM_PAD_ROWS zeroed as by the transposes: row by row, each read once and the row
   FASTEM_GATHER_AHEAD places ahead fetched early (feature by feature, each scattered
   row's first read waited for memory: measured a third of the missing-value pass). */
#define FASTEM_GATHER_AHEAD 8
#define FASTEM_GATHER_ROWS(NAME, T)                                                       \
FASTEM_UNUSED static void NAME(const T* X, ptrdiff_t d, const ptrdiff_t* rows, ptrdiff_t nb, \
                               const ptrdiff_t* obs, ptrdiff_t o, T* xt) {                \
    for (ptrdiff_t b = 0; b < nb; ++b) {                                                  \
        if (b + FASTEM_GATHER_AHEAD < nb) {                                               \
            const T* ahead = X + rows[b + FASTEM_GATHER_AHEAD] * d;                       \
            FASTEM_PREFETCH(ahead);                                                       \
            FASTEM_PREFETCH(ahead + d - 1);                                               \
        }                                                                                 \
        const T* x = X + rows[b] * d;                                                     \
        for (ptrdiff_t j = 0; j < o; ++j) xt[j * FASTEM_BLOCK + b] = x[obs[j]];           \
    }                                                                                     \
    const ptrdiff_t padded = (nb + FASTEM_PAD_ROWS - 1) & ~(ptrdiff_t)(FASTEM_PAD_ROWS - 1); \
    for (ptrdiff_t j = 0; j < o; ++j)                                                     \
        for (ptrdiff_t b = nb; b < padded; ++b) xt[j * FASTEM_BLOCK + b] = (T)0;         \
}
FASTEM_GATHER_ROWS(fastem_gather_rows_d, double)
FASTEM_GATHER_ROWS(fastem_gather_rows_f, float)

/* The missing entries of a pattern's rows, shifted, given the observed ones: for the
   nb rows of xo (o observed features, transposed as by fastem_gather_rows and zeroed up
   to FASTEM_PAD_ROWS) and a component's conditional-mean map B (m x o, row-major),
   yt[mis[i] * FASTEM_BLOCK + b] = sum_j B[i, j] (xo[j, b] - mu[j]) for i < m, the sum in
   the order of j, sixteen rows at a time (a sum added to memory one observed feature at
   a time was bound by its loads and stores; see fastem_conditional_rows_* for the
   version picked at run time). */
#define FASTEM_CONDITIONAL_ROWS(NAME, T)                                                  \
FASTEM_CLONES static void NAME(const T* xo, ptrdiff_t nb, ptrdiff_t o, const T* mu,       \
                               const T* B, ptrdiff_t m, const ptrdiff_t* mis, T* yt) {    \
    enum { R = FASTEM_PAD_ROWS };                                                         \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += R) {                                            \
        const ptrdiff_t nr = nb - b0 < R ? nb - b0 : R;                                   \
        for (ptrdiff_t i = 0; i < m; i += 2) {   /* an odd m's last entry twice */       \
            const ptrdiff_t i1 = i + 1 < m ? i + 1 : i;                                   \
            T a0[R] = {0}, a1[R] = {0};                                                   \
            const T* c0 = B + i * o;                                                      \
            const T* c1 = B + i1 * o;                                                     \
            for (ptrdiff_t j = 0; j < o; ++j) {                                           \
                const T* x = xo + j * FASTEM_BLOCK + b0;                                  \
                const T mj = mu[j], u0 = c0[j], u1 = c1[j];                               \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < R; ++l) {                                             \
                    const T y = x[l] - mj;                                                \
                    a0[l] += u0 * y;                                                      \
                    a1[l] += u1 * y;                                                      \
                }                                                                         \
            }                                                                             \
            T* o0 = yt + mis[i] * FASTEM_BLOCK + b0;                                      \
            T* o1 = yt + mis[i1] * FASTEM_BLOCK + b0;                                     \
            for (ptrdiff_t l = 0; l < nr; ++l) { o0[l] = a0[l]; o1[l] = a1[l]; }          \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_CONDITIONAL_ROWS(fastem_conditional_rows_generic_d, double)
FASTEM_CONDITIONAL_ROWS(fastem_conditional_rows_generic_f, float)

/* out[j, i] = X[s, i] - m[i] for the rows s = sel[j] (sel NULL: s = j), j < nb, of a
   block, in the data's precision: the k-means kernels work on rows centred by the data's
   mean, as scikit-learn centres X, so that distances by expansion do not cancel far
   from zero (k-means++ shifts only the rows it computes, listed in sel). */
#define FASTEM_SHIFT_ROWS(NAME, T)                                                        \
FASTEM_CLONES static void NAME(const T* X, const int* sel, ptrdiff_t nb, ptrdiff_t d,    \
                               const T* m, T* out) {                                      \
    for (ptrdiff_t b = 0; b < nb; ++b) {                                                  \
        const T* FASTEM_RESTRICT x = X + (sel != NULL ? (ptrdiff_t)sel[b] : b) * d;        \
        T* FASTEM_RESTRICT o = out + b * d;                                               \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (ptrdiff_t i = 0; i < d; ++i) o[i] = x[i] - m[i];                             \
    }                                                                                     \
}
FASTEM_SHIFT_ROWS(fastem_shift_rows_d, double)
FASTEM_SHIFT_ROWS(fastem_shift_rows_f, float)

/* quad[b] = || y_b @ P - cs ||^2 for upper-triangular P (d x d, row-major, exact zeros
   below the diagonal), rows 0..nb-1; cs = mu @ P makes it the length of (x_b - mu) @ P
   without a shifted copy of the rows (as scikit-learn computes it), or is NULL.
   FASTEM_LANES rows and six columns of P at a time (four for narrow P): the partial
   products stay in registers and enough independent accumulator chains hide the
   multiply-add latency; within a tile the zeros below the diagonal are multiplied
   rather than skipped, so every column runs the same loop. */
#define FASTEM_QUAD_TRIANGULAR(NAME, T, CLONES, TILE)                                     \
CLONES static void NAME(const T* yt, ptrdiff_t nb, ptrdiff_t d, const T* P,               \
                        const T* cs, double* quad) {                                      \
    enum { TC = TILE, LN = FASTEM_LANES(T) };                                             \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += LN) {                                           \
        T q[LN] = {0};                                                                    \
        for (ptrdiff_t j0 = 0; j0 < d; j0 += TC) {                                        \
            ptrdiff_t jj[TC];                                                             \
            for (int t = 0; t < TC; ++t) jj[t] = j0 + t < d ? j0 + t : d - 1;             \
            const ptrdiff_t iend = j0 + TC < d ? j0 + TC : d;                             \
            T a[TC][LN] = {{0}};                                                          \
            for (ptrdiff_t i = 0; i < iend; ++i) {                                        \
                const T* y = yt + i * FASTEM_BLOCK + b0;                                  \
                const T* row = P + i * d;                                                 \
                T u[TC];                                                                  \
                for (int t = 0; t < TC; ++t) u[t] = row[jj[t]];                           \
                for (int t = 0; t < TC; ++t) {                                            \
                    FASTEM_PRAGMA(omp simd)                                               \
                    for (int l = 0; l < LN; ++l) a[t][l] += u[t] * y[l];                  \
                }                                                                         \
            }                                                                             \
            for (int t = 0; t < TC; ++t) {                                                \
                if (j0 + t >= d) break;                                                   \
                const T c = cs != NULL ? cs[j0 + t] : (T)0;                               \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < LN; ++l) {                                            \
                    const T v = a[t][l] - c;                                              \
                    q[l] += v * v;                                                        \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        const ptrdiff_t m = nb - b0 < LN ? nb - b0 : LN;                                  \
        for (ptrdiff_t l = 0; l < m; ++l) quad[b0 + l] = (double)q[l];                    \
    }                                                                                     \
}
FASTEM_QUAD_TRIANGULAR(fastem_quad_generic6_d, double, FASTEM_CLONES_AVX2, 6)
FASTEM_QUAD_TRIANGULAR(fastem_quad_generic6_f, float, FASTEM_CLONES, 6)
FASTEM_QUAD_TRIANGULAR(fastem_quad_generic4_d, double, FASTEM_CLONES_AVX2, 4)
FASTEM_QUAD_TRIANGULAR(fastem_quad_generic4_f, float, FASTEM_CLONES, 4)

/* A responsibility in the data's precision, as the moments kernels take them (the
   float32 posteriors apply it; other callers convert with fastem_weight_f). In float32,
   weights below 2^-64 count as 0:
   their products with the rows would be subnormal floats, whose arithmetic is many times
   slower (measured: 15x for the whole M-step pass when components are far apart), and
   they cannot matter (the M-step adds 10 eps to every component's weight). float64 keeps
   every weight. */
#define FASTEM_WEIGHT(T, v)                                                               \
    (sizeof(T) == sizeof(float) && (v) < 5.421010862427522e-20 ? (T)0 : (T)(v))
FASTEM_UNUSED static inline float fastem_weight_f(double v) { return FASTEM_WEIGHT(float, v); }

/* The first step of both moments kernels: wy[i, b] = w_b (y[i, b] - mu_i), and s1[i] +=
   sum_b wy[i, b]. */
#define FASTEM_WEIGHTED_ROWS(T)                                                           \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const T* y = yt + i * FASTEM_BLOCK;                                               \
        T* o = wy + i * FASTEM_BLOCK;                                                     \
        const T m = mu != NULL ? mu[i] : (T)0;                                            \
        T s = 0;                                                                          \
        FASTEM_PRAGMA(omp simd reduction(+:s))                                            \
        for (ptrdiff_t b = 0; b < nb; ++b) { o[b] = w[b] * (y[b] - m); s += o[b]; }      \
        s1[i] += (double)s;                                                               \
    }

/* s2[tri(i, j)] += sum_b w[b] y[i, b] y[j, b] for j >= i (packed upper triangle), and
   s1[i] += sum_b w[b] y[i, b], for y = xt - mu shifted on the fly (no shifted copy of
   the block; mu may be NULL: no shift). wy is scratch of d * FASTEM_BLOCK. Two rows of
   the result at a time against four columns: six loads per eight multiply-adds. */
#define FASTEM_MOMENTS(NAME, T, CLONES)                                                           \
CLONES static void NAME(const T* yt, const T* mu, const T* w, ptrdiff_t nb,              \
                        ptrdiff_t d, double* s1, double* s2, T* wy) {                     \
    FASTEM_WEIGHTED_ROWS(T)                                                               \
    for (ptrdiff_t i = 0; i < d; i += 2) {                                                \
        const ptrdiff_t i1 = i + 1 < d ? i + 1 : i;                                       \
        const T* u0 = wy + i * FASTEM_BLOCK;                                              \
        const T* u1 = wy + i1 * FASTEM_BLOCK;                                             \
        for (ptrdiff_t j = i; j < d; j += 4) {                                            \
            const ptrdiff_t j1 = j + 1 < d ? j + 1 : j, j2 = j + 2 < d ? j + 2 : j,      \
                            j3 = j + 3 < d ? j + 3 : j;                                   \
            const T* v0 = yt + j * FASTEM_BLOCK;                                          \
            const T* v1 = yt + j1 * FASTEM_BLOCK;                                         \
            const T* v2 = yt + j2 * FASTEM_BLOCK;                                         \
            const T* v3 = yt + j3 * FASTEM_BLOCK;                                         \
            const T m0 = mu != NULL ? mu[j] : (T)0, m1 = mu != NULL ? mu[j1] : (T)0,      \
                    m2 = mu != NULL ? mu[j2] : (T)0, m3 = mu != NULL ? mu[j3] : (T)0;      \
            T a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;     \
            FASTEM_PRAGMA(omp simd reduction(+:a00,a01,a02,a03,a10,a11,a12,a13))          \
            for (ptrdiff_t b = 0; b < nb; ++b) {                                          \
                const T y0 = v0[b] - m0, y1 = v1[b] - m1, y2 = v2[b] - m2, y3 = v3[b] - m3; \
                a00 += u0[b] * y0; a01 += u0[b] * y1;                                     \
                a02 += u0[b] * y2; a03 += u0[b] * y3;                                     \
                a10 += u1[b] * y0; a11 += u1[b] * y1;                                     \
                a12 += u1[b] * y2; a13 += u1[b] * y3;                                     \
            }                                                                             \
            const T a0[4] = {a00, a01, a02, a03}, a1[4] = {a10, a11, a12, a13};           \
            const ptrdiff_t js[4] = {j, j1, j2, j3};                                      \
            for (int c = 0; c < 4 && j + c < d; ++c) {                                    \
                s2[FASTEM_TRI(i, js[c], d)] += (double)a0[c];                             \
                if (i1 != i && js[c] >= i1) s2[FASTEM_TRI(i1, js[c], d)] += (double)a1[c]; \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_MOMENTS(fastem_moments_generic_d, double, FASTEM_CLONES_AVX2)
FASTEM_MOMENTS(fastem_moments_generic_f, float, FASTEM_CLONES)

/* With y = x - mu (mu may be NULL for rows already shifted): s1[i] += sum_b w[b] y[i, b]
   and s2[i] += sum_b w[b] y[i, b]^2 (diagonal moments). */
#define FASTEM_MOMENTS_DIAG(NAME, T)                                                      \
FASTEM_CLONES static void NAME(const T* xt, const T* mu, const T* w, ptrdiff_t nb,        \
                               ptrdiff_t d, double* s1, double* s2) {                     \
    ptrdiff_t i = 0;                                                                      \
    /* four features at a time: eight independent sums (one feature's two sums were a    \
       chain of dependent adds) */                                                        \
    for (; i + 4 <= d; i += 4) {                                                          \
        const T* x0 = xt + i * FASTEM_BLOCK;                                              \
        const T* x1 = x0 + FASTEM_BLOCK;                                                  \
        const T* x2 = x1 + FASTEM_BLOCK;                                                  \
        const T* x3 = x2 + FASTEM_BLOCK;                                                  \
        const T m0 = mu != NULL ? mu[i] : (T)0, m1 = mu != NULL ? mu[i + 1] : (T)0,        \
                m2 = mu != NULL ? mu[i + 2] : (T)0, m3 = mu != NULL ? mu[i + 3] : (T)0;    \
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;                 \
        FASTEM_PRAGMA(omp simd reduction(+:a0,a1,a2,a3,q0,q1,q2,q3))                      \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const T y0 = x0[b] - m0, y1 = x1[b] - m1, y2 = x2[b] - m2, y3 = x3[b] - m3;   \
            const T u0 = w[b] * y0, u1 = w[b] * y1, u2 = w[b] * y2, u3 = w[b] * y3;   \
            a0 += u0; a1 += u1; a2 += u2; a3 += u3;                                       \
            q0 += u0 * y0; q1 += u1 * y1; q2 += u2 * y2; q3 += u3 * y3;                   \
        }                                                                                 \
        s1[i] += (double)a0; s1[i + 1] += (double)a1;                                     \
        s1[i + 2] += (double)a2; s1[i + 3] += (double)a3;                                 \
        s2[i] += (double)q0; s2[i + 1] += (double)q1;                                     \
        s2[i + 2] += (double)q2; s2[i + 3] += (double)q3;                                 \
    }                                                                                     \
    for (; i < d; ++i) {                                                                  \
        const T* x = xt + i * FASTEM_BLOCK;                                               \
        const T m = mu != NULL ? mu[i] : (T)0;                                            \
        T a = 0, q = 0;                                                                   \
        FASTEM_PRAGMA(omp simd reduction(+:a,q))                                          \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const T y = x[b] - m;                                                         \
            const T u = w[b] * y;                                                        \
            a += u;                                                                       \
            q += u * y;                                                                   \
        }                                                                                 \
        s1[i] += (double)a;                                                               \
        s2[i] += (double)q;                                                               \
    }                                                                                     \
}
FASTEM_MOMENTS_DIAG(fastem_moments_diag_d, double)
FASTEM_MOMENTS_DIAG(fastem_moments_diag_f, float)

/* quad[b] = sum_i ((x[i, b] - mu[i]) p[i * ps])^2 for b < nb: the diagonal (ps = 1) or
   spherical (ps = 0) Mahalanobis length; mu may be NULL for rows already shifted. */
#define FASTEM_QUAD_DIAG(NAME, T)                                                         \
FASTEM_CLONES static void NAME(const T* xt, ptrdiff_t nb, ptrdiff_t d, const T* mu,      \
                               const T* p, ptrdiff_t ps, double* quad) {                  \
    for (ptrdiff_t b = 0; b < nb; ++b) quad[b] = 0.0;                                     \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const T* x = xt + i * FASTEM_BLOCK;                                               \
        const T m = mu != NULL ? mu[i] : (T)0, c = p[i * ps];                             \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const T t = (x[b] - m) * c;                                                   \
            quad[b] += (double)(t * t);                                                   \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_QUAD_DIAG(fastem_quad_diag_generic_d, double)
FASTEM_QUAD_DIAG(fastem_quad_diag_generic_f, float)

/* Centers in lanes. The k-means kernels read the rows as stored (row-major X, no
   transposed copy) and hold FASTEM_PANEL centers side by side: a panel is the transpose of
   FASTEM_PANEL consecutive centers, ct[i * FASTEM_PANEL + l] = center[l][i], with the
   missing centers of the last panel zero and their squared norm +inf, so they never win.
   A tile of FASTEM_PANEL_ROWS rows broadcasts each row's value of feature i against
   the panel's row i: a[r][l] = x_r . c_l, summed over i in order (as the previous
   feature-major kernels did, so the distances are the same bit for bit). */
#define FASTEM_PANEL 8
#define FASTEM_PANEL_ROWS 6

/* x[r] = row b0 + r of X (rows of d) for the tile's m real rows of ROWS; the others
   repeat row b0. */
#define FASTEM_TILE_ROWS(T, X, b0, nb, d, x, m, ROWS)                                     \
    const ptrdiff_t m = (nb) - (b0) < (ROWS) ? (nb) - (b0) : (ROWS);                      \
    const T* x[ROWS];                                                                     \
    for (int r = 0; r < (ROWS); ++r) x[r] = (X) + ((b0) + (r < m ? r : 0)) * (d);

/* a[r][.] += x_r[i] * panel row i over the features; NORMS runs once per (row, i) with
   u = x_r[i]. */
#define FASTEM_PANEL_DOTS(T, x, d, ct, a, NORMS)                                          \
    for (ptrdiff_t i = 0; i < (d); ++i) {                                                 \
        const T* FASTEM_RESTRICT c = (ct) + i * FASTEM_PANEL;                             \
        for (int r = 0; r < FASTEM_PANEL_ROWS; ++r) {                                     \
            const T u = x[r][i];                                                          \
            NORMS;                                                                        \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (int l = 0; l < FASTEM_PANEL; ++l) a[r][l] += u * c[l];                   \
        }                                                                                 \
    }

/* For the nb rows of X: lab[b] = argmin_k (cc[k] - 2 x_b . c_k), the first k on ties,
   and best[b] = ||x_b||^2 + that minimum (the squared distance by expansion, clipped at
   0; NaN or inf when the arithmetic overflowed). ct holds n_panels panels, cc their
   n_panels * FASTEM_PANEL squared norms, of which the first K are real centers. Each
   lane keeps its running minimum over the panels; the lanes of a row are then compared
   pairwise in three halving steps, (value, index) ordered, without branches. A label
   is always in [0, K), whatever the values (NaN distances could otherwise leave a
   padding lane as the winner). The squared norms of the rows are summed in float64,
   in order: for float32 rows each square is exact in float64, so the sums round the
   same whether or not the compiler fuses the multiply-adds (the hand-vectorised
   float32 search below gives the same distances bit for bit). */
#define FASTEM_NEAREST(NAME, T, CLONES)                                                   \
CLONES static void NAME(const T* X, ptrdiff_t nb, ptrdiff_t d, const T* ct, const T* cc, \
                        ptrdiff_t n_panels, ptrdiff_t K, double* best, int* lab) {        \
    T bv[FASTEM_PANEL_ROWS][FASTEM_PANEL];                                                \
    int lv[FASTEM_PANEL_ROWS][FASTEM_PANEL];                                              \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_PANEL_ROWS) {                            \
        FASTEM_TILE_ROWS(T, X, b0, nb, d, x, m, FASTEM_PANEL_ROWS)                        \
        FASTEM_PREFETCH_TILE(X, b0, nb, d, FASTEM_PANEL_ROWS)                             \
        double xx[FASTEM_PANEL_ROWS] = {0};                                               \
        for (ptrdiff_t p = 0; p < n_panels; ++p) {                                        \
            T a[FASTEM_PANEL_ROWS][FASTEM_PANEL] = {{0}};                                 \
            const T* pct = ct + p * d * FASTEM_PANEL;                                     \
            if (p == 0) {   /* the first panel also sums the rows' squares, in order */  \
                FASTEM_PANEL_DOTS(T, x, d, pct, a, xx[r] += (double)u * (double)u)        \
            } else {                                                                      \
                FASTEM_PANEL_DOTS(T, x, d, pct, a, (void)0)                               \
            }                                                                             \
            const T* e0 = cc + p * FASTEM_PANEL;                                          \
            const int k0 = (int)(p * FASTEM_PANEL);                                       \
            for (int r = 0; r < FASTEM_PANEL_ROWS; ++r) {                                 \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < FASTEM_PANEL; ++l) {                                  \
                    const T e = e0[l] - 2 * a[r][l];                                      \
                    const int take = p == 0 || e < bv[r][l];                              \
                    bv[r][l] = take ? e : bv[r][l];                                       \
                    lv[r][l] = take ? k0 + l : lv[r][l];                                  \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        for (int h = FASTEM_PANEL / 2; h >= 1; h /= 2) {                                  \
            for (int r = 0; r < FASTEM_PANEL_ROWS; ++r) {                                 \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < h; ++l) {                                             \
                    const T u = bv[r][l], v = bv[r][l + h];                               \
                    const int iu = lv[r][l], iv = lv[r][l + h];                           \
                    const int take = v < u || (v == u && iv < iu);                        \
                    bv[r][l] = take ? v : u;                                              \
                    lv[r][l] = take ? iv : iu;                                            \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        for (ptrdiff_t r = 0; r < m; ++r) {                                               \
            const double dist = xx[r] + (double)bv[r][0];                                 \
            best[b0 + r] = dist < 0 ? 0.0 : dist;                                         \
            lab[b0 + r] = lv[r][0] >= 0 && lv[r][0] < K ? lv[r][0] : (int)(K - 1);        \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_NEAREST(fastem_nearest_generic_d, double, FASTEM_CLONES_AVX2)
FASTEM_NEAREST(fastem_nearest_generic_f, float, FASTEM_CLONES)

/* x86-64 with GCC: the float64 nearest-center search also has a hand-vectorised AVX2
   version, picked at run time when the CPU has AVX2 and FMA. The compilers do not keep
   the lane minima in registers nor compare the lanes without branches, which made the
   generic version twice as slow at d = 8. Same arithmetic, same results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define FASTEM_NEAREST_AVX2 1
#define FASTEM_AVX2_ROWS 4

/* The smallest of the eight lanes of (v0, v1), in every lane. */
__attribute__((target("avx2,fma"))) static inline __m256d fastem_min8(__m256d v0,
                                                                       __m256d v1) {
    __m256d t = _mm256_min_pd(v0, v1);
    t = _mm256_min_pd(t, _mm256_permute2f128_pd(t, t, 1));
    return _mm256_min_pd(t, _mm256_permute_pd(t, 5));
}

/* A row's nearest center from its lanes' minima (v0: lanes 0-3, v1: 4-7) and their
   centers' indices lv (NULL: the lanes themselves, one panel): the smallest minimum,
   the smallest center index among equal ones; best = the row's squared norm q + that
   minimum, clipped at 0, and lab in [0, K) whatever the values. */
__attribute__((target("avx2,fma")))
static inline void fastem_nearest_row_d(__m256d v0, __m256d v1, const double* lv, __m128d q,
                                        ptrdiff_t K, double* best, int* lab) {
    const __m256d mn = fastem_min8(v0, v1);
    const unsigned mask =
        (unsigned)_mm256_movemask_pd(_mm256_cmp_pd(v0, mn, _CMP_EQ_OQ)) |
        ((unsigned)_mm256_movemask_pd(_mm256_cmp_pd(v1, mn, _CMP_EQ_OQ)) << 4);
    int k = 0;
    if (mask != 0) {
        const int l = __builtin_ctz(mask);
        if (lv == NULL) {
            k = l;
        } else {
            /* equal minima in several lanes: the smallest center index wins */
            double kl = lv[l];
            for (unsigned rest = mask & (mask - 1); rest; rest &= rest - 1) {
                const double o = lv[__builtin_ctz(rest)];
                kl = o < kl ? o : kl;
            }
            k = (int)kl;
        }
    }
    const double dist = _mm_cvtsd_f64(q) + _mm256_cvtsd_f64(mn);
    *best = dist < 0 ? 0.0 : dist;
    *lab = k >= 0 && k < K ? k : (int)(K - 1);
}

/* a[r][.] += x_r[i] * panel row i over the features; NORMS runs once per (row, i) with
   u the broadcast value. */
#define FASTEM_AVX2_DOTS(NORMS)                                                           \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const __m256d c0 = _mm256_loadu_pd(c + i * FASTEM_PANEL);                         \
        const __m256d c1 = _mm256_loadu_pd(c + i * FASTEM_PANEL + 4);                     \
        _Pragma("GCC unroll 4")                                                           \
        for (int r = 0; r < FASTEM_AVX2_ROWS; ++r) {                                      \
            const __m256d u = _mm256_broadcast_sd(x[r] + i);                              \
            NORMS;                                                                        \
            a[r][0] = _mm256_fmadd_pd(u, c0, a[r][0]);                                    \
            a[r][1] = _mm256_fmadd_pd(u, c1, a[r][1]);                                    \
        }                                                                                 \
    }

__attribute__((target("avx2,fma")))
FASTEM_UNUSED static void fastem_nearest_avx2_d(const double* X, ptrdiff_t nb, ptrdiff_t d,
                                  const double* ct, const double* cc, ptrdiff_t n_panels,
                                  ptrdiff_t K, double* best, int* lab) {
    double bvs[FASTEM_AVX2_ROWS][FASTEM_PANEL], lvs[FASTEM_AVX2_ROWS][FASTEM_PANEL];
    const __m256d two = _mm256_set1_pd(2.0);
    const __m256d lane0 = _mm256_set_pd(3, 2, 1, 0), lane1 = _mm256_set_pd(7, 6, 5, 4);
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_AVX2_ROWS) {
        FASTEM_TILE_ROWS(double, X, b0, nb, d, x, m, FASTEM_AVX2_ROWS)
        FASTEM_PREFETCH_TILE(X, b0, nb, d, FASTEM_AVX2_ROWS)
        __m128d q[FASTEM_AVX2_ROWS];
        __m256d e[FASTEM_AVX2_ROWS][2];
        for (ptrdiff_t p = 0; p < n_panels; ++p) {
            const double* c = ct + p * d * FASTEM_PANEL;
            __m256d a[FASTEM_AVX2_ROWS][2];
#pragma GCC unroll 4
            for (int r = 0; r < FASTEM_AVX2_ROWS; ++r) {
                a[r][0] = _mm256_setzero_pd(); a[r][1] = _mm256_setzero_pd();
            }
            if (p == 0) {
#pragma GCC unroll 4
                for (int r = 0; r < FASTEM_AVX2_ROWS; ++r) q[r] = _mm_setzero_pd();
                /* the first panel also sums the rows' squares, in order */
                FASTEM_AVX2_DOTS(q[r] = _mm_fmadd_sd(_mm256_castpd256_pd128(u),
                                                    _mm256_castpd256_pd128(u), q[r]))
            } else {
                FASTEM_AVX2_DOTS((void)0)
            }
            /* e = cc - 2 a: 2 a is exact, so this rounds as the generic version */
            const __m256d cc0 = _mm256_loadu_pd(cc + p * FASTEM_PANEL);
            const __m256d cc1 = _mm256_loadu_pd(cc + p * FASTEM_PANEL + 4);
#pragma GCC unroll 4
            for (int r = 0; r < FASTEM_AVX2_ROWS; ++r) {
                e[r][0] = _mm256_fnmadd_pd(two, a[r][0], cc0);
                e[r][1] = _mm256_fnmadd_pd(two, a[r][1], cc1);
            }
            if (n_panels == 1) break;
            const __m256d k0 = _mm256_set1_pd((double)(p * FASTEM_PANEL));
            const __m256d i0 = _mm256_add_pd(lane0, k0), i1 = _mm256_add_pd(lane1, k0);
#pragma GCC unroll 4
            for (int r = 0; r < FASTEM_AVX2_ROWS; ++r) {
                if (p == 0) {
                    _mm256_storeu_pd(bvs[r], e[r][0]); _mm256_storeu_pd(bvs[r] + 4, e[r][1]);
                    _mm256_storeu_pd(lvs[r], i0); _mm256_storeu_pd(lvs[r] + 4, i1);
                    continue;
                }
                const __m256d v0 = _mm256_loadu_pd(bvs[r]), v1 = _mm256_loadu_pd(bvs[r] + 4);
                const __m256d t0 = _mm256_cmp_pd(e[r][0], v0, _CMP_LT_OQ);
                const __m256d t1 = _mm256_cmp_pd(e[r][1], v1, _CMP_LT_OQ);
                _mm256_storeu_pd(bvs[r], _mm256_blendv_pd(v0, e[r][0], t0));
                _mm256_storeu_pd(bvs[r] + 4, _mm256_blendv_pd(v1, e[r][1], t1));
                _mm256_storeu_pd(lvs[r], _mm256_blendv_pd(_mm256_loadu_pd(lvs[r]), i0, t0));
                _mm256_storeu_pd(lvs[r] + 4,
                                 _mm256_blendv_pd(_mm256_loadu_pd(lvs[r] + 4), i1, t1));
            }
        }
        for (ptrdiff_t r = 0; r < m; ++r)
            fastem_nearest_row_d(n_panels == 1 ? e[r][0] : _mm256_loadu_pd(bvs[r]),
                                 n_panels == 1 ? e[r][1] : _mm256_loadu_pd(bvs[r] + 4),
                                 n_panels == 1 ? NULL : lvs[r], q[r], K, best + b0 + r,
                                 lab + b0 + r);
    }
}

/* The float32 nearest-center search, hand-vectorised for AVX2+FMA: eight floats to a
   register, so a panel of centers is one register. It computes what the generic float32
   search computes, operation for operation (the dot products by fused multiply-adds
   over the features in order, as GCC contracts them in its AVX2 and AVX-512 clones;
   the lane minima and the halving comparisons in the same order, so that ties and
   NaNs pick the same center), and gives the same labels and distances bit for bit.
   Two ways to hold the work in registers:
   - one panel (K <= 8): rows in lanes. Eight rows at a time are transposed (8 x 8
     floats per step) so that a register holds one feature of eight rows; each center
     keeps one accumulator, and the halving steps compare whole registers, eight rows
     at once (with centers in lanes, the comparisons of each row's lanes cost more than
     its dot products at d = 8);
   - more panels: centers in lanes, tiles of FASTEM_AVX2F_ROWS rows by two panels
     (twelve accumulators, two panel loads and six broadcasts per feature), the running
     minima of the lanes kept per row, the lanes compared at the end of the row's
     panels. */
#define FASTEM_AVX2F_ROWS 6

/* cols[i][r] = x[r][i0 + i] for i < t (t <= 8 features of eight rows); masked loads
   read nothing beyond the t features. */
__attribute__((target("avx2,fma"))) static inline void fastem_columns8_f(
        const float* const x[8], ptrdiff_t i0, ptrdiff_t t, float cols[8][8]) {
    __m256 r[8];
    if (t == 8) {
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(x[k] + i0);
    } else {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)t), lane);
        for (int k = 0; k < 8; ++k) r[k] = _mm256_maskload_ps(x[k] + i0, mask);
    }
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(cols[0], _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(cols[1], _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(cols[2], _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(cols[3], _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(cols[4], _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(cols[5], _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(cols[6], _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(cols[7], _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* One halving comparison of the generic search, lane by lane: (u, iu) is replaced by
   (v, iv) when v < u, or v == u and iv < iu; NaN never replaces nor is replaced. The
   value kept is min(v, u) (v < u ? v : u): when v == u only the sign of a zero can
   differ, which no later comparison sees and xx + v does not show (xx is +0 or more). */
__attribute__((target("avx2,fma"))) static inline void fastem_take_f(
        __m256* u, __m256* iu, __m256 v, __m256 iv) {
    const __m256 lt = _mm256_cmp_ps(v, *u, _CMP_LT_OQ), le = _mm256_cmp_ps(v, *u, _CMP_LE_OQ);
    const __m256 lower = _mm256_castsi256_ps(
        _mm256_min_epi32(_mm256_castps_si256(*iu), _mm256_castps_si256(iv)));
    *iu = _mm256_blendv_ps(*iu, _mm256_blendv_ps(lower, iv, lt), le);
    *u = _mm256_min_ps(v, *u);
}

/* The first halving step for constant indices l and l + 4 (l < 4): ties keep l. */
__attribute__((target("avx2,fma"))) static inline void fastem_take_first_f(
        __m256* u, __m256* iu, __m256 v, int l) {
    const __m256 lt = _mm256_cmp_ps(v, *u, _CMP_LT_OQ);
    *iu = _mm256_or_ps(_mm256_and_ps(lt, _mm256_castsi256_ps(_mm256_set1_epi32(4))),
                       _mm256_castsi256_ps(_mm256_set1_epi32(l)));
    *u = _mm256_min_ps(v, *u);
}

/* For eight rows: best = xx + v clipped at 0 (NaN kept, as the generic search's
   `dist < 0 ? 0 : dist`) and lab = min(iv, K - 1); the first m are stored. */
__attribute__((target("avx2,fma"))) static inline void fastem_store8_f(
        __m256d xx_lo, __m256d xx_hi, __m256 v, __m256 iv, ptrdiff_t K, ptrdiff_t m,
        double* best, int* lab) {
    const __m256d zero = _mm256_setzero_pd();
    __m256d lo = _mm256_add_pd(xx_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    __m256d hi = _mm256_add_pd(xx_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    lo = _mm256_andnot_pd(_mm256_cmp_pd(lo, zero, _CMP_LT_OQ), lo);
    hi = _mm256_andnot_pd(_mm256_cmp_pd(hi, zero, _CMP_LT_OQ), hi);
    const __m256i k = _mm256_min_epi32(_mm256_castps_si256(iv), _mm256_set1_epi32((int)(K - 1)));
    if (m == 8) {
        _mm256_storeu_pd(best, lo);
        _mm256_storeu_pd(best + 4, hi);
        _mm256_storeu_si256((__m256i*)lab, k);
        return;
    }
    double tb[8];
    int tl[8];
    _mm256_storeu_pd(tb, lo);
    _mm256_storeu_pd(tb + 4, hi);
    _mm256_storeu_si256((__m256i*)tl, k);
    for (ptrdiff_t r = 0; r < m; ++r) { best[r] = tb[r]; lab[r] = tl[r]; }
}

/* Feature i of eight rows (u, in lanes) into their squared norms (summed in float64:
   the squares are exact, so this rounds as a multiply and an add) and their dot
   products with the panel row c. */
__attribute__((target("avx2,fma"))) static inline void fastem_one_feature_f(
        const float* u8, const float* c, __m256d* xx_lo, __m256d* xx_hi, __m256 a[8]) {
    const __m256 u = _mm256_loadu_ps(u8);
    const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(u8)), hi = _mm256_cvtps_pd(_mm_loadu_ps(u8 + 4));
    *xx_lo = _mm256_fmadd_pd(lo, lo, *xx_lo);
    *xx_hi = _mm256_fmadd_pd(hi, hi, *xx_hi);
#pragma GCC unroll 8
    for (int k = 0; k < 8; ++k) a[k] = _mm256_fmadd_ps(u, _mm256_broadcast_ss(c + k), a[k]);
}

/* Rows in lanes, for a single panel (ct: d x 8, cc: 8). */
__attribute__((target("avx2,fma")))
static void fastem_nearest_avx2_one_f(const float* X, ptrdiff_t nb, ptrdiff_t d,
                                      const float* ct, const float* cc, ptrdiff_t K,
                                      double* best, int* lab) {
    const __m256 two = _mm256_set1_ps(2.0f);
    float cols[8][8];
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += 8) {
        FASTEM_TILE_ROWS(float, X, b0, nb, d, x, m, 8)
        FASTEM_PREFETCH_TILE(X, b0, nb, d, 8)
        __m256 a[8];
        for (int k = 0; k < 8; ++k) a[k] = _mm256_setzero_ps();
        __m256d xx_lo = _mm256_setzero_pd(), xx_hi = _mm256_setzero_pd();
        for (ptrdiff_t i0 = 0; i0 < d; i0 += 8) {
            const ptrdiff_t t = d - i0 < 8 ? d - i0 : 8;
            fastem_columns8_f(x, i0, t, cols);
            const float* c = ct + i0 * FASTEM_PANEL;
            if (t == 8) {   /* unrolled: measured 2-10% faster at d = 8 to 50 */
#pragma GCC unroll 8
                for (int i = 0; i < 8; ++i)
                    fastem_one_feature_f(cols[i], c + i * FASTEM_PANEL, &xx_lo, &xx_hi, a);
            } else {
                for (ptrdiff_t i = 0; i < t; ++i)
                    fastem_one_feature_f(cols[i], c + i * FASTEM_PANEL, &xx_lo, &xx_hi, a);
            }
        }
        __m256 e[8], ie[4];
#pragma GCC unroll 8
        for (int k = 0; k < 8; ++k) e[k] = _mm256_fnmadd_ps(two, a[k], _mm256_broadcast_ss(cc + k));
        for (int l = 0; l < 4; ++l) fastem_take_first_f(&e[l], &ie[l], e[l + 4], l);
        for (int h = 2; h >= 1; h /= 2)
            for (int l = 0; l < h; ++l) fastem_take_f(&e[l], &ie[l], e[l + h], ie[l + h]);
        fastem_store8_f(xx_lo, xx_hi, e[0], ie[0], K, m, best + b0, lab + b0);
    }
}

/* The squared norms of the nb rows of X, summed in float64 in order (xx: nb rounded up
   to 8). */
__attribute__((target("avx2,fma")))
static void fastem_row_norms_avx2_f(const float* X, ptrdiff_t nb, ptrdiff_t d, double* xx) {
    float cols[8][8];
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += 8) {
        FASTEM_TILE_ROWS(float, X, b0, nb, d, x, m, 8)
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
        for (ptrdiff_t i0 = 0; i0 < d; i0 += 8) {
            const ptrdiff_t t = d - i0 < 8 ? d - i0 : 8;
            fastem_columns8_f(x, i0, t, cols);
            for (ptrdiff_t i = 0; i < t; ++i) {
                const __m256 u = _mm256_loadu_ps(cols[i]);
                const __m256d ulo = _mm256_cvtps_pd(_mm256_castps256_ps128(u));
                const __m256d uhi = _mm256_cvtps_pd(_mm256_extractf128_ps(u, 1));
                lo = _mm256_fmadd_pd(ulo, ulo, lo);
                hi = _mm256_fmadd_pd(uhi, uhi, hi);
            }
        }
        _mm256_storeu_pd(xx + b0, lo);
        _mm256_storeu_pd(xx + b0 + 4, hi);
    }
}

/* acc[r][q] += x_r[i] * panel q's row i over the features, for NP = 1 or 2 panels. */
#define FASTEM_AVX2F_DOTS(NP)                                                             \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        __m256 c[NP];                                                                     \
        for (int q = 0; q < NP; ++q) c[q] = _mm256_loadu_ps(pc + q * d * FASTEM_PANEL + i * FASTEM_PANEL); \
        _Pragma("GCC unroll 6")                                                           \
        for (int r = 0; r < FASTEM_AVX2F_ROWS; ++r) {                                     \
            const __m256 u = _mm256_broadcast_ss(x[r] + i);                               \
            for (int q = 0; q < NP; ++q) a[r][q] = _mm256_fmadd_ps(u, c[q], a[r][q]);     \
        }                                                                                 \
    }

/* e = cc - 2 a for the NP panels from p, folded into the rows' running lane minima
   (the first panel sets them). */
#define FASTEM_AVX2F_FOLD(NP)                                                             \
    for (int q = 0; q < NP; ++q) {                                                        \
        const __m256 cq = _mm256_loadu_ps(cc + (p + q) * FASTEM_PANEL);                   \
        const __m256 iq = _mm256_castsi256_ps(_mm256_add_epi32(                          \
            lane, _mm256_set1_epi32((int)((p + q) * FASTEM_PANEL))));                    \
        _Pragma("GCC unroll 6")                                                           \
        for (int r = 0; r < FASTEM_AVX2F_ROWS; ++r) {                                     \
            const __m256 e = _mm256_fnmadd_ps(two, a[r][q], cq);                          \
            if (p + q == 0) {                                                             \
                bv[r] = e; lv[r] = iq;                                                    \
            } else {   /* e < bv ? e : bv is min(e, bv), as the generic search */       \
                const __m256 t = _mm256_cmp_ps(e, bv[r], _CMP_LT_OQ);                     \
                bv[r] = _mm256_min_ps(e, bv[r]);                                          \
                lv[r] = _mm256_blendv_ps(lv[r], iq, t);                                   \
            }                                                                             \
        }                                                                                 \
    }

__attribute__((target("avx2,fma")))
static void fastem_nearest_avx2_many_f(const float* X, ptrdiff_t nb, ptrdiff_t d,
                                       const float* ct, const float* cc,
                                       ptrdiff_t n_panels, ptrdiff_t K, double* best,
                                       int* lab) {
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    double xx[FASTEM_BLOCK + 8];
    fastem_row_norms_avx2_f(X, nb, d, xx);
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_AVX2F_ROWS) {
        FASTEM_TILE_ROWS(float, X, b0, nb, d, x, m, FASTEM_AVX2F_ROWS)
        FASTEM_PREFETCH_TILE(X, b0, nb, d, FASTEM_AVX2F_ROWS)
        __m256 bv[FASTEM_AVX2F_ROWS], lv[FASTEM_AVX2F_ROWS];
        ptrdiff_t p = 0;
        for (; p + 2 <= n_panels; p += 2) {
            const float* pc = ct + p * d * FASTEM_PANEL;
            __m256 a[FASTEM_AVX2F_ROWS][2];
            for (int r = 0; r < FASTEM_AVX2F_ROWS; ++r)
                a[r][0] = a[r][1] = _mm256_setzero_ps();
            FASTEM_AVX2F_DOTS(2)
            FASTEM_AVX2F_FOLD(2)
        }
        if (p < n_panels) {
            const float* pc = ct + p * d * FASTEM_PANEL;
            __m256 a[FASTEM_AVX2F_ROWS][1];
            for (int r = 0; r < FASTEM_AVX2F_ROWS; ++r) a[r][0] = _mm256_setzero_ps();
            FASTEM_AVX2F_DOTS(1)
            FASTEM_AVX2F_FOLD(1)
        }
        for (ptrdiff_t r = 0; r < m; ++r) {
            /* the halving steps of the generic search: lanes l < h against l + h */
            __m256 u = bv[r], iu = lv[r];
            fastem_take_f(&u, &iu, _mm256_permute2f128_ps(u, u, 1),
                          _mm256_permute2f128_ps(iu, iu, 1));
            fastem_take_f(&u, &iu, _mm256_permute_ps(u, 0xEE), _mm256_permute_ps(iu, 0xEE));
            fastem_take_f(&u, &iu, _mm256_permute_ps(u, 0x55), _mm256_permute_ps(iu, 0x55));
            const double dist = xx[b0 + r] + (double)_mm256_cvtss_f32(u);
            best[b0 + r] = dist < 0 ? 0.0 : dist;
            const int k = _mm_cvtsi128_si32(_mm256_castsi256_si128(_mm256_castps_si256(iu)));
            lab[b0 + r] = k >= 0 && k < K ? k : (int)(K - 1);
        }
    }
}

__attribute__((target("avx2,fma")))
FASTEM_UNUSED static void fastem_nearest_avx2_f(const float* X, ptrdiff_t nb, ptrdiff_t d,
                                                const float* ct, const float* cc,
                                                ptrdiff_t n_panels, ptrdiff_t K,
                                                double* best, int* lab) {
    if (n_panels == 1)
        fastem_nearest_avx2_one_f(X, nb, d, ct, cc, K, best, lab);
    else
        fastem_nearest_avx2_many_f(X, nb, d, ct, cc, n_panels, K, best, lab);
}

#endif

#ifdef FASTEM_NEAREST_AVX2
/* The float64 nearest-center search with AVX-512: a panel of centers in one register,
   eight rows, the lanes' running minima and their centers kept in registers across the
   panels. The arithmetic and the comparisons are fastem_nearest_avx2_d's, lane for lane
   (the same dot products, minima and ties), so the same labels and distances. */
#define FASTEM_AVX512D_ROWS 8
__attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
FASTEM_UNUSED static void fastem_nearest_avx512_d(const double* X, ptrdiff_t nb,
                                                  ptrdiff_t d, const double* ct,
                                                  const double* cc, ptrdiff_t n_panels,
                                                  ptrdiff_t K, double* best, int* lab) {
    const __m512d two = _mm512_set1_pd(2.0);
    const __m512d lanes = _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0);
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_AVX512D_ROWS) {
        FASTEM_TILE_ROWS(double, X, b0, nb, d, x, m, FASTEM_AVX512D_ROWS)
        FASTEM_PREFETCH_TILE(X, b0, nb, d, FASTEM_AVX512D_ROWS)
        __m128d q[FASTEM_AVX512D_ROWS];
        __m512d bv[FASTEM_AVX512D_ROWS], bi[FASTEM_AVX512D_ROWS];
        for (ptrdiff_t p = 0; p < n_panels; ++p) {
            const double* c = ct + p * d * FASTEM_PANEL;
            __m512d a[FASTEM_AVX512D_ROWS];
#pragma GCC unroll 8
            for (int r = 0; r < FASTEM_AVX512D_ROWS; ++r) a[r] = _mm512_setzero_pd();
            if (p == 0) {
#pragma GCC unroll 8
                for (int r = 0; r < FASTEM_AVX512D_ROWS; ++r) q[r] = _mm_setzero_pd();
                /* the first panel also sums the rows' squares, in order */
                for (ptrdiff_t i = 0; i < d; ++i) {
                    const __m512d cv = _mm512_loadu_pd(c + i * FASTEM_PANEL);
#pragma GCC unroll 8
                    for (int r = 0; r < FASTEM_AVX512D_ROWS; ++r) {
                        const __m512d u = _mm512_set1_pd(x[r][i]);
                        q[r] = _mm_fmadd_sd(_mm512_castpd512_pd128(u),
                                            _mm512_castpd512_pd128(u), q[r]);
                        a[r] = _mm512_fmadd_pd(u, cv, a[r]);
                    }
                }
            } else {
                for (ptrdiff_t i = 0; i < d; ++i) {
                    const __m512d cv = _mm512_loadu_pd(c + i * FASTEM_PANEL);
#pragma GCC unroll 8
                    for (int r = 0; r < FASTEM_AVX512D_ROWS; ++r)
                        a[r] = _mm512_fmadd_pd(_mm512_set1_pd(x[r][i]), cv, a[r]);
                }
            }
            /* e = cc - 2 a: 2 a is exact, so this rounds as the generic version */
            const __m512d ccv = _mm512_loadu_pd(cc + p * FASTEM_PANEL);
            const __m512d idx = _mm512_add_pd(lanes, _mm512_set1_pd((double)(p * FASTEM_PANEL)));
#pragma GCC unroll 8
            for (int r = 0; r < FASTEM_AVX512D_ROWS; ++r) {
                const __m512d e = _mm512_fnmadd_pd(two, a[r], ccv);
                if (p == 0) {
                    bv[r] = e;
                    bi[r] = idx;
                } else {
                    const __mmask8 t = _mm512_cmp_pd_mask(e, bv[r], _CMP_LT_OQ);
                    bv[r] = _mm512_mask_blend_pd(t, bv[r], e);
                    bi[r] = _mm512_mask_blend_pd(t, bi[r], idx);
                }
            }
        }
        for (ptrdiff_t r = 0; r < m; ++r) {
            double lv[FASTEM_PANEL];
            _mm512_storeu_pd(lv, bi[r]);
            fastem_nearest_row_d(_mm512_castpd512_pd256(bv[r]),
                                 _mm512_extractf64x4_pd(bv[r], 1), lv, q[r], K,
                                 best + b0 + r, lab + b0 + r);
        }
    }
}
#endif

/* hand_vectorised = 0 forces the generic version (for the tests). */
FASTEM_UNUSED static void fastem_nearest_d(const double* X, ptrdiff_t nb, ptrdiff_t d, const double* ct,
                             const double* cc, ptrdiff_t n_panels, ptrdiff_t K, double* best,
                             int* lab, int hand_vectorised) {
#ifdef FASTEM_NEAREST_AVX2
    if (hand_vectorised >= 2 && n_panels > 1 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fastem_nearest_avx512_d(X, nb, d, ct, cc, n_panels, K, best, lab);
        return;
    }
    if (hand_vectorised && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fastem_nearest_avx2_d(X, nb, d, ct, cc, n_panels, K, best, lab);
        return;
    }
#endif
    (void)hand_vectorised;
    fastem_nearest_generic_d(X, nb, d, ct, cc, n_panels, K, best, lab);
}

FASTEM_UNUSED static void fastem_nearest_f(const float* X, ptrdiff_t nb, ptrdiff_t d, const float* ct,
                             const float* cc, ptrdiff_t n_panels, ptrdiff_t K, double* best,
                             int* lab, int hand_vectorised) {
#ifdef FASTEM_NEAREST_AVX2
    if (hand_vectorised && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fastem_nearest_avx2_f(X, nb, d, ct, cc, n_panels, K, best, lab);
        return;
    }
#endif
    (void)hand_vectorised;
    fastem_nearest_generic_f(X, nb, d, ct, cc, n_panels, K, best, lab);
}

/* Run-time dispatch to the hand-vectorised kernels: FASTEM_AVX2_CALL(call) makes the
   call and returns (nothing where they are not compiled). */
#ifdef FASTEM_NEAREST_AVX2
#define FASTEM_HAS_AVX2() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#define FASTEM_HAS_AVX512()                                                               \
    (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&          \
     __builtin_cpu_supports("avx512vl") && FASTEM_HAS_AVX2())
#define FASTEM_AVX2_CALL(call) do { call; return; } while (0)
/* a call that returns whether it did the work */
#define FASTEM_ROWS_CALL(call) do { if (call) return; } while (0)
#else
#define FASTEM_HAS_AVX2() 0
#define FASTEM_HAS_AVX512() 0
#define FASTEM_AVX2_CALL(call) do { } while (0)
#define FASTEM_ROWS_CALL(call) do { } while (0)
#endif

#ifdef FASTEM_NEAREST_AVX2
/* The transposition of a block by 8 x 8 (float32) or 4 x 4 (float64) tiles in
   registers: the generic loop gathers each feature's eight values (measured 5.5% of a
   float32 E+M pass at d = 8). Features beyond the last whole tile, and the last rows,
   as the generic loop; rows narrower than a tile go to the generic loop. TILE writes
   the tile of rows x (row stride d) to o (row stride FASTEM_BLOCK). */
__attribute__((target("avx2,fma"))) static inline void fastem_transpose_tile_f(
    const float* x, ptrdiff_t d, float* o) {
    __m256 r[8], t[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(x + l * d);
    for (int l = 0; l < 8; l += 2) {
        t[l] = _mm256_unpacklo_ps(r[l], r[l + 1]);
        t[l + 1] = _mm256_unpackhi_ps(r[l], r[l + 1]);
    }
    for (int l = 0; l < 8; l += 4) {
        /* features c and c + 4 of rows l .. l + 3, in the low and high halves */
        r[l] = _mm256_shuffle_ps(t[l], t[l + 2], 0x44);
        r[l + 1] = _mm256_shuffle_ps(t[l], t[l + 2], 0xEE);
        r[l + 2] = _mm256_shuffle_ps(t[l + 1], t[l + 3], 0x44);
        r[l + 3] = _mm256_shuffle_ps(t[l + 1], t[l + 3], 0xEE);
    }
    for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(o + c * FASTEM_BLOCK, _mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
        _mm256_storeu_ps(o + (c + 4) * FASTEM_BLOCK,
                         _mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
    }
}
__attribute__((target("avx2,fma"))) static inline void fastem_transpose_tile_d(
    const double* x, ptrdiff_t d, double* o) {
    const __m256d r0 = _mm256_loadu_pd(x), r1 = _mm256_loadu_pd(x + d),
                  r2 = _mm256_loadu_pd(x + 2 * d), r3 = _mm256_loadu_pd(x + 3 * d);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
                  t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(o, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(o + FASTEM_BLOCK, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(o + 2 * FASTEM_BLOCK, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(o + 3 * FASTEM_BLOCK, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#define FASTEM_TRANSPOSE_AVX2(T, S, R)                                                    \
__attribute__((target("avx2,fma"))) static void fastem_transpose_avx2_##S(                \
    const T* X, ptrdiff_t nb, ptrdiff_t d, T* xt) {                                       \
    const ptrdiff_t full = nb & ~(ptrdiff_t)((R) - 1), dt = d & ~(ptrdiff_t)((R) - 1);    \
    const ptrdiff_t padded = (nb + FASTEM_PAD_ROWS - 1) & ~(ptrdiff_t)(FASTEM_PAD_ROWS - 1); \
    for (ptrdiff_t b0 = 0; b0 < full; b0 += (R)) {                                        \
        const T* x = X + b0 * d;                                                          \
        for (ptrdiff_t i0 = 0; i0 < dt; i0 += (R))                                        \
            fastem_transpose_tile_##S(x + i0, d, xt + i0 * FASTEM_BLOCK + b0);            \
        for (ptrdiff_t i = dt; i < d; ++i)                                                \
            for (int l = 0; l < (R); ++l) xt[i * FASTEM_BLOCK + b0 + l] = x[l * d + i];   \
    }                                                                                     \
    for (ptrdiff_t i = 0; i < d; ++i)                                                     \
        for (ptrdiff_t b = full; b < padded; ++b)                                         \
            xt[i * FASTEM_BLOCK + b] = b < nb ? X[b * d + i] : (T)0;                      \
}
FASTEM_TRANSPOSE_AVX2(float, f, 8)
FASTEM_TRANSPOSE_AVX2(double, d, 4)

/* Two features: two vectors of rows split into the features' vectors (the generic loop
   took 6% of a float64 E+M pass at d = 2). */
__attribute__((target("avx2,fma"))) static inline void fastem_transpose2_tile_d(
    const double* x, double* o) {
    const __m256d a = _mm256_loadu_pd(x), b = _mm256_loadu_pd(x + 4);
    _mm256_storeu_pd(o, _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8));
    _mm256_storeu_pd(o + FASTEM_BLOCK, _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8));
}
__attribute__((target("avx2,fma"))) static inline void fastem_transpose2_tile_f(
    const float* x, float* o) {
    const __m256 a = _mm256_loadu_ps(x), b = _mm256_loadu_ps(x + 8);
    _mm256_storeu_ps(o, _mm256_castpd_ps(_mm256_permute4x64_pd(
                            _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8)));
    _mm256_storeu_ps(o + FASTEM_BLOCK, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                           _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8)));
}
#define FASTEM_TRANSPOSE2_AVX2(T, S, R)                                                   \
__attribute__((target("avx2,fma"))) static void fastem_transpose2_avx2_##S(               \
    const T* X, ptrdiff_t nb, T* xt) {                                                    \
    const ptrdiff_t full = nb & ~(ptrdiff_t)((R) - 1);                                    \
    const ptrdiff_t padded = (nb + FASTEM_PAD_ROWS - 1) & ~(ptrdiff_t)(FASTEM_PAD_ROWS - 1); \
    for (ptrdiff_t b0 = 0; b0 < full; b0 += (R))                                          \
        fastem_transpose2_tile_##S(X + 2 * b0, xt + b0);                                  \
    for (ptrdiff_t i = 0; i < 2; ++i)                                                     \
        for (ptrdiff_t b = full; b < padded; ++b)                                         \
            xt[i * FASTEM_BLOCK + b] = b < nb ? X[b * 2 + i] : (T)0;                      \
}
FASTEM_TRANSPOSE2_AVX2(float, f, 8)
FASTEM_TRANSPOSE2_AVX2(double, d, 4)
#endif
/* hand_vectorised = 0 forces the generic version (for the tests). */
#define FASTEM_TRANSPOSE_PICK(T, S)                                                       \
FASTEM_UNUSED static void fastem_transpose_##S(const T* X, ptrdiff_t nb, ptrdiff_t d,     \
                                               T* xt, int hand_vectorised) {              \
    if (hand_vectorised && d == 2 && FASTEM_HAS_AVX2())                                   \
        FASTEM_AVX2_CALL(fastem_transpose2_avx2_##S(X, nb, xt));                          \
    if (hand_vectorised && d * (ptrdiff_t)sizeof(T) >= 32 && FASTEM_HAS_AVX2())           \
        FASTEM_AVX2_CALL(fastem_transpose_avx2_##S(X, nb, d, xt));                        \
    fastem_transpose_generic_##S(X, nb, d, xt);                                           \
}
FASTEM_TRANSPOSE_PICK(double, d)
FASTEM_TRANSPOSE_PICK(float, f)

#ifdef FASTEM_NEAREST_AVX2
/* The diagonal quadratic form with sixteen rows' sums in registers across the features
   (the generic loop adds each feature into quad in memory: a load and a store per row
   and feature); the same sums in the same order. The last rows (fewer than sixteen) go
   to the generic loop. SQUARES adds feature i's squared terms of the sixteen rows. */
__attribute__((target("avx2,fma"))) static inline void fastem_diag_squares_d(
    const double* x, double m, double c, __m256d* q) {
    const __m256d mv = _mm256_set1_pd(m), cv = _mm256_set1_pd(c);
    for (int v = 0; v < 4; ++v) {
        const __m256d t = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x + 4 * v), mv), cv);
        q[v] = _mm256_fmadd_pd(t, t, q[v]);
    }
}
__attribute__((target("avx2,fma"))) static inline void fastem_diag_squares_f(
    const float* x, float m, float c, __m256d* q) {
    const __m256 mv = _mm256_set1_ps(m), cv = _mm256_set1_ps(c);
    for (int v = 0; v < 2; ++v) {
        const __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * v), mv), cv);
        const __m256 tt = _mm256_mul_ps(t, t);
        q[2 * v] = _mm256_add_pd(q[2 * v], _mm256_cvtps_pd(_mm256_castps256_ps128(tt)));
        q[2 * v + 1] = _mm256_add_pd(q[2 * v + 1], _mm256_cvtps_pd(_mm256_extractf128_ps(tt, 1)));
    }
}
#define FASTEM_QUAD_DIAG_AVX2(T, S)                                                       \
__attribute__((target("avx2,fma"))) static void fastem_quad_diag_avx2_##S(                \
    const T* xt, ptrdiff_t nb, ptrdiff_t d, const T* mu, const T* p, ptrdiff_t ps,        \
    double* quad) {                                                                       \
    const ptrdiff_t full = nb & ~(ptrdiff_t)15;                                           \
    for (ptrdiff_t b0 = 0; b0 < full; b0 += 16) {                                         \
        __m256d q[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(),   \
                        _mm256_setzero_pd()};                                             \
        for (ptrdiff_t i = 0; i < d; ++i)                                                 \
            fastem_diag_squares_##S(xt + i * FASTEM_BLOCK + b0, mu != NULL ? mu[i] : (T)0, \
                                    p[i * ps], q);                                        \
        for (int v = 0; v < 4; ++v) _mm256_storeu_pd(quad + b0 + 4 * v, q[v]);            \
    }                                                                                     \
    if (full < nb)                                                                        \
        fastem_quad_diag_generic_##S(xt + full, nb - full, d, mu, p, ps, quad + full);    \
}
FASTEM_QUAD_DIAG_AVX2(double, d)
FASTEM_QUAD_DIAG_AVX2(float, f)
#endif
/* hand_vectorised = 0 forces the generic version (for the tests). */
#define FASTEM_QUAD_DIAG_PICK(T, S)                                                       \
FASTEM_UNUSED static void fastem_quad_diag_##S(const T* xt, ptrdiff_t nb, ptrdiff_t d,    \
                                               const T* mu, const T* p, ptrdiff_t ps,     \
                                               double* quad, int hand_vectorised) {       \
    if (hand_vectorised && FASTEM_HAS_AVX2())                                             \
        FASTEM_AVX2_CALL(fastem_quad_diag_avx2_##S(xt, nb, d, mu, p, ps, quad));          \
    fastem_quad_diag_generic_##S(xt, nb, d, mu, p, ps, quad);                             \
}
FASTEM_QUAD_DIAG_PICK(double, d)
FASTEM_QUAD_DIAG_PICK(float, f)

/* x86-64 with GCC: the full-covariance quadratic form and moments also have
   hand-vectorised AVX2+FMA versions, picked at run time as the nearest-center search
   is. Same tiles as the generic loops, but the compilers spill the generic ones'
   counters and column indices to the stack and sum the moments' lanes one by one
   (measured per row and component at d = 16, one core, hot caches: the float32
   quadratic form 17 -> 11 cycles, the moments 25 -> 19). The arithmetic differs from the generic versions only
   in the order of the lane sums, so results agree to rounding, not bitwise. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTEM_GAUSSIAN_AVX2 1

/* quad as fastem_quad_generic*: NV vectors of rows by four columns of P, on the vectors
   of the intrinsics' prefix PX (_mm256_ or _mm512_). Every vector is loaded whole: the
   rows of a tile (NV vectors, a divisor of FASTEM_BLOCK) lie inside the block's rows,
   and lanes past nb, whatever they hold, only reach lanes that are not stored (masked
   loads cost the AVX-512 version 20%: GCC reloaded their masks from the stack for every
   row). A whole
   diagonal 4 x 4 block of P skips its zeros (the same sums: they add exact zeros times
   finite values), the rows above it run whole. */
#define FASTEM_QUAD_SIMD(NAME, T, V, VL, SFX, TARGET, PX, NV)                             \
TARGET static void NAME(const T* yt, ptrdiff_t nb, ptrdiff_t d, const T* P, const T* cs,  \
                        double* quad) {                                                   \
    enum { TC = 4, RW = NV * VL };                                                        \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += RW) {                                           \
        V q[2][NV];                                                                       \
        for (int v = 0; v < NV; ++v) q[0][v] = q[1][v] = PX##setzero_##SFX();             \
        for (ptrdiff_t j0 = 0; j0 < d; j0 += TC) {                                        \
            ptrdiff_t jj[TC];                                                             \
            for (int t = 0; t < TC; ++t) jj[t] = j0 + t < d ? j0 + t : d - 1;             \
            const ptrdiff_t iend = j0 + TC < d ? j0 + TC : d;                             \
            V a[TC][NV];                                                                  \
            for (int t = 0; t < TC; ++t)                                                  \
                for (int v = 0; v < NV; ++v) a[t][v] = PX##setzero_##SFX();               \
            const T* y = yt + b0;                                                         \
            const T* row = P;                                                             \
            const ptrdiff_t ifull = j0 + TC <= d ? j0 : iend;                             \
            for (ptrdiff_t i = 0; i < ifull; ++i, y += FASTEM_BLOCK, row += d) {          \
                V x[NV];                                                                  \
                _Pragma("GCC unroll 4")                                                   \
                for (int v = 0; v < NV; ++v) x[v] = PX##loadu_##SFX(y + v * VL);          \
                _Pragma("GCC unroll 4")                                                   \
                for (int t = 0; t < TC; ++t) {                                            \
                    const V u = PX##set1_##SFX(row[jj[t]]);                               \
                    _Pragma("GCC unroll 4")                                               \
                    for (int v = 0; v < NV; ++v) a[t][v] = PX##fmadd_##SFX(u, x[v], a[t][v]); \
                }                                                                         \
            }                                                                             \
            if (ifull < iend) {                                                           \
                _Pragma("GCC unroll 4")                                                   \
                for (int r = 0; r < TC; ++r) {                                            \
                    V x[NV];                                                              \
                    _Pragma("GCC unroll 4")                                               \
                    for (int v = 0; v < NV; ++v)                                          \
                        x[v] = PX##loadu_##SFX(y + r * FASTEM_BLOCK + v * VL);            \
                    _Pragma("GCC unroll 4")                                               \
                    for (int t = r; t < TC; ++t) {                                        \
                        const V u = PX##set1_##SFX(row[r * d + j0 + t]);                  \
                        _Pragma("GCC unroll 4")                                           \
                        for (int v = 0; v < NV; ++v) a[t][v] = PX##fmadd_##SFX(u, x[v], a[t][v]); \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            _Pragma("GCC unroll 4")                                                       \
            for (int t = 0; t < TC; ++t) {                                                \
                if (j0 + t >= d) break;                                                   \
                const V c = PX##set1_##SFX(cs != NULL ? cs[j0 + t] : (T)0);               \
                _Pragma("GCC unroll 4")                                                   \
                for (int v = 0; v < NV; ++v) {                                            \
                    const V e = PX##sub_##SFX(a[t][v], c);                                \
                    q[t & 1][v] = PX##fmadd_##SFX(e, e, q[t & 1][v]);                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        T out[RW];                                                                        \
        for (int v = 0; v < NV; ++v)                                                      \
            PX##storeu_##SFX(out + v * VL, PX##add_##SFX(q[0][v], q[1][v]));              \
        /* float64: a whole tile by a loop of constant length (a variable one became     \
           a `rep movsq`: measured 40% of the kernel at d = 2) */                          \
        const ptrdiff_t m = nb - b0 < RW ? nb - b0 : RW;                                  \
        if (sizeof(T) == sizeof(double) && m == RW) {                                     \
            for (int l = 0; l < RW; ++l) quad[b0 + l] = (double)out[l];                   \
        } else {                                                                          \
            for (ptrdiff_t l = 0; l < m; ++l) quad[b0 + l] = (double)out[l];              \
        }                                                                                 \
    }                                                                                     \
}
#define FASTEM_AVX2_TARGET __attribute__((target("avx2,fma")))
FASTEM_QUAD_SIMD(fastem_quad_avx2_d, double, __m256d, 4, pd, FASTEM_AVX2_TARGET, _mm256_, 2)
FASTEM_QUAD_SIMD(fastem_quad_avx2_f, float, __m256, 8, ps, FASTEM_AVX2_TARGET, _mm256_, 2)

/* lane c of the result = the sum of the lanes of a[c], c < 4, in float64 */
__attribute__((target("avx2,fma"))) static inline __m256d fastem_sums4_pd(const __m256d* a) {
    const __m256d h0 = _mm256_hadd_pd(a[0], a[1]), h1 = _mm256_hadd_pd(a[2], a[3]);
    return _mm256_add_pd(_mm256_permute2f128_pd(h0, h1, 0x20),
                         _mm256_permute2f128_pd(h0, h1, 0x31));
}
__attribute__((target("avx2,fma"))) static inline __m128 fastem_sums4_ps_f(const __m256* a) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}
__attribute__((target("avx2,fma"))) static inline __m256d fastem_sums4_ps(const __m256* a) {
    return _mm256_cvtps_pd(fastem_sums4_ps_f(a));
}
/* out[c] = the sum of the lanes of a[c], c < 4. */
__attribute__((target("avx2,fma"))) static inline void fastem_sums4_d(const __m256d* a,
                                                                       double* out) {
    _mm256_storeu_pd(out, fastem_sums4_pd(a));
}
__attribute__((target("avx2,fma"))) static inline void fastem_sums4_f(const __m256* a,
                                                                       float* out) {
    _mm_storeu_ps(out, fastem_sums4_ps_f(a));
}

/* The moments as fastem_moments_generic*: two rows of the result by four columns, the
   lanes summed once per tile; the first tile of each pair of rows also weights them
   and sums s1 (a separate pass weighting the rows and summing s1, one dependent chain
   of adds per feature, was 22% of the kernel at d = 8). */
#define FASTEM_MOMENTS_AVX2(NAME, T, V, VL, SFX)                                          \
__attribute__((target("avx2,fma"))) static void NAME(const T* yt, const T* mu,          \
                                                      const T* w, ptrdiff_t nb,           \
                                                      ptrdiff_t d, double* s1, double* s2, \
                                                      T* wy) {                            \
    const ptrdiff_t nv = nb / VL * VL;  /* rows nv .. nb - 1 are added one by one */      \
    for (ptrdiff_t i = 0; i < d; i += 2) {                                                \
        const ptrdiff_t i1 = i + 1 < d ? i + 1 : i;                                       \
        T* u0 = wy + i * FASTEM_BLOCK;                                                    \
        T* u1 = wy + i1 * FASTEM_BLOCK;                                                   \
        for (ptrdiff_t j = i; j < d; j += 4) {                                            \
            const ptrdiff_t js[4] = {j, j + 1 < d ? j + 1 : j, j + 2 < d ? j + 2 : j,     \
                                     j + 3 < d ? j + 3 : j};                              \
            /* the pair's first tile (its columns 0 and 1 are rows i and i1) also        \
               weights the pair's rows into wy, for the next tiles, and sums s1 */        \
            const int first = j == i;                                                     \
            const T* v[4];                                                                \
            V m[4], a0[4], a1[4], e0 = _mm256_setzero_##SFX(), e1 = e0;                   \
            for (int c = 0; c < 4; ++c) {                                                 \
                v[c] = yt + js[c] * FASTEM_BLOCK;                                         \
                m[c] = _mm256_set1_##SFX(mu != NULL ? mu[js[c]] : (T)0);                  \
                a0[c] = a1[c] = _mm256_setzero_##SFX();                                   \
            }                                                                             \
            if (first) {                                                                  \
                for (ptrdiff_t b = 0; b < nv; b += VL) {                                  \
                    V y[4];                                                               \
                    for (int c = 0; c < 4; ++c)                                           \
                        y[c] = _mm256_sub_##SFX(_mm256_loadu_##SFX(v[c] + b), m[c]);      \
                    const V ww = _mm256_loadu_##SFX(w + b);                               \
                    const V w0 = _mm256_mul_##SFX(ww, y[0]), w1 = _mm256_mul_##SFX(ww, y[1]); \
                    _mm256_storeu_##SFX(u0 + b, w0);                                      \
                    _mm256_storeu_##SFX(u1 + b, w1);                                      \
                    e0 = _mm256_add_##SFX(e0, w0);                                        \
                    e1 = _mm256_add_##SFX(e1, w1);                                        \
                    _Pragma("GCC unroll 4")                                               \
                    for (int c = 0; c < 4; ++c) {                                         \
                        a0[c] = _mm256_fmadd_##SFX(w0, y[c], a0[c]);                      \
                        a1[c] = _mm256_fmadd_##SFX(w1, y[c], a1[c]);                      \
                    }                                                                     \
                }                                                                         \
                for (ptrdiff_t b = nv; b < nb; ++b) {                                     \
                    u0[b] = w[b] * (v[0][b] - (mu != NULL ? mu[js[0]] : (T)0));           \
                    u1[b] = w[b] * (v[1][b] - (mu != NULL ? mu[js[1]] : (T)0));           \
                }                                                                         \
            } else {                                                                      \
                for (ptrdiff_t b = 0; b < nv; b += VL) {                                  \
                    const V w0 = _mm256_loadu_##SFX(u0 + b), w1 = _mm256_loadu_##SFX(u1 + b); \
                    _Pragma("GCC unroll 4")                                               \
                    for (int c = 0; c < 4; ++c) {                                         \
                        const V y = _mm256_sub_##SFX(_mm256_loadu_##SFX(v[c] + b), m[c]); \
                        a0[c] = _mm256_fmadd_##SFX(w0, y, a0[c]);                         \
                        a1[c] = _mm256_fmadd_##SFX(w1, y, a1[c]);                         \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            if (!first && nv == nb && j + 3 < d) {                                        \
                /* a whole tile: the two rows' four sums added to s2 as vectors */           \
                double* p0 = s2 + FASTEM_TRI(i, j, d);                                    \
                _mm256_storeu_pd(p0, _mm256_add_pd(_mm256_loadu_pd(p0),                   \
                                                   fastem_sums4_##SFX(a0)));              \
                if (i1 != i) {                                                            \
                    double* p1 = s2 + FASTEM_TRI(i1, j, d);                               \
                    _mm256_storeu_pd(p1, _mm256_add_pd(_mm256_loadu_pd(p1),               \
                                                       fastem_sums4_##SFX(a1)));          \
                }                                                                         \
                continue;                                                                 \
            }                                                                             \
            T r0[4], r1[4];                                                               \
            fastem_sums4_##SFX##_of(a0, r0);                                              \
            fastem_sums4_##SFX##_of(a1, r1);                                              \
            for (ptrdiff_t b = nv; b < nb; ++b) {                                         \
                for (int c = 0; c < 4; ++c) {                                             \
                    const T y = v[c][b] - (mu != NULL ? mu[js[c]] : (T)0);                \
                    r0[c] += u0[b] * y;                                                   \
                    r1[c] += u1[b] * y;                                                   \
                }                                                                         \
            }                                                                             \
            for (int c = 0; c < 4 && j + c < d; ++c) {                                    \
                s2[FASTEM_TRI(i, js[c], d)] += (double)r0[c];                             \
                if (i1 != i && js[c] >= i1) s2[FASTEM_TRI(i1, js[c], d)] += (double)r1[c]; \
            }                                                                             \
            if (first) {                                                                  \
                const V z = _mm256_setzero_##SFX(), es[4] = {e0, e1, z, z};               \
                T t[4];                                                                   \
                fastem_sums4_##SFX##_of(es, t);                                           \
                for (ptrdiff_t b = nv; b < nb; ++b) { t[0] += u0[b]; t[1] += u1[b]; }     \
                s1[i] += (double)t[0];                                                    \
                if (i1 != i) s1[i1] += (double)t[1];                                      \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
#define fastem_sums4_pd_of fastem_sums4_d
#define fastem_sums4_ps_of fastem_sums4_f
FASTEM_MOMENTS_AVX2(fastem_moments_avx2_d, double, __m256d, 4, pd)
FASTEM_MOMENTS_AVX2(fastem_moments_avx2_f, float, __m256, 8, ps)

/* The quadratic form and moments for d <= 3, every column of P (and every entry of the
   moments) in registers: the general kernels' four-column tiles computed mostly
   clamped copies there (measured at d = 2 in float64: the quadratic form 21% and the
   moments 15% of the pass). The quadratic form does the general kernel's operations in
   its order (the same results bit for bit), the moments at d = 3 too. */
__attribute__((target("avx2,fma"))) static inline void fastem_put_quad_pd(double* out,
                                                                          __m256d q,
                                                                          ptrdiff_t n) {
    if (n >= 4) { _mm256_storeu_pd(out, q); return; }
    double t[4];
    _mm256_storeu_pd(t, q);
    for (ptrdiff_t l = 0; l < n; ++l) out[l] = t[l];
}
__attribute__((target("avx2,fma"))) static inline void fastem_put_quad_ps(double* out,
                                                                          __m256 q,
                                                                          ptrdiff_t n) {
    const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(q));
    const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(q, 1));
    if (n >= 8) { _mm256_storeu_pd(out, lo); _mm256_storeu_pd(out + 4, hi); return; }
    double t[8];
    _mm256_storeu_pd(t, lo);
    _mm256_storeu_pd(t + 4, hi);
    for (ptrdiff_t l = 0; l < n; ++l) out[l] = t[l];
}
#define FASTEM_QUAD_SMALL(NAME, T, V, VL, SFX, D)                                         \
__attribute__((target("avx2,fma"))) static void NAME(const T* yt, ptrdiff_t nb,          \
                                                      const T* P, const T* cs,            \
                                                      double* quad) {                     \
    V p[D][D], c[D];                                                                      \
    for (int i = 0; i < D; ++i) {                                                         \
        c[i] = _mm256_set1_##SFX(cs != NULL ? cs[i] : (T)0);                              \
        for (int j = i; j < D; ++j) p[i][j] = _mm256_set1_##SFX(P[i * D + j]);            \
    }                                                                                     \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += VL) {                                           \
        V y[D], q[2] = {_mm256_setzero_##SFX(), _mm256_setzero_##SFX()};                  \
        for (int i = 0; i < D; ++i) y[i] = _mm256_loadu_##SFX(yt + i * FASTEM_BLOCK + b0); \
        for (int j = 0; j < D; ++j) {                                                     \
            V a = _mm256_setzero_##SFX();                                                 \
            for (int i = 0; i <= j; ++i) a = _mm256_fmadd_##SFX(p[i][j], y[i], a);        \
            const V v = _mm256_sub_##SFX(a, c[j]);                                        \
            q[j & 1] = _mm256_fmadd_##SFX(v, v, q[j & 1]);                                \
        }                                                                                 \
        fastem_put_quad_##SFX(quad + b0, _mm256_add_##SFX(q[0], q[1]), nb - b0);          \
    }                                                                                     \
}
/* one vector of rows b of the small moments into the sums acc */
#define FASTEM_MOMENTS_SMALL_ROWS(SFX, D, b, acc)                                         \
    {                                                                                     \
        __typeof__(m[0]) y[D];                                                            \
        for (int i = 0; i < D; ++i)                                                       \
            y[i] = _mm256_sub_##SFX(_mm256_loadu_##SFX(yt + i * FASTEM_BLOCK + (b)), m[i]); \
        const __typeof__(m[0]) ww = _mm256_loadu_##SFX(w + (b));                          \
        int e = 0;                                                                        \
        for (int i = 0; i < D; ++i) {                                                     \
            const __typeof__(m[0]) wi = _mm256_mul_##SFX(ww, y[i]);                       \
            acc[NE - D + i] = _mm256_add_##SFX(acc[NE - D + i], wi);                      \
            for (int j = i; j < D; ++j, ++e) acc[e] = _mm256_fmadd_##SFX(wi, y[j], acc[e]); \
        }                                                                                 \
    }
/* s2 and s1 as fastem_moments_avx2_*, whose only tile this is at d <= 3, the lanes
   summed as there; at d <= 2 two vectors of rows at a time into two sets of sums (one
   set was bound by the latency of its multiply-adds: results to rounding), the last
   rows one by one. */
#define FASTEM_MOMENTS_SMALL(NAME, T, V, VL, SFX, D)                                      \
__attribute__((target("avx2,fma"))) static void NAME(const T* yt, const T* mu,          \
                                                      const T* w, ptrdiff_t nb,           \
                                                      double* s1, double* s2) {           \
    enum { NE = D * (D + 1) / 2 + D, NS = (NE + 3) / 4 * 4, U = D <= 2 ? 2 : 1 };         \
    V m[D], a[U][NS];   /* a: the entries of s2 row by row, then those of s1 */           \
    for (int i = 0; i < D; ++i) m[i] = _mm256_set1_##SFX(mu != NULL ? mu[i] : (T)0);      \
    for (int u = 0; u < U; ++u)                                                           \
        for (int e = 0; e < NS; ++e) a[u][e] = _mm256_setzero_##SFX();                    \
    ptrdiff_t nv = 0;                                                                     \
    for (; nv + U * VL <= nb; nv += U * VL)                                               \
        for (int u = 0; u < U; ++u) FASTEM_MOMENTS_SMALL_ROWS(SFX, D, nv + u * VL, a[u])  \
    for (; nv + VL <= nb; nv += VL) FASTEM_MOMENTS_SMALL_ROWS(SFX, D, nv, a[0])           \
    for (int u = 1; u < U; ++u)                                                           \
        for (int e = 0; e < NS; ++e) a[0][e] = _mm256_add_##SFX(a[0][e], a[u][e]);        \
    T r[NS];                                                                              \
    for (int e = 0; e < NS; e += 4) fastem_sums4_##SFX##_of(a[0] + e, r + e);             \
    for (ptrdiff_t b = nv; b < nb; ++b) {                                                 \
        T y[D], u[D];                                                                     \
        for (int i = 0; i < D; ++i) {                                                     \
            y[i] = yt[i * FASTEM_BLOCK + b] - (mu != NULL ? mu[i] : (T)0);                \
            u[i] = w[b] * y[i];                                                           \
        }                                                                                 \
        int e = 0;                                                                        \
        for (int i = 0; i < D; ++i) {                                                     \
            r[NE - D + i] += u[i];                                                        \
            for (int j = i; j < D; ++j, ++e) r[e] += u[i] * y[j];                         \
        }                                                                                 \
    }                                                                                     \
    for (int e = 0; e < NE - D; ++e) s2[e] += (double)r[e];                               \
    for (int i = 0; i < D; ++i) s1[i] += (double)r[NE - D + i];                           \
}
#define FASTEM_SMALL_KERNELS(T, V, VL, SFX, S)                                            \
FASTEM_QUAD_SMALL(fastem_quad_small1_##S, T, V, VL, SFX, 1)                               \
FASTEM_QUAD_SMALL(fastem_quad_small2_##S, T, V, VL, SFX, 2)                               \
FASTEM_QUAD_SMALL(fastem_quad_small3_##S, T, V, VL, SFX, 3)                               \
FASTEM_MOMENTS_SMALL(fastem_moments_small1_##S, T, V, VL, SFX, 1)                         \
FASTEM_MOMENTS_SMALL(fastem_moments_small2_##S, T, V, VL, SFX, 2)                         \
FASTEM_MOMENTS_SMALL(fastem_moments_small3_##S, T, V, VL, SFX, 3)                         \
/* the small kernels, for 1 <= d <= 3 */                                                   \
__attribute__((target("avx2,fma"))) static void fastem_quad_small_##S(                    \
        const T* yt, ptrdiff_t nb, ptrdiff_t d, const T* P, const T* cs, double* quad) { \
    if (d == 1) fastem_quad_small1_##S(yt, nb, P, cs, quad);                              \
    else if (d == 2) fastem_quad_small2_##S(yt, nb, P, cs, quad);                         \
    else fastem_quad_small3_##S(yt, nb, P, cs, quad);                                     \
}                                                                                         \
__attribute__((target("avx2,fma"))) static void fastem_moments_small_##S(                 \
        const T* yt, const T* mu, const T* w, ptrdiff_t nb, ptrdiff_t d, double* s1,     \
        double* s2) {                                                                     \
    if (d == 1) fastem_moments_small1_##S(yt, mu, w, nb, s1, s2);                         \
    else if (d == 2) fastem_moments_small2_##S(yt, mu, w, nb, s1, s2);                    \
    else fastem_moments_small3_##S(yt, mu, w, nb, s1, s2);                                \
}
FASTEM_SMALL_KERNELS(double, __m256d, 4, pd, d)
FASTEM_SMALL_KERNELS(float, __m256, 8, ps, f)

/* AVX-512 quadratic form (Intel's server cores run two 512-bit multiply-adds per
   cycle): the same tile on vectors twice as wide, four of them (16 sums; two were bound
   by the latency of their multiply-adds). Measured on a 2-core Sapphire Rapids, one
   thread, E-step at d = 16, k = 16: float64 72 -> 49 ms, float32 31.5 -> 28.6 ms (at
   d = 50: 332 -> 226, 129 -> 104) with two vectors under masks; on the Xeon with
   AVX-512 four whole vectors took ns per row and component at d = 50 from 45 to 34
   (float64) and 22 to 16 (float32), at d = 16 from 4.8 to 3.7 and 2.4 to 1.9.
   The moments' AVX-512 kernel (below) takes a tile of another shape. */
#define FASTEM_AVX512_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))

/* the first r lanes of a vector of VL */
FASTEM_AVX512_TARGET static inline __mmask8 fastem_mask_pd(ptrdiff_t r) {
    return r >= 8 ? (__mmask8)0xFF : r <= 0 ? (__mmask8)0 : (__mmask8)((1u << r) - 1u);
}
FASTEM_AVX512_TARGET static inline __mmask16 fastem_mask_ps(ptrdiff_t r) {
    return r >= 16 ? (__mmask16)0xFFFF : r <= 0 ? (__mmask16)0
                                                : (__mmask16)((1u << r) - 1u);
}

FASTEM_QUAD_SIMD(fastem_quad_avx512_d, double, __m512d, 8, pd, FASTEM_AVX512_TARGET, _mm512_, 4)
FASTEM_QUAD_SIMD(fastem_quad_avx512_f, float, __m512, 16, ps, FASTEM_AVX512_TARGET, _mm512_, 4)

/* AVX-512 moments: eight rows of the result against three columns, 24 sums of vectors
   of rows, with each weighted row loaded once per vector of rows for its three
   multiply-adds (eleven loads per 24 multiply-adds; the AVX2 kernel's two rows by four
   columns take six per eight). The eight rows of a group are weighted and shifted into
   wy first, eight rows of FASTEM_BLOCK that stay in L1 (weighting every row of the
   block for every component, or storing its shifted copy, ran at the speed of the L2
   cache); the columns are shifted on the fly. The sums of each column's eight vectors
   are reduced together, a vector of eight sums. Measured on one core of the Xeon with
   AVX-512, ns per row and component: float64 d = 50 74 -> 50, d = 32 33 -> 24, d = 16
   9.2 -> 8.4; float32 d = 50 39 -> 30, d = 16 5.1 -> 4.7; slower than the AVX2 kernel
   below d = 12. Results to rounding of the other kernels' (the order of the sums). */
#define FASTEM_M512_ROWS 8
#define FASTEM_M512_COLS 3
/* lane r of the result = the sum of the lanes of a[r], r < 8 */
FASTEM_AVX512_TARGET static inline __m512d fastem_sums8_pd(const __m512d* a) {
    __m512d t[4], u[2];
    for (int p = 0; p < 4; ++p)   /* each 128-bit lane: a pair's partial sums */
        t[p] = _mm512_add_pd(_mm512_unpacklo_pd(a[2 * p], a[2 * p + 1]),
                             _mm512_unpackhi_pd(a[2 * p], a[2 * p + 1]));
    for (int p = 0; p < 2; ++p)
        u[p] = _mm512_add_pd(_mm512_shuffle_f64x2(t[2 * p], t[2 * p + 1], 0x88),
                             _mm512_shuffle_f64x2(t[2 * p], t[2 * p + 1], 0xDD));
    return _mm512_add_pd(_mm512_shuffle_f64x2(u[0], u[1], 0x88),
                         _mm512_shuffle_f64x2(u[0], u[1], 0xDD));
}
FASTEM_AVX512_TARGET static inline __m256 fastem_sums8_ps(const __m512* a) {
    __m256 h[8];
    for (int r = 0; r < 8; ++r)
        h[r] = _mm256_add_ps(_mm512_castps512_ps256(a[r]),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[r]), 1)));
    const __m256 h01 = _mm256_hadd_ps(h[0], h[1]), h23 = _mm256_hadd_ps(h[2], h[3]);
    const __m256 h45 = _mm256_hadd_ps(h[4], h[5]), h67 = _mm256_hadd_ps(h[6], h[7]);
    const __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                         _mm256_permute2f128_ps(q0, q1, 0x31));
}
#define FASTEM_STORE_SUMS8_pd(p, a) _mm512_storeu_pd(p, fastem_sums8_pd(a))
#define FASTEM_STORE_SUMS8_ps(p, a) _mm256_storeu_ps(p, fastem_sums8_ps(a))
/* s2 and s1 as fastem_moments_generic*, for d >= FASTEM_M512_ROWS (wy: the first
   FASTEM_M512_ROWS of its rows). Rows nb .. of the block are read under a mask (a
   completed block of rows with missing values is not padded). */
#define FASTEM_MOMENTS_AVX512(NAME, T, V, VL, SFX, MASK, MT)                              \
FASTEM_AVX512_TARGET static void NAME(const T* yt, const T* mu, const T* w, ptrdiff_t nb, \
                                      ptrdiff_t d, double* s1, double* s2, T* wy) {       \
    enum { R = FASTEM_M512_ROWS, C = FASTEM_M512_COLS };                                  \
    const ptrdiff_t nv = nb / VL * VL, nbv = (nb + VL - 1) / VL * VL;                     \
    const MT tail = MASK(nb - nv), whole = MASK(VL);                                      \
    for (ptrdiff_t i0 = 0; i0 < d; i0 += R) {                                             \
        /* the group's rows, weighted and shifted, into wy (rows past d: row d - 1) */    \
        for (int r = 0; r < R; ++r) {                                                     \
            const ptrdiff_t i = i0 + r < d ? i0 + r : d - 1;                              \
            const V m = _mm512_set1_##SFX(mu != NULL ? mu[i] : (T)0);                     \
            const T* y = yt + i * FASTEM_BLOCK;                                           \
            T* u = wy + r * FASTEM_BLOCK;                                                 \
            V s[2] = {_mm512_setzero_##SFX(), _mm512_setzero_##SFX()};                    \
            for (ptrdiff_t b = 0; b < nv; b += VL) {                                      \
                const V v = _mm512_mul_##SFX(_mm512_loadu_##SFX(w + b),                   \
                                             _mm512_sub_##SFX(_mm512_loadu_##SFX(y + b), m)); \
                _mm512_storeu_##SFX(u + b, v);                                            \
                s[(b / VL) & 1] = _mm512_add_##SFX(s[(b / VL) & 1], v);                   \
            }                                                                             \
            if (nv < nbv) {                                                               \
                const V x = _mm512_maskz_loadu_##SFX(tail, y + nv);                       \
                const V v = _mm512_mul_##SFX(_mm512_maskz_loadu_##SFX(tail, w + nv),      \
                                             _mm512_maskz_sub_##SFX(tail, x, m));         \
                _mm512_storeu_##SFX(u + nv, v);                                           \
                s[0] = _mm512_add_##SFX(s[0], v);                                         \
            }                                                                             \
            if (i0 + r < d)                                                               \
                s1[i] += (double)_mm512_reduce_add_##SFX(_mm512_add_##SFX(s[0], s[1]));   \
        }                                                                                 \
        for (ptrdiff_t j0 = i0; j0 < d; j0 += C) {                                        \
            const T* v[C];                                                                \
            V mc[C], a[C][R];                                                             \
            for (int c = 0; c < C; ++c) {                                                 \
                const ptrdiff_t j = j0 + c < d ? j0 + c : d - 1;                          \
                v[c] = yt + j * FASTEM_BLOCK;                                             \
                mc[c] = _mm512_set1_##SFX(mu != NULL ? mu[j] : (T)0);                     \
                for (int r = 0; r < R; ++r) a[c][r] = _mm512_setzero_##SFX();             \
            }                                                                             \
            for (ptrdiff_t b = 0; b < nbv; b += VL) {                                     \
                const MT k = b < nv ? whole : tail;                                       \
                V y[C];                                                                   \
                _Pragma("GCC unroll 8")                                                   \
                for (int c = 0; c < C; ++c)                                               \
                    y[c] = _mm512_maskz_sub_##SFX(k, _mm512_maskz_loadu_##SFX(k, v[c] + b), \
                                                  mc[c]);                                 \
                _Pragma("GCC unroll 8")                                                   \
                for (int r = 0; r < R; ++r) {                                             \
                    V u = _mm512_loadu_##SFX(wy + r * FASTEM_BLOCK + b);                  \
                    /* one load, not one per multiply-add (GCC folds it into each) */     \
                    __asm__("" : "+v"(u));                                                \
                    _Pragma("GCC unroll 8")                                               \
                    for (int c = 0; c < C; ++c) a[c][r] = _mm512_fmadd_##SFX(u, y[c], a[c][r]); \
                }                                                                         \
            }                                                                             \
            /* every sum to a constant index (a loop over them put the tile on the stack) */ \
            T o[C][R];                                                                    \
            _Pragma("GCC unroll 8")                                                       \
            for (int c = 0; c < C; ++c) FASTEM_STORE_SUMS8_##SFX(o[c], a[c]);             \
            for (int c = 0; c < C && j0 + c < d; ++c) {                                   \
                const ptrdiff_t j = j0 + c;                                               \
                for (ptrdiff_t r = 0; r < R && i0 + r <= j; ++r)                          \
                    s2[FASTEM_TRI(i0 + r, j, d)] += (double)o[c][r];                      \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_MOMENTS_AVX512(fastem_moments_avx512_d, double, __m512d, 8, pd, fastem_mask_pd, __mmask8)
FASTEM_MOMENTS_AVX512(fastem_moments_avx512_f, float, __m512, 16, ps, fastem_mask_ps,
                      __mmask16)

/* Moments of rows that fill one or two whole vectors (float64 d = 8 or 16, float32
   d = 16), from the rows as stored: s2 += sum_b u_b y_b^T with y_b = x_b - mu and
   u_b = w_b y_b, a vector of the result's row i gaining u_b[i] y_b (rows i >= VL only
   their second vector). Every sum of the upper triangle stays in a register for the
   whole block (24 at float64 d = 16): no lanes to reduce and no tiles, each row loaded
   once. The rows go in chunks of FASTEM_ROWS_CHUNK whose weighted rows (wy, row-major)
   stay in L1 with them (the whole block's did not: 256 rows of 128 bytes twice). Measured
   on one core of the Xeon with AVX-512, ns per row and component: float64 d = 16 7.0 ->
   4.7, d = 8 2.7 -> 2.2; float32 d = 16 4.2 -> 3.4 (rows not filling whole vectors were
   slower than the kernels above, their loads split across cache lines). Each sum runs
   over the rows in order: results to rounding of the other kernels'. */
#define FASTEM_ROWS_CHUNK 64
#define FASTEM_MOMENTS_ROWS(NAME, T, V, VL, SFX, D)                                       \
FASTEM_AVX512_TARGET static void NAME(const T* xr, const T* mu, const T* w, ptrdiff_t nb, \
                                      double* s1, double* s2, T* wy) {                    \
    enum { NV = D / VL, L1 = NV > 1 ? D : 1 };                                            \
    V m[NV], s[NV], a0[VL], a1[L1];                                                       \
    for (int v = 0; v < NV; ++v) {                                                        \
        m[v] = mu != NULL ? _mm512_loadu_##SFX(mu + v * VL) : _mm512_setzero_##SFX();     \
        s[v] = _mm512_setzero_##SFX();                                                    \
    }                                                                                     \
    _Pragma("GCC unroll 16")                                                              \
    for (int i = 0; i < VL; ++i) a0[i] = _mm512_setzero_##SFX();                          \
    _Pragma("GCC unroll 16")                                                              \
    for (int i = 0; i < L1; ++i) a1[i] = _mm512_setzero_##SFX();                          \
    for (ptrdiff_t c0 = 0; c0 < nb; c0 += FASTEM_ROWS_CHUNK) {                            \
        const ptrdiff_t c1 = c0 + FASTEM_ROWS_CHUNK < nb ? c0 + FASTEM_ROWS_CHUNK : nb;   \
        for (ptrdiff_t b = c0; b < c1; ++b) {                                             \
            const V wb = _mm512_set1_##SFX(w[b]);                                         \
            _Pragma("GCC unroll 2")                                                       \
            for (int v = 0; v < NV; ++v) {                                                \
                const V u = _mm512_mul_##SFX(                                             \
                    wb, _mm512_sub_##SFX(_mm512_loadu_##SFX(xr + b * D + v * VL), m[v])); \
                _mm512_storeu_##SFX(wy + (b - c0) * D + v * VL, u);                       \
                s[v] = _mm512_add_##SFX(s[v], u);                                         \
            }                                                                             \
        }                                                                                 \
        for (ptrdiff_t b = c0; b < c1; ++b) {                                             \
            const T* x = xr + b * D;                                                      \
            const T* u = wy + (b - c0) * D;                                               \
            const V y0 = _mm512_sub_##SFX(_mm512_loadu_##SFX(x), m[0]);                   \
            const V y1 = NV > 1 ? _mm512_sub_##SFX(_mm512_loadu_##SFX(x + VL), m[NV - 1]) \
                                : y0;                                                     \
            _Pragma("GCC unroll 16")                                                      \
            for (int i = 0; i < D; ++i) {                                                 \
                const V ui = _mm512_set1_##SFX(u[i]);                                     \
                if (i < VL) a0[i < VL ? i : 0] = _mm512_fmadd_##SFX(ui, y0, a0[i < VL ? i : 0]); \
                if (NV > 1) a1[i < L1 ? i : 0] = _mm512_fmadd_##SFX(ui, y1, a1[i < L1 ? i : 0]); \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    /* the sums to memory by constant indices (a loop that also adds them to s2 kept    \
       them on the stack through the rows) */                                              \
    T o[D][2 * VL], t[D];                                                                 \
    _Pragma("GCC unroll 16")                                                              \
    for (int i = 0; i < VL; ++i) _mm512_storeu_##SFX(o[i], a0[i]);                        \
    _Pragma("GCC unroll 16")                                                              \
    for (int i = 0; i < L1; ++i) _mm512_storeu_##SFX(o[i] + VL, a1[i]);                   \
    for (int v = 0; v < NV; ++v) _mm512_storeu_##SFX(t + v * VL, s[v]);                   \
    for (int i = 0; i < D; ++i) {                                                         \
        s1[i] += (double)t[i];                                                            \
        for (int j = i; j < D; ++j) s2[FASTEM_TRI(i, j, D)] += (double)o[i][j];           \
    }                                                                                     \
}
FASTEM_MOMENTS_ROWS(fastem_moments_rows8_d, double, __m512d, 8, pd, 8)
FASTEM_MOMENTS_ROWS(fastem_moments_rows16_d, double, __m512d, 8, pd, 16)
FASTEM_MOMENTS_ROWS(fastem_moments_rows16_f, float, __m512, 16, ps, 16)
/* the rows kernel for d, if any (wy: at least FASTEM_ROWS_CHUNK x d) */
FASTEM_AVX512_TARGET static int fastem_moments_rows_d(const double* xr, const double* mu,
                                                      const double* w, ptrdiff_t nb,
                                                      ptrdiff_t d, double* s1, double* s2,
                                                      double* wy) {
    if (d == 8) fastem_moments_rows8_d(xr, mu, w, nb, s1, s2, wy);
    else if (d == 16) fastem_moments_rows16_d(xr, mu, w, nb, s1, s2, wy);
    else return 0;
    return 1;
}
FASTEM_AVX512_TARGET static int fastem_moments_rows_f(const float* xr, const float* mu,
                                                      const float* w, ptrdiff_t nb,
                                                      ptrdiff_t d, double* s1, double* s2,
                                                      float* wy) {
    if (d != 16) return 0;
    fastem_moments_rows16_f(xr, mu, w, nb, s1, s2, wy);
    return 1;
}

#endif

/* The quadratic form and moments of the full-covariance kernels: the AVX-512 quadratic
   form, and from d = FASTEM_MOMENTS512_MIN_D on the AVX-512 moments, when the CPU has it
   and hand_vectorised is 2, the AVX2 versions when it has AVX2
   and FMA and hand_vectorised is not 0 (the tests vary it), else the
   generic loops (six-column tiles of P from d = 24 on or when 6 divides d, else four). */
#define FASTEM_MOMENTS512_MIN_D 12
#define FASTEM_GAUSSIAN_DISPATCH(T, S)                                                    \
FASTEM_UNUSED static void fastem_quad_triangular_##S(const T* yt, ptrdiff_t nb,           \
                                                     ptrdiff_t d, const T* P, const T* cs, \
                                                     double* quad, int hand_vectorised) { \
    if (hand_vectorised && FASTEM_HAS_AVX2() && d >= 1 && d <= 3)                         \
        FASTEM_AVX2_CALL(fastem_quad_small_##S(yt, nb, d, P, cs, quad));                  \
    if (hand_vectorised >= 2 && FASTEM_HAS_AVX512())                                      \
        FASTEM_AVX2_CALL(fastem_quad_avx512_##S(yt, nb, d, P, cs, quad));                 \
    if (hand_vectorised && FASTEM_HAS_AVX2())                                             \
        FASTEM_AVX2_CALL(fastem_quad_avx2_##S(yt, nb, d, P, cs, quad));                   \
    if (d % 6 != 0 && d < 24) fastem_quad_generic4_##S(yt, nb, d, P, cs, quad);           \
    else fastem_quad_generic6_##S(yt, nb, d, P, cs, quad);                                \
}                                                                                         \
FASTEM_UNUSED static void fastem_moments_##S(const T* yt, const T* xr, const T* mu,       \
                                             const T* w, ptrdiff_t nb, ptrdiff_t d,       \
                                             double* s1, double* s2, T* wy,               \
                                             int hand_vectorised) {                       \
    if (hand_vectorised >= 2 && xr != NULL && FASTEM_HAS_AVX512())                        \
        FASTEM_ROWS_CALL(fastem_moments_rows_##S(xr, mu, w, nb, d, s1, s2, wy));          \
    if (hand_vectorised && FASTEM_HAS_AVX2() && d >= 1 && d <= 3)                         \
        FASTEM_AVX2_CALL(fastem_moments_small_##S(yt, mu, w, nb, d, s1, s2));             \
    if (hand_vectorised >= 2 && FASTEM_HAS_AVX512() && d >= FASTEM_MOMENTS512_MIN_D)     \
        FASTEM_AVX2_CALL(fastem_moments_avx512_##S(yt, mu, w, nb, d, s1, s2, wy));        \
    if (hand_vectorised && FASTEM_HAS_AVX2())                                             \
        FASTEM_AVX2_CALL(fastem_moments_avx2_##S(yt, mu, w, nb, d, s1, s2, wy));          \
    fastem_moments_generic_##S(yt, mu, w, nb, d, s1, s2, wy);                             \
}
FASTEM_GAUSSIAN_DISPATCH(double, d)
FASTEM_GAUSSIAN_DISPATCH(float, f)

/* fastem_conditional_rows_generic*, on AVX2 and FMA: the sums of two missing entries
   for sixteen rows in registers (the compiler kept the generic loop's sums on the stack,
   zeroed by `rep stos`: measured 10% of the missing-value pass at d = 10). */
#if defined(FASTEM_GAUSSIAN_AVX2)
#define FASTEM_CONDITIONAL_AVX2(NAME, T, V, VL, SFX)                                      \
__attribute__((target("avx2,fma"))) static void NAME(const T* xo, ptrdiff_t nb,          \
                                                      ptrdiff_t o, const T* mu, const T* B, \
                                                      ptrdiff_t m, const ptrdiff_t* mis,   \
                                                      T* yt) {                            \
    enum { R = FASTEM_PAD_ROWS, NV = FASTEM_PAD_ROWS / VL };                              \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += R) {                                            \
        const ptrdiff_t nr = nb - b0 < R ? nb - b0 : R;                                   \
        for (ptrdiff_t i = 0; i < m; i += 2) {                                            \
            const ptrdiff_t i1 = i + 1 < m ? i + 1 : i;                                   \
            const T* c0 = B + i * o;                                                      \
            const T* c1 = B + i1 * o;                                                     \
            V a0[NV], a1[NV];                                                             \
            for (int v = 0; v < NV; ++v) a0[v] = a1[v] = _mm256_setzero_##SFX();          \
            for (ptrdiff_t j = 0; j < o; ++j) {                                           \
                const T* x = xo + j * FASTEM_BLOCK + b0;                                  \
                const V mj = _mm256_set1_##SFX(mu[j]);                                    \
                const V u0 = _mm256_set1_##SFX(c0[j]), u1 = _mm256_set1_##SFX(c1[j]);     \
                _Pragma("GCC unroll 4")                                                   \
                for (int v = 0; v < NV; ++v) {                                            \
                    const V y = _mm256_sub_##SFX(_mm256_loadu_##SFX(x + v * VL), mj);     \
                    a0[v] = _mm256_fmadd_##SFX(u0, y, a0[v]);                             \
                    a1[v] = _mm256_fmadd_##SFX(u1, y, a1[v]);                             \
                }                                                                         \
            }                                                                             \
            T* o0 = yt + mis[i] * FASTEM_BLOCK + b0;                                      \
            T* o1 = yt + mis[i1] * FASTEM_BLOCK + b0;                                     \
            if (nr == R) {                                                                \
                _Pragma("GCC unroll 4")                                                   \
                for (int v = 0; v < NV; ++v) {                                            \
                    _mm256_storeu_##SFX(o0 + v * VL, a0[v]);                              \
                    _mm256_storeu_##SFX(o1 + v * VL, a1[v]);                              \
                }                                                                         \
            } else {                                                                      \
                T t0[R], t1[R];                                                           \
                for (int v = 0; v < NV; ++v) {                                            \
                    _mm256_storeu_##SFX(t0 + v * VL, a0[v]);                              \
                    _mm256_storeu_##SFX(t1 + v * VL, a1[v]);                              \
                }                                                                         \
                for (ptrdiff_t l = 0; l < nr; ++l) { o0[l] = t0[l]; o1[l] = t1[l]; }      \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_CONDITIONAL_AVX2(fastem_conditional_rows_avx2_d, double, __m256d, 4, pd)
FASTEM_CONDITIONAL_AVX2(fastem_conditional_rows_avx2_f, float, __m256, 8, ps)
#endif

#define FASTEM_CONDITIONAL_PICK(T, S)                                                     \
FASTEM_UNUSED static void fastem_conditional_rows_##S(const T* xo, ptrdiff_t nb,          \
                                                      ptrdiff_t o, const T* mu, const T* B, \
                                                      ptrdiff_t m, const ptrdiff_t* mis,   \
                                                      T* yt, int hand_vectorised) {       \
    if (hand_vectorised && FASTEM_HAS_AVX2())                                             \
        FASTEM_AVX2_CALL(fastem_conditional_rows_avx2_##S(xo, nb, o, mu, B, m, mis, yt)); \
    fastem_conditional_rows_generic_##S(xo, nb, o, mu, B, m, mis, yt);                    \
}
FASTEM_CONDITIONAL_PICK(double, d)
FASTEM_CONDITIONAL_PICK(float, f)

/* Lloyd's update for the rows of a block (row-major X), given their nearest centers
   lab and squared distances best: counts[lab] += w_b, sums[lab, :] += w_b x_b and
   inertia[0] += w_b best[b]. w may be NULL. When the K x d sums are small, rows go
   round-robin to four private copies, added at the end, so that consecutive rows of
   the same center do not wait for each other's stores. Rows b, b+1, b+2, b+3 are
   written out one after the other, so that the copy and partial inertia of each are
   known at compile time (measured: 20% less time than choosing them by b % 4 at d = 8,
   K = 8); each copy still adds its rows in order, as before. */
#define FASTEM_LLOYD_COPIES 4
#define FASTEM_LLOYD_SMALL 256
/* Row b into the sums S and counts N, its weighted distance into part[c]. */
#define FASTEM_LLOYD_ROW(T, b, c, S, N)                                                   \
    {                                                                                     \
        const double ww_ = w != NULL ? w[b] : 1.0;                                        \
        part[c] += ww_ * best[b];                                                         \
        if (ww_ != 0.0) {                                                                 \
            (N)[lab[b]] += ww_;                                                           \
            double* FASTEM_RESTRICT s_ = (S) + (ptrdiff_t)lab[b] * d;                     \
            const T* FASTEM_RESTRICT x_ = X + (b) * d;                                    \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (ptrdiff_t i = 0; i < d; ++i) s_[i] += ww_ * x_[i];                       \
        }                                                                                 \
    }
#define FASTEM_LLOYD_SUMS(NAME, T)                                                        \
FASTEM_CLONES static void NAME(const T* X, ptrdiff_t nb, ptrdiff_t d, ptrdiff_t K,       \
                               const int* lab, const double* w, const double* best,      \
                               double* inertia, double* counts, double* sums) {          \
    double part[FASTEM_LLOYD_COPIES] = {0};                                               \
    ptrdiff_t b = 0;                                                                      \
    if (K * d <= FASTEM_LLOYD_SMALL && K <= FASTEM_LLOYD_SMALL) {                         \
        double cs[FASTEM_LLOYD_COPIES][FASTEM_LLOYD_SMALL];                               \
        double cn[FASTEM_LLOYD_COPIES][FASTEM_LLOYD_SMALL];                               \
        for (int c = 0; c < FASTEM_LLOYD_COPIES; ++c) {                                   \
            for (ptrdiff_t j = 0; j < K * d; ++j) cs[c][j] = 0.0;                         \
            for (ptrdiff_t j = 0; j < K; ++j) cn[c][j] = 0.0;                             \
        }                                                                                 \
        for (; b + FASTEM_LLOYD_COPIES <= nb; b += FASTEM_LLOYD_COPIES) {                 \
            FASTEM_LLOYD_ROW(T, b, 0, cs[0], cn[0])                                       \
            FASTEM_LLOYD_ROW(T, b + 1, 1, cs[1], cn[1])                                   \
            FASTEM_LLOYD_ROW(T, b + 2, 2, cs[2], cn[2])                                   \
            FASTEM_LLOYD_ROW(T, b + 3, 3, cs[3], cn[3])                                   \
        }                                                                                 \
        for (int c = 0; b < nb; ++b, ++c) FASTEM_LLOYD_ROW(T, b, c, cs[c], cn[c])         \
        for (int c = 0; c < FASTEM_LLOYD_COPIES; ++c) {                                   \
            for (ptrdiff_t j = 0; j < K * d; ++j) sums[j] += cs[c][j];                    \
            for (ptrdiff_t j = 0; j < K; ++j) counts[j] += cn[c][j];                      \
        }                                                                                 \
    } else {                                                                              \
        for (; b + FASTEM_LLOYD_COPIES <= nb; b += FASTEM_LLOYD_COPIES) {                 \
            FASTEM_LLOYD_ROW(T, b, 0, sums, counts)                                       \
            FASTEM_LLOYD_ROW(T, b + 1, 1, sums, counts)                                   \
            FASTEM_LLOYD_ROW(T, b + 2, 2, sums, counts)                                   \
            FASTEM_LLOYD_ROW(T, b + 3, 3, sums, counts)                                   \
        }                                                                                 \
        for (int c = 0; b < nb; ++b, ++c) FASTEM_LLOYD_ROW(T, b, c, sums, counts)         \
    }                                                                                     \
    inertia[0] += (part[0] + part[1]) + (part[2] + part[3]);                              \
}
FASTEM_LLOYD_SUMS(fastem_lloyd_sums_d, double)
FASTEM_LLOYD_SUMS(fastem_lloyd_sums_f, float)

/* The k-means++ passes work on the rows of a block that a new center can come nearer to,
   listed by their offsets in the block (sel, m of them; NULL: every row, m = nb): sel
   indexes the per-row arrays (closest, w, xx) and xsel the rows of X (equal to sel, or
   NULL when the rows were gathered in order, x - shift, into a buffer). */
#define FASTEM_KPP_ROW(sel, j) ((sel) != NULL ? (ptrdiff_t)(sel)[j] : (ptrdiff_t)(j))

/* norm: the squared norm of row o (x[r]), xx's or its squares summed in order. */
#define FASTEM_KPP_NORM(T, o)                                                             \
    double norm;                                                                          \
    if (xx != NULL) {                                                                     \
        norm = xx[o];                                                                     \
    } else {                                                                              \
        T sq = 0;                                                                         \
        for (ptrdiff_t i = 0; i < d; ++i) sq += x[r][i] * x[r][i];                        \
        norm = (double)sq;                                                                \
    }

/* How many tiles ahead the k-means++ kernels fetch their rows (measured best of 1-6). */
#define FASTEM_KPP_AHEAD 2
/* x[r] = the rows xsel[b0 + r] of X for the tile's mm real rows of ROWS (the others
   repeat the first), and the next tile's rows fetched into the cache. */
#define FASTEM_KPP_TILE_ROWS(T, X, xsel, b0, m, d, x, mm, ROWS)                           \
    const ptrdiff_t mm = (m) - (b0) < (ROWS) ? (m) - (b0) : (ROWS);                       \
    const T* x[ROWS];                                                                     \
    for (int r = 0; r < (ROWS); ++r)                                                      \
        x[r] = (X) + FASTEM_KPP_ROW(xsel, (b0) + (r < mm ? r : 0)) * (d);                 \
    for (ptrdiff_t r = (b0) + ((b0) == 0 ? 1 : FASTEM_KPP_AHEAD) * (ROWS);                \
         r < (m) && r < (b0) + (FASTEM_KPP_AHEAD + 1) * (ROWS); ++r) {                     \
        const char* ahead_ = (const char*)((X) + FASTEM_KPP_ROW(xsel, r) * (d));          \
        for (ptrdiff_t off_ = 0; off_ < (ptrdiff_t)((d) * sizeof(T)); off_ += 64)        \
            FASTEM_PREFETCH(ahead_ + off_);                                               \
    }

/* k-means++ candidates' gains over the m rows sel of a block of X, the nc candidates in
   panels (ct, cc as for the nearest-center search): with dist = max(xx_o + cc[t] -
   2 x_o . c_t, 0), pot[t] += w_o max(closest_o - dist, 0) (how much candidate t lowers
   the potential), rows in order. xx holds the rows' squared norms, or is NULL (then
   computed here); w may be NULL (unit weights). A row no candidate comes nearer to adds
   exact zeros, so leaving it out changes no sum. When D is not NULL, the rows that some
   candidate of panel p comes nearer to are listed for the fold, in order: their number
   in count[p], their offsets in the block in rows[p FASTEM_BLOCK + j], the panel's
   distances to them in D[(p FASTEM_BLOCK + j) dw + l] for its first dw candidates
   (FASTEM_PANEL, or 4 when there are at most 4; +inf in the padding);
   the other rows keep their closest whichever of the panel's candidates is chosen. */
/* The products of FASTEM_KPP with PAIRED: the even features summed in a, the odd ones in
   ao, then a += ao (so that a vector can take a feature and the next at once, see
   fastem_kpp_avx512_f). */
#define FASTEM_KPP_PAIRED_DOTS(T, x, d, ct, a, ao)                                        \
    for (ptrdiff_t i = 0; i < (d); i += 2) {                                              \
        const T* FASTEM_RESTRICT ce = (ct) + i * FASTEM_PANEL;                            \
        for (int r = 0; r < FASTEM_PANEL_ROWS; ++r) {                                     \
            const T ue = x[r][i];                                                         \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (int l = 0; l < FASTEM_PANEL; ++l) a[r][l] += ue * ce[l];                 \
            if (i + 1 < (d)) {                                                            \
                const T uo = x[r][i + 1];                                                 \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < FASTEM_PANEL; ++l) ao[r][l] += uo * ce[FASTEM_PANEL + l]; \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    for (int r = 0; r < FASTEM_PANEL_ROWS; ++r)                                           \
        for (int l = 0; l < FASTEM_PANEL; ++l) a[r][l] += ao[r][l];

/* PAIRED: the products summed as FASTEM_KPP_PAIRED_DOTS (float32), else feature by
   feature. */
#define FASTEM_KPP(NAME, T, CLONES, PAIRED)                                               \
CLONES static void NAME(const T* X, const int* xsel, const int* sel, ptrdiff_t m,       \
                        ptrdiff_t d, const T* ct, const T* cc, ptrdiff_t nc,              \
                        const double* w, const double* xx,                                \
                        const double* closest, double* pot, double* D, ptrdiff_t dw,       \
                        int* rows, int* count) {                                          \
    for (ptrdiff_t k0 = 0; k0 < nc; k0 += FASTEM_PANEL) {                                 \
        const ptrdiff_t real = nc - k0 < FASTEM_PANEL ? nc - k0 : FASTEM_PANEL;           \
        const T* pct = ct + k0 * d;                                                       \
        const T* pcc = cc + k0;                                                           \
        double* pd = D != NULL ? D + k0 / FASTEM_PANEL * FASTEM_BLOCK * dw : NULL;        \
        int* prow = D != NULL ? rows + (k0 / FASTEM_PANEL) * FASTEM_BLOCK : NULL;         \
        int listed = 0;                                                                   \
        double pv[FASTEM_PANEL] = {0};                                                    \
        for (ptrdiff_t l = 0; l < real; ++l) pv[l] = pot[k0 + l];                         \
        for (ptrdiff_t b0 = 0; b0 < m; b0 += FASTEM_PANEL_ROWS) {                         \
            FASTEM_KPP_TILE_ROWS(T, X, xsel, b0, m, d, x, mm, FASTEM_PANEL_ROWS)           \
            T a[FASTEM_PANEL_ROWS][FASTEM_PANEL] = {{0}};                                 \
            if (PAIRED) {                                                                 \
                T ao[FASTEM_PANEL_ROWS][FASTEM_PANEL] = {{0}};                            \
                FASTEM_KPP_PAIRED_DOTS(T, x, d, pct, a, ao)                               \
            } else {                                                                      \
                FASTEM_PANEL_DOTS(T, x, d, pct, a, (void)0)                               \
            }                                                                             \
            for (ptrdiff_t r = 0; r < mm; ++r) {                                          \
                const ptrdiff_t o = FASTEM_KPP_ROW(sel, b0 + r);                          \
                FASTEM_KPP_NORM(T, o)                                                     \
                const double cl = closest[o];                                             \
                const double ww = w != NULL ? w[o] : 1.0;                                 \
                double dist[FASTEM_PANEL];                                                \
                int nearer = 0;                                                           \
                FASTEM_PRAGMA(omp simd reduction(|:nearer))                               \
                for (int l = 0; l < FASTEM_PANEL; ++l) {                                  \
                    double e = norm + (double)(pcc[l] - 2 * a[r][l]);                     \
                    e = e > 0 ? e : 0.0;                                                  \
                    dist[l] = e;                                                          \
                    const double g = cl - e;                                              \
                    pv[l] += ww * (g > 0 ? g : 0.0);                                      \
                    nearer |= e < cl;                                                     \
                }                                                                         \
                if (pd != NULL) {   /* written at the next place, kept if nearer */       \
                    for (int l = 0; l < dw; ++l) pd[listed * dw + l] = dist[l];          \
                    prow[listed] = (int)o;                                                \
                    listed += nearer;                                                     \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        for (ptrdiff_t l = 0; l < real; ++l) pot[k0 + l] = pv[l];                         \
        if (D != NULL) count[k0 / FASTEM_PANEL] = listed;                                 \
    }                                                                                     \
}
FASTEM_KPP(fastem_kpp_generic_d, double, FASTEM_CLONES_AVX2, 0)
FASTEM_KPP(fastem_kpp_generic_f, float, FASTEM_CLONES, 1)

#ifdef FASTEM_NEAREST_AVX2
/* The hand-vectorised gains: FASTEM_KPP with the tile's products and the gains in
   registers (the generic loops keep them in memory), the same arithmetic in the same
   order, so the same gains and distances bit for bit. */

/* The loops around the tiles, for both precisions: TILE computes the tile's products
   into registers, LOHI row r's distances before the clip at 0 into lo_ (candidates 0-3)
   and hi_ (4-7) (no comma outside parentheses in either). */
#define FASTEM_KPP_AVX2(NAME, T, ROWS, SETUP, TILE, LOHI)                                 \
__attribute__((target("avx2,fma")))                                                       \
static void NAME(const T* X, const int* xsel, const int* sel, ptrdiff_t m, ptrdiff_t d, \
                 const T* ct, const T* cc, ptrdiff_t nc, const double* w, const double* xx, \
                 const double* closest, double* pot, double* D, ptrdiff_t dw, int* rows,  \
                 int* count) {                                                            \
    const __m256d zero = _mm256_setzero_pd();                                             \
    for (ptrdiff_t k0 = 0; k0 < nc; k0 += FASTEM_PANEL) {                                 \
        const ptrdiff_t real = nc - k0 < FASTEM_PANEL ? nc - k0 : FASTEM_PANEL;           \
        const T* pct = ct + k0 * d;                                                       \
        double* pd = D != NULL ? D + k0 / FASTEM_PANEL * FASTEM_BLOCK * dw : NULL;        \
        int* prow = D != NULL ? rows + (k0 / FASTEM_PANEL) * FASTEM_BLOCK : NULL;         \
        int listed = 0;                                                                   \
        SETUP                                                                             \
        double start[FASTEM_PANEL] = {0};                                                 \
        for (ptrdiff_t l = 0; l < real; ++l) start[l] = pot[k0 + l];                      \
        __m256d pv[2] = {_mm256_loadu_pd(start), _mm256_loadu_pd(start + 4)};             \
        for (ptrdiff_t b0 = 0; b0 < m; b0 += (ROWS)) {                                    \
            FASTEM_KPP_TILE_ROWS(T, X, xsel, b0, m, d, x, mm, ROWS)                       \
            TILE                                                                          \
            _Pragma("GCC unroll 12")   /* the products stay in registers */              \
            for (int r = 0; r < (ROWS); ++r) {                                            \
                if (r >= mm) break;                                                       \
                const ptrdiff_t o = FASTEM_KPP_ROW(sel, b0 + r);                          \
                FASTEM_KPP_NORM(T, o)                                                     \
                const __m256d nv = _mm256_set1_pd(norm);                                  \
                LOHI                                                                      \
                const __m256d lo = _mm256_max_pd(lo_, zero), hi = _mm256_max_pd(hi_, zero); \
                const __m256d c = _mm256_set1_pd(closest[o]);                             \
                const __m256d wv = _mm256_set1_pd(w != NULL ? w[o] : 1.0);                \
                pv[0] = _mm256_fmadd_pd(wv, _mm256_max_pd(_mm256_sub_pd(c, lo), zero), pv[0]); \
                pv[1] = _mm256_fmadd_pd(wv, _mm256_max_pd(_mm256_sub_pd(c, hi), zero), pv[1]); \
                if (pd != NULL) {   /* written at the next place, kept if nearer */       \
                    _mm256_storeu_pd(pd + listed * dw, lo);                               \
                    if (dw > 4) _mm256_storeu_pd(pd + listed * dw + 4, hi);               \
                    prow[listed] = (int)o;                                                \
                    listed += (_mm256_movemask_pd(_mm256_cmp_pd(lo, c, _CMP_LT_OQ)) |     \
                               _mm256_movemask_pd(_mm256_cmp_pd(hi, c, _CMP_LT_OQ))) != 0; \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        _mm256_storeu_pd(start, pv[0]);                                                   \
        _mm256_storeu_pd(start + 4, pv[1]);                                               \
        for (ptrdiff_t l = 0; l < real; ++l) pot[k0 + l] = start[l];                      \
        if (D != NULL) count[k0 / FASTEM_PANEL] = listed;                                 \
    }                                                                                     \
}

/* float32: a row's eight products in one vector, widened to float64 for the sums; the
   even and the odd features in two (FASTEM_KPP_PAIRED_DOTS), six rows. */
#define FASTEM_KPP_ROWS_F 6
FASTEM_KPP_AVX2(fastem_kpp_avx2_f, float, FASTEM_KPP_ROWS_F,
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 cq = _mm256_loadu_ps(cc + k0);,
    __m256 a[FASTEM_KPP_ROWS_F];
    __m256 ao[FASTEM_KPP_ROWS_F];
    for (int r = 0; r < FASTEM_KPP_ROWS_F; ++r) a[r] = ao[r] = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 1 < d; i += 2) {
        const __m256 ce = _mm256_loadu_ps(pct + i * FASTEM_PANEL);
        const __m256 co = _mm256_loadu_ps(pct + (i + 1) * FASTEM_PANEL);
        _Pragma("GCC unroll 6")
        for (int r = 0; r < FASTEM_KPP_ROWS_F; ++r) {
            a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x[r] + i), ce, a[r]);
            ao[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x[r] + i + 1), co, ao[r]);
        }
    }
    if (i < d) {
        const __m256 ce = _mm256_loadu_ps(pct + i * FASTEM_PANEL);
        _Pragma("GCC unroll 6")
        for (int r = 0; r < FASTEM_KPP_ROWS_F; ++r)
            a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x[r] + i), ce, a[r]);
    }
    for (int r = 0; r < FASTEM_KPP_ROWS_F; ++r) a[r] = _mm256_add_ps(a[r], ao[r]);,
    const __m256 e = _mm256_fnmadd_ps(two, a[r], cq);
    const __m256d lo_ = _mm256_add_pd(nv, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    const __m256d hi_ = _mm256_add_pd(nv, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));)

/* float32 with AVX-512: lane 2 l + h of a row's vector sums candidate l's products of
   the features of parity h, so that one 64-bit broadcast of a feature and the next, and
   the panel's two rows interleaved, give sixteen products at once (the sums of
   FASTEM_KPP_PAIRED_DOTS); twelve rows. */
#define FASTEM_KPP_ROWS_F512 12
FASTEM_AVX512_TARGET
static void fastem_kpp_avx512_f(const float* X, const int* xsel, const int* sel, ptrdiff_t m,
                                ptrdiff_t d, const float* ct, const float* cc, ptrdiff_t nc,
                                const double* w, const double* xx, const double* closest,
                                double* pot, double* D, ptrdiff_t dw, int* rows,
                                int* count) {
    const __m512i pair = _mm512_set_epi32(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
    const __m512i even = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512d zero = _mm512_setzero_pd();
    const __m256 two = _mm256_set1_ps(2.0f);
    for (ptrdiff_t k0 = 0; k0 < nc; k0 += FASTEM_PANEL) {
        const ptrdiff_t real = nc - k0 < FASTEM_PANEL ? nc - k0 : FASTEM_PANEL;
        const float* pct = ct + k0 * d;
        const __m256 cq = _mm256_loadu_ps(cc + k0);
        double* pd = D != NULL ? D + k0 / FASTEM_PANEL * FASTEM_BLOCK * dw : NULL;
        int* prow = D != NULL ? rows + (k0 / FASTEM_PANEL) * FASTEM_BLOCK : NULL;
        int listed = 0;
        double start[FASTEM_PANEL] = {0};
        for (ptrdiff_t l = 0; l < real; ++l) start[l] = pot[k0 + l];
        __m512d pv = _mm512_loadu_pd(start);
        for (ptrdiff_t b0 = 0; b0 < m; b0 += FASTEM_KPP_ROWS_F512) {
            FASTEM_KPP_TILE_ROWS(float, X, xsel, b0, m, d, x, mm, FASTEM_KPP_ROWS_F512)
            __m512 a[FASTEM_KPP_ROWS_F512];
            for (int r = 0; r < FASTEM_KPP_ROWS_F512; ++r) a[r] = _mm512_setzero_ps();
            ptrdiff_t i = 0;
            for (; i + 1 < d; i += 2) {
                const __m512 c = _mm512_permutexvar_ps(pair, _mm512_loadu_ps(pct + i * FASTEM_PANEL));
                _Pragma("GCC unroll 12")
                for (int r = 0; r < FASTEM_KPP_ROWS_F512; ++r) {
                    double u;
                    memcpy(&u, x[r] + i, sizeof u);
                    a[r] = _mm512_fmadd_ps(_mm512_castpd_ps(_mm512_set1_pd(u)), c, a[r]);
                }
            }
            if (i < d) {   /* the last, even feature: zeros in the odd lanes */
                const __m512 c = _mm512_permutexvar_ps(
                    pair, _mm512_zextps256_ps512(_mm256_loadu_ps(pct + i * FASTEM_PANEL)));
                _Pragma("GCC unroll 12")
                for (int r = 0; r < FASTEM_KPP_ROWS_F512; ++r)
                    a[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r][i]), c, a[r]);
            }
            _Pragma("GCC unroll 12")
            for (int r = 0; r < FASTEM_KPP_ROWS_F512; ++r) {
                if (r >= mm) break;
                const ptrdiff_t o = FASTEM_KPP_ROW(sel, b0 + r);
                FASTEM_KPP_NORM(float, o)
                const __m256 dots = _mm256_add_ps(
                    _mm512_castps512_ps256(_mm512_permutexvar_ps(even, a[r])),
                    _mm512_castps512_ps256(_mm512_permutexvar_ps(odd, a[r])));
                const __m256 e32 = _mm256_fnmadd_ps(two, dots, cq);
                const __m512d e = _mm512_max_pd(
                    _mm512_add_pd(_mm512_set1_pd(norm), _mm512_cvtps_pd(e32)), zero);
                const __m512d c = _mm512_set1_pd(closest[o]);
                const __m512d wv = _mm512_set1_pd(w != NULL ? w[o] : 1.0);
                pv = _mm512_fmadd_pd(wv, _mm512_max_pd(_mm512_sub_pd(c, e), zero), pv);
                if (pd != NULL) {   /* written at the next place, kept if nearer */
                    _mm512_mask_storeu_pd(pd + listed * dw, dw > 4 ? 0xFF : 0x0F, e);
                    prow[listed] = (int)o;
                    listed += _mm512_cmp_pd_mask(e, c, _CMP_LT_OQ) != 0;
                }
            }
        }
        _mm512_storeu_pd(start, pv);
        for (ptrdiff_t l = 0; l < real; ++l) pot[k0 + l] = start[l];
        if (D != NULL) count[k0 / FASTEM_PANEL] = listed;
    }
}

/* float64: a row's eight products in two vectors. */
#define FASTEM_KPP_ROWS_D 6
FASTEM_KPP_AVX2(fastem_kpp_avx2_d, double, FASTEM_KPP_ROWS_D,
    const __m256d two = _mm256_set1_pd(2.0);
    const __m256d cq0 = _mm256_loadu_pd(cc + k0);
    const __m256d cq1 = _mm256_loadu_pd(cc + k0 + 4);,
    __m256d a0[FASTEM_KPP_ROWS_D];
    __m256d a1[FASTEM_KPP_ROWS_D];
    for (int r = 0; r < FASTEM_KPP_ROWS_D; ++r) a0[r] = a1[r] = _mm256_setzero_pd();
    for (ptrdiff_t i = 0; i < d; ++i) {
        const __m256d c0 = _mm256_loadu_pd(pct + i * FASTEM_PANEL);
        const __m256d c1 = _mm256_loadu_pd(pct + i * FASTEM_PANEL + 4);
        _Pragma("GCC unroll 6")
        for (int r = 0; r < FASTEM_KPP_ROWS_D; ++r) {
            const __m256d u = _mm256_broadcast_sd(x[r] + i);
            a0[r] = _mm256_fmadd_pd(u, c0, a0[r]);
            a1[r] = _mm256_fmadd_pd(u, c1, a1[r]);
        }
    },
    const __m256d lo_ = _mm256_add_pd(nv, _mm256_fnmadd_pd(two, a0[r], cq0));
    const __m256d hi_ = _mm256_add_pd(nv, _mm256_fnmadd_pd(two, a1[r], cq1));)
#endif

/* hand_vectorised = 0 forces the generic version (for the tests). */
#define FASTEM_KPP_PICK(T, SFX)                                                           \
FASTEM_UNUSED static void fastem_kpp_##SFX(const T* X, const int* xsel, const int* sel, \
                                           ptrdiff_t m,                                   \
                                           ptrdiff_t d, const T* ct, const T* cc,         \
                                           ptrdiff_t nc, const double* w,                 \
                                           const double* xx, const double* closest,       \
                                           double* pot, double* D, ptrdiff_t dw,          \
                                           int* rows,                                     \
                                           int* count, int hand_vectorised) {             \
    if (FASTEM_KPP_512_##SFX && hand_vectorised >= 2 && FASTEM_HAS_AVX512())              \
        FASTEM_AVX2_CALL(FASTEM_KPP_512_CALL_##SFX(X, xsel, sel, m, d, ct, cc, nc, w, xx, \
                                                   closest, pot, D, dw, rows, count));    \
    if (hand_vectorised && FASTEM_HAS_AVX2())                                             \
        FASTEM_AVX2_CALL(fastem_kpp_avx2_##SFX(X, xsel, sel, m, d, ct, cc, nc, w, xx,     \
                                               closest, pot, D, dw, rows, count));        \
    fastem_kpp_generic_##SFX(X, xsel, sel, m, d, ct, cc, nc, w, xx, closest, pot, D,      \
                             dw, rows, count);                                            \
}
#ifdef FASTEM_NEAREST_AVX2   /* AVX-512 for float32 only */
#define FASTEM_KPP_512_f 1
#define FASTEM_KPP_512_CALL_f fastem_kpp_avx512_f
#else
#define FASTEM_KPP_512_f 0
#define FASTEM_KPP_512_CALL_f(...) ((void)0)
#endif
#define FASTEM_KPP_512_d 0
#define FASTEM_KPP_512_CALL_d(...) ((void)0)
FASTEM_KPP_PICK(double, d)
FASTEM_KPP_PICK(float, f)

/* The rows of a block of nb that a new center (or any of several candidates) can come
   nearer to, their offsets into sel in order; returns their number. Row b, whose
   nearest center so far is lab[b] at squared distance closest[b], is left out when
   4 (closest[b] + slack) <= gaps[lab[b]]: gaps[j] is at most the squared distance from
   center j to the new ones and slack bounds the rounding of the distances by expansion,
   so, by the triangle inequality, their computed distances to the row are at least
   closest[b]. gaps NULL (or lab NULL) keeps every row, as does a label outside
   [0, n_gaps). */
FASTEM_CLONES static ptrdiff_t fastem_kpp_select(ptrdiff_t nb, const double* closest,
                                                 const int* lab, const double* gaps,
                                                 ptrdiff_t n_gaps, double slack, int* sel) {
    ptrdiff_t m = 0;
    if (gaps == NULL || lab == NULL) {
        for (ptrdiff_t b = 0; b < nb; ++b) sel[b] = (int)b;
        return nb;
    }
    for (ptrdiff_t b = 0; b < nb; ++b) {
        const size_t j = (size_t)(ptrdiff_t)lab[b];
        const int known = j < (size_t)n_gaps;
        const double g = gaps[known ? j : 0];
        sel[m] = (int)b;
        m += !(known & (4 * (closest[b] + slack) <= g));
    }
    return m;
}

/* The squared distances dist[j] = max(xx_o + cc - 2 x_o . c, 0) of the rows o = sel[j]
   (row xsel[j] of X; j < m, NULL: j) to one center c (squared norm cc), with xx as for the
   gains; when xx is NULL and xx_out is not, the norms computed here are written to
   xx_out[o]. A single center: dot products along the rows. */
#define FASTEM_KPP_DIST1(NAME, T)                                                         \
FASTEM_CLONES static void NAME(const T* X, const int* xsel, const int* sel, ptrdiff_t m, \
                               ptrdiff_t d, const T* C, T cc, const double* xx,           \
                               double* xx_out,                                            \
                               double* dist) {                                            \
    for (ptrdiff_t j = 0; j < m; ++j) {                                                   \
        const ptrdiff_t o = FASTEM_KPP_ROW(sel, j);                                       \
        const T* FASTEM_RESTRICT x = X + FASTEM_KPP_ROW(xsel, j) * d;                     \
        T dot = 0;                                                                        \
        FASTEM_PRAGMA(omp simd reduction(+:dot))                                          \
        for (ptrdiff_t i = 0; i < d; ++i) dot += x[i] * C[i];                             \
        double norm;                                                                      \
        if (xx != NULL) {                                                                 \
            norm = xx[o];                                                                 \
        } else {                                                                          \
            T sq = 0;                                                                     \
            FASTEM_PRAGMA(omp simd reduction(+:sq))                                       \
            for (ptrdiff_t i = 0; i < d; ++i) sq += x[i] * x[i];                          \
            norm = (double)sq;                                                            \
            if (xx_out != NULL) xx_out[o] = norm;                                         \
        }                                                                                 \
        const double e = norm + (double)(cc - 2 * dot);                                   \
        dist[j] = e > 0 ? e : 0.0;                                                        \
    }                                                                                     \
}
FASTEM_KPP_DIST1(fastem_kpp_dist1_d, double)
FASTEM_KPP_DIST1(fastem_kpp_dist1_f, float)

/* closest[o] = dist[j * stride] and lab[o] = label (lab not NULL) where that is nearer,
   for the rows o = sel[j] of a block of nb (j < m; offsets outside [0, nb) are passed
   over); returns whether any row came nearer. */
FASTEM_UNUSED static int fastem_kpp_fold(ptrdiff_t nb, const int* sel, ptrdiff_t m,
                                         const double* dist, ptrdiff_t stride,
                                         double* closest, int* lab, int label) {
    int changed = 0;
    for (ptrdiff_t j = 0; j < m; ++j) {     /* without branches on the distances */
        const size_t o = (size_t)(ptrdiff_t)sel[j];
        if (o >= (size_t)nb) continue;
        const double v = dist[j * stride], c = closest[o];
        const int nearer = v < c;
        closest[o] = nearer ? v : c;
        if (lab != NULL) lab[o] = nearer ? label : lab[o];
        changed |= nearer;
    }
    return changed;
}

/* The sum of w_b closest_b over the nb rows of a block, in order (w NULL: unit). */
FASTEM_UNUSED static double fastem_kpp_block_sum(ptrdiff_t nb, const double* w,
                                                 const double* closest) {
    double sum = 0.0;
    for (ptrdiff_t b = 0; b < nb; ++b) sum += w == NULL ? closest[b] : w[b] * closest[b];
    return sum;
}

/* t = x - n ln2 with n = round(x / ln 2), x = diff clipped below at LIMIT, for T whose
   rounding constant MAGIC is 1.5 * 2^(mantissa bits): shifted holds n in its low bits. */
#define FASTEM_EXP_REDUCE(T, LIMIT, LN2_HI, LN2_LO, MAGIC, diff)                          \
    const T x = (diff) >= (T)(LIMIT) ? (diff) : (T)(LIMIT);                               \
    const T shifted = x * (T)1.4426950408889634 + (T)(MAGIC);                             \
    const T n = shifted - (T)(MAGIC);                                                     \
    const T t = (x - n * (T)(LN2_HI)) - n * (T)(LN2_LO);

/* exp(diff) for diff <= 0 (0 below -708, and for NaN from -inf - -inf): range reduction
   to |t| <= ln2/2 and a degree-12 Taylor polynomial evaluated by Estrin's scheme (its
   chain of dependent multiply-adds is 4 long rather than Horner's 13, which bounded the
   loop's speed: measured 7-9% of the posteriors), relative error below 5e-16 with FMA,
   branch-free arithmetic and 2^n built from the bits of the rounding constant, so that
   loops calling it vectorise. */
static inline double fastem_exp_core(double diff) {
    FASTEM_EXP_REDUCE(double, -708.0, 0.6931471805599453, 2.3190468138462996e-17,
                      6755399441055744.0, diff)
    const double t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    const double a0 = 1.0 + t, a1 = 0.5 + t * (1.0 / 6.0), a2 = 1.0 / 24.0 + t * (1.0 / 120.0),
                 a3 = 1.0 / 720.0 + t * (1.0 / 5040.0), a4 = 1.0 / 40320.0 + t * (1.0 / 362880.0),
                 a5 = 1.0 / 3628800.0 + t * (1.0 / 39916800.0), a6 = 1.0 / 479001600.0;
    const double b0 = a0 + t2 * a1, b1 = a2 + t2 * a3, b2 = a4 + t2 * a5;
    const double c0 = b0 + t4 * b1, c1 = b2 + t4 * a6;
    const double p = c0 + t8 * c1;
    unsigned long long bits;
    double scale;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4338000000000000ULL + 1023ULL) << 52;
    memcpy(&scale, &bits, sizeof scale);
    return diff >= -708.0 ? p * scale : 0.0;
}

/* The float32 counterpart of fastem_exp_core, for the E-step of float32 data (whose
   quadratic forms carry float32 rounding already): exp(diff) for diff <= 0, 0 below
   -87 (the smallest normal floats) and for NaN; range reduction to |t| <= ln2/2 and a
   degree-7 Taylor polynomial (relative error below 2e-7), eight lanes to a vector. */
static inline float fastem_expf_core(float diff) {
    FASTEM_EXP_REDUCE(float, -87.0f, 0.693145751953125f, 1.42860677e-06f, 12582912.0f, diff)
    const float t2 = t * t, t4 = t2 * t2;
    const float a0 = 1.0f + t, a1 = 0.5f + t * (1.0f / 6.0f),
                a2 = 1.0f / 24.0f + t * (1.0f / 120.0f), a3 = 1.0f / 720.0f + t * (1.0f / 5040.0f);
    const float p = (a0 + t2 * a1) + t4 * (a2 + t2 * a3);
    unsigned int bits;
    float scale;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4b400000u + 127u) << 23;
    memcpy(&scale, &bits, sizeof scale);
    return diff >= -87.0f ? p * scale : 0.0f;
}

/* log(x) for 1 <= x < 2^1023 (the sum of a row's densities relative to its largest),
   written like fastem_exp_core so that the loop calling it vectorises (glibc's log is a
   call per row: measured 15% of an EM iteration at d = 2). x = 2^e m with m in
   [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) for s = (m - 1) / (m + 1), |s| < 0.1716, by
   its series to s^23 (the next term is below 1e-18); within 2 ulp of the exact value. */
/* x = 2^e m with m in [sqrt(1/2), sqrt(2)), s = (m - 1) / (m + 1), z = s^2, for x of
   type T whose bits are the unsigned U: MB mantissa bits, the exponent bias BIAS. */
#define FASTEM_LOG_REDUCE(T, U, MB, BIAS, x)                                              \
    U bits, ebits;                                                                        \
    T m, e;                                                                               \
    memcpy(&bits, &(x), sizeof bits);                                                     \
    /* the exponent as a T: 2^MB + biased exponent, less 2^MB + BIAS */                   \
    ebits = (bits >> (MB)) | ((U)((MB) + (BIAS)) << (MB));                                \
    memcpy(&e, &ebits, sizeof e);                                                         \
    e -= (T)(((U)1 << (MB)) + (BIAS));                                                    \
    bits = (bits & (((U)1 << (MB)) - 1)) | ((U)(BIAS) << (MB));                           \
    memcpy(&m, &bits, sizeof m);                       /* m in [1, 2) */                  \
    const int big = m > (T)1.4142135623730951;                                            \
    m = big ? (T)0.5 * m : m;                                                             \
    e = big ? e + (T)1 : e;                                                               \
    const T s = (m - (T)1) / (m + (T)1), z = s * s;

static inline double fastem_log_core(double x) {
    const double ln2_hi = 0.6931471805599453, ln2_lo = 2.3190468138462996e-17;
    FASTEM_LOG_REDUCE(double, unsigned long long, 52, 1023, x)
    double p = 1.0 / 23.0;
    p = p * z + 1.0 / 21.0;
    p = p * z + 1.0 / 19.0;
    p = p * z + 1.0 / 17.0;
    p = p * z + 1.0 / 15.0;
    p = p * z + 1.0 / 13.0;
    p = p * z + 1.0 / 11.0;
    p = p * z + 1.0 / 9.0;
    p = p * z + 1.0 / 7.0;
    p = p * z + 1.0 / 5.0;
    p = p * z + 1.0 / 3.0;
    return e * ln2_hi + (e * ln2_lo + 2.0 * s + 2.0 * s * z * p);
}

/* sum(a) in float64 in a fixed order: sixteen running sums (four vectors: one chain
   of dependent adds was the loop's bound), then the tail, then the sums pairwise. */
#define FASTEM_SUM_ROWS(NAME, T)                                                          \
FASTEM_CLONES static double NAME(const T* a, ptrdiff_t n) {                               \
    double s[16] = {0};                                                                   \
    ptrdiff_t i = 0;                                                                      \
    for (; i + 16 <= n; i += 16) {                                                        \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (int l = 0; l < 16; ++l) s[l] += (double)a[i + l];                            \
    }                                                                                     \
    for (int l = 0; i < n; ++i, ++l) s[l] += (double)a[i];                                \
    for (int h = 8; h > 0; h /= 2)                                                        \
        for (int l = 0; l < h; ++l) s[l] += s[l + h];                                     \
    return s[0];                                                                          \
}
FASTEM_SUM_ROWS(fastem_sum_rows_d, double)
FASTEM_SUM_ROWS(fastem_sum_rows_f, float)

/* out[b] = ln - quad[b] / 2: a component's log-densities from its quadratic forms, and
   lse[b] = the largest of the row's log-densities so far (from -inf for the first
   component), as the posteriors need. */
FASTEM_CLONES static void fastem_log_densities(const double* FASTEM_RESTRICT quad,
                                               ptrdiff_t nb, double ln,
                                               double* FASTEM_RESTRICT out,
                                               double* FASTEM_RESTRICT lse, int first) {
    FASTEM_PRAGMA(omp simd)
    for (ptrdiff_t b = 0; b < nb; ++b) {
        const double v = ln - 0.5 * quad[b], m = first ? -INFINITY : lse[b];
        out[b] = v;
        lse[b] = v > m ? v : m;
    }
}

/* The float32 counterpart of fastem_log_core, for 1 <= x < 2^127 (float32 data): the
   same reduction, the series to s^9 (the next term is below 3e-9 relative). */
static inline float fastem_logf_core(float x) {
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860677e-06f;
    FASTEM_LOG_REDUCE(float, unsigned int, 23, 127, x)
    const float p = (1.0f / 3.0f + z * (1.0f / 5.0f)) + (z * z) * (1.0f / 7.0f + z * (1.0f / 9.0f));
    return e * ln2_hi + (e * ln2_lo + 2.0f * s + 2.0f * s * z * p);
}

/* sum_b w_b lse[b] over the block's rows (row b is rows[b] or row0 + b of the data),
   skipping zero weights, and lse_out[row] = lse[b] when lse_out is not NULL. */
FASTEM_CLONES static double fastem_row_log_likelihoods(const double* lse, ptrdiff_t nb,
                                                       const double* w,
                                                       const ptrdiff_t* rows, ptrdiff_t row0,
                                                       double* lse_out) {
    double total = 0.0;
    if (w == NULL && rows == NULL) {
        FASTEM_PRAGMA(omp simd reduction(+:total))
        for (ptrdiff_t b = 0; b < nb; ++b) total += lse[b];
    } else {
        for (ptrdiff_t b = 0; b < nb; ++b) {
            const double ww = w != NULL ? w[rows != NULL ? rows[b] : row0 + b] : 1.0;
            if (ww != 0.0) total += ww * lse[b];
        }
    }
    if (lse_out != NULL)
        for (ptrdiff_t b = 0; b < nb; ++b) lse_out[rows != NULL ? rows[b] : row0 + b] = lse[b];
    return total;
}

/* The float64 posteriors' exponentials on AVX2 and FMA, and on AVX-512 (eight rows; at
   d = 2 in float64 the AVX2 ones were 29% of the pass on the Xeon with AVX-512, the
   pass 5.9 -> 4.9 ms at n = 10^6, k = 5): resp[k, b] = exp(logp[k, b] -
   lse[b]) and scale[b] = their sum over k (in the order of k), four rows at a time;
   fastem_exp_core's operations in its order (the same results bit for bit), the
   clipping by one max. The compiler's vector version of the generic loop blended
   precomputed results for the clipped arguments into every lane (measured: 45
   instructions per four exponentials). Component by component, as the generic loop:
   every component of four rows at a time read columns of the block that share a few
   cache sets (3.8% slower for the pass at k = 32). */
#if defined(FASTEM_GAUSSIAN_AVX2)
/* exp(diff) on the vectors of prefix PX (_mm256_ or _mm512_); KEEP(e, diff) zeroes the
   lanes whose diff is below -708 (or NaN); BITS is the vectors' width */
#define FASTEM_EXP_SIMD(NAME, V, PX, BITS, TARGET, SET1I, KEEP)                           \
TARGET static inline V NAME(V diff) {                                                     \
    const V x = PX##max_pd(diff, PX##set1_pd(-708.0));   /* NaN: -708 */                  \
    const V magic = PX##set1_pd(6755399441055744.0);                                      \
    const V shifted = PX##fmadd_pd(x, PX##set1_pd(1.4426950408889634), magic);           \
    const V n = PX##sub_pd(shifted, magic);                                               \
    const V t = PX##fnmadd_pd(n, PX##set1_pd(2.3190468138462996e-17),                     \
                              PX##fnmadd_pd(n, PX##set1_pd(0.6931471805599453), x));      \
    const V t2 = PX##mul_pd(t, t), t4 = PX##mul_pd(t2, t2);                               \
    const V t8 = PX##mul_pd(t4, t4);                                                      \
    const V a0 = PX##add_pd(PX##set1_pd(1.0), t);                                         \
    const V a1 = PX##fmadd_pd(t, PX##set1_pd(1.0 / 6.0), PX##set1_pd(0.5));               \
    const V a2 = PX##fmadd_pd(t, PX##set1_pd(1.0 / 120.0), PX##set1_pd(1.0 / 24.0));      \
    const V a3 = PX##fmadd_pd(t, PX##set1_pd(1.0 / 5040.0), PX##set1_pd(1.0 / 720.0));    \
    const V a4 = PX##fmadd_pd(t, PX##set1_pd(1.0 / 362880.0), PX##set1_pd(1.0 / 40320.0)); \
    const V a5 = PX##fmadd_pd(t, PX##set1_pd(1.0 / 39916800.0), PX##set1_pd(1.0 / 3628800.0)); \
    const V b0 = PX##fmadd_pd(t2, a1, a0), b1 = PX##fmadd_pd(t2, a3, a2);                 \
    const V b2 = PX##fmadd_pd(t2, a5, a4);                                                \
    const V c0 = PX##fmadd_pd(t4, b1, b0);                                                \
    const V c1 = PX##fmadd_pd(t4, PX##set1_pd(1.0 / 479001600.0), b2);                    \
    const V p = PX##fmadd_pd(t8, c1, c0);                                                 \
    const V e = PX##mul_pd(p, PX##castsi##BITS##_pd(PX##slli_epi64(                      \
        PX##add_epi64(PX##castpd_si##BITS(shifted),                                       \
                      SET1I((long long)(1023ULL - 0x4338000000000000ULL))), 52)));        \
    return KEEP(e, diff);                                                                 \
}
/* the rows loop on those vectors, VL lanes; the last rows by fastem_exp_core */
#define FASTEM_EXP_ROWS_SIMD(NAME, EXP, V, VL, PX, TARGET)                                \
TARGET static void NAME(const double* logp, double* resp, ptrdiff_t nb, ptrdiff_t K,     \
                        const double* lse, double* scale) {                               \
    const ptrdiff_t nv = nb / VL * VL;                                                    \
    for (ptrdiff_t b = 0; b < nb; ++b) scale[b] = 0;                                      \
    for (ptrdiff_t k = 0; k < K; ++k) {                                                   \
        const double* v = logp + k * FASTEM_BLOCK;                                        \
        double* r = resp + k * FASTEM_BLOCK;                                              \
        for (ptrdiff_t b = 0; b < nv; b += VL) {                                          \
            const V e = EXP(PX##sub_pd(PX##loadu_pd(v + b), PX##loadu_pd(lse + b)));      \
            PX##storeu_pd(r + b, e);                                                      \
            PX##storeu_pd(scale + b, PX##add_pd(PX##loadu_pd(scale + b), e));             \
        }                                                                                 \
        for (ptrdiff_t b = nv; b < nb; ++b) {                                             \
            const double e = fastem_exp_core(v[b] - lse[b]);                              \
            r[b] = e;                                                                     \
            scale[b] += e;                                                                \
        }                                                                                 \
    }                                                                                     \
}
#define FASTEM_KEEP_AVX2(e, diff) \
    _mm256_and_pd(e, _mm256_cmp_pd(diff, _mm256_set1_pd(-708.0), _CMP_GE_OQ))
#define FASTEM_KEEP_AVX512(e, diff) \
    _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(diff, _mm512_set1_pd(-708.0), _CMP_GE_OQ), e)
FASTEM_EXP_SIMD(fastem_exp_pd, __m256d, _mm256_, 256, __attribute__((target("avx2,fma"))),
                _mm256_set1_epi64x, FASTEM_KEEP_AVX2)
FASTEM_EXP_SIMD(fastem_exp512_pd, __m512d, _mm512_, 512, FASTEM_AVX512_TARGET,
                _mm512_set1_epi64, FASTEM_KEEP_AVX512)
FASTEM_EXP_ROWS_SIMD(fastem_exp_rows_avx2, fastem_exp_pd, __m256d, 4, _mm256_,
                     __attribute__((target("avx2,fma"))))
FASTEM_EXP_ROWS_SIMD(fastem_exp_rows_avx512, fastem_exp512_pd, __m512d, 8, _mm512_,
                     FASTEM_AVX512_TARGET)
/* AVX-512 at level 2, AVX2 at level 1: the same results bit for bit */
#define FASTEM_EXP_ROWS_pd(logp, resp, nb, K, lse, scale, level)                          \
    ((level) >= 2 && FASTEM_HAS_AVX512()                                                  \
         ? (fastem_exp_rows_avx512(logp, resp, nb, K, lse, scale), 1)                     \
         : FASTEM_HAS_AVX2() ? (fastem_exp_rows_avx2(logp, resp, nb, K, lse, scale), 1) : 0)
#else
#define FASTEM_EXP_ROWS_pd(logp, resp, nb, K, lse, scale, level) 0
#endif
#define FASTEM_EXP_ROWS_ps(logp, resp, nb, K, lse, scale, level) 0
#define FASTEM_EXPF(x) fastem_expf_core((float)(x))

/* The block's log-densities logp (K x FASTEM_BLOCK), whose row maxima lse holds (see
   fastem_log_densities), become responsibilities in resp (K x FASTEM_BLOCK, of type T;
   float64: resp may be logp itself), weighted by w (per row of the data, or NULL for
   unit weights), those below 2^-64 as 0 in float32 (see FASTEM_WEIGHT); row b of the
   block is row rows[b] (or row0 + b) of the data. Each density is exponentiated once,
   by EXP, relative to its row's largest; LOG takes the logarithm of the rows' sums.
   lse[b] receives the row's log-likelihood (also written to lse_out[row], and the
   unweighted responsibilities to resp_out[row, k], when those are not NULL); scale is
   scratch of FASTEM_BLOCK of type T. Returns sum_b w_b lse[b], skipping zero weights.
   Stable when every term of a row is -inf. float32 data (fastem_posteriors_f) is
   exponentiated in float32, eight to a vector (measured 1.8-2x faster than in float64),
   with rounding below that of its float32 quadratic forms. */
#define FASTEM_POSTERIORS(NAME, T, EXP, LOG, SFX)                                         \
FASTEM_CLONES static double NAME(const double* logp, T* resp, ptrdiff_t nb, ptrdiff_t K,  \
                                 const double* w, const ptrdiff_t* rows, ptrdiff_t row0,  \
                                 double* resp_out, double* lse_out,                       \
                                 double* FASTEM_RESTRICT lse, T* FASTEM_RESTRICT scale,   \
                                 int hand_vectorised) {                                   \
    if (!(hand_vectorised &&                                                              \
          FASTEM_EXP_ROWS_##SFX(logp, resp, nb, K, lse, scale, hand_vectorised))) {          \
        for (ptrdiff_t b = 0; b < nb; ++b) scale[b] = 0;                                  \
        for (ptrdiff_t k = 0; k < K; ++k) {                                               \
            const double* v = logp + k * FASTEM_BLOCK;                                    \
            T* r = resp + k * FASTEM_BLOCK;                                               \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (ptrdiff_t b = 0; b < nb; ++b) {                                          \
                const T e = EXP(v[b] - lse[b]);                                           \
                r[b] = e;                                                                 \
                scale[b] += e;                                                            \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    FASTEM_PRAGMA(omp simd)                                                               \
    for (ptrdiff_t b = 0; b < nb; ++b) {                                                  \
        const int some = lse[b] != -INFINITY;   /* else every density is 0 */             \
        const T sc = some ? scale[b] : (T)1;                                              \
        lse[b] = some ? lse[b] + (double)LOG(sc) : lse[b];                                \
        scale[b] = some ? (T)1 / sc : (T)0;                                               \
    }                                                                                     \
    const double total = fastem_row_log_likelihoods(lse, nb, w, rows, row0, lse_out);     \
    for (ptrdiff_t k = 0; k < K; ++k) {                                                   \
        T* r = resp + k * FASTEM_BLOCK;                                                   \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (ptrdiff_t b = 0; b < nb; ++b) r[b] *= scale[b];                              \
        if (resp_out != NULL)                                                             \
            for (ptrdiff_t b = 0; b < nb; ++b)                                            \
                resp_out[(rows != NULL ? rows[b] : row0 + b) * K + k] = (double)r[b];     \
    }                                                                                     \
    if (w == NULL && sizeof(T) == sizeof(double)) return total;                           \
    if (w != NULL)                                                                        \
        for (ptrdiff_t b = 0; b < nb; ++b) scale[b] = (T)w[rows != NULL ? rows[b] : row0 + b]; \
    for (ptrdiff_t k = 0; k < K; ++k) {                                                   \
        T* r = resp + k * FASTEM_BLOCK;                                                   \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const T v = w != NULL ? r[b] * scale[b] : r[b];                               \
            r[b] = FASTEM_WEIGHT(T, v);                                                   \
        }                                                                                 \
    }                                                                                     \
    return total;                                                                         \
}
FASTEM_POSTERIORS(fastem_posteriors_d, double, fastem_exp_core, fastem_log_core, pd)
FASTEM_POSTERIORS(fastem_posteriors_f, float, FASTEM_EXPF, fastem_logf_core, ps)

#endif
