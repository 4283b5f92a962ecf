/* Inner loops of the Gaussian kernel, written so the compiler vectorises them.
 *
 * Rows of a block are stored feature-major (x[i * FASTEM_BLOCK + b]), so every loop below
 * runs over the rows of the block. Reductions use `omp simd reduction`, enabled by
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
#define FASTEM_LANES 8
/* centers per register tile of the nearest-center search (measured best of 4 to 8) */
#define FASTEM_TILE_CENTERS 6

#if defined(__GNUC__) || defined(__clang__)
#define FASTEM_PRAGMA(x) _Pragma(#x)
#define FASTEM_RESTRICT __restrict__
#else /* MSVC: no `omp simd` in its C OpenMP; /O2 still vectorises the plain loops */
#define FASTEM_PRAGMA(x)
#define FASTEM_RESTRICT __restrict
#endif

/* On x86-64 Linux with GCC each loop is also compiled for AVX2+FMA (and most for
   AVX-512) and the best version is picked when the module loads (the baseline wheel
   target is SSE2). The float64 register-tiled full-covariance kernels stay at AVX2
   (measured: AVX-512 made them 20% slower at d = 50 on AMD Zen 4, while the float32
   ones gain 10-15% from its 32 registers). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FASTEM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define FASTEM_CLONES_AVX2 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define FASTEM_CLONES
#define FASTEM_CLONES_AVX2
#endif

/* yt = xt - mu, feature by feature, over `padded` rows of a block. */
#define FASTEM_SHIFT(NAME, T)                                                             \
FASTEM_CLONES static void NAME(const T* xt, ptrdiff_t padded, ptrdiff_t d, const T* mu,  \
                               T* yt) {                                                   \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const T* FASTEM_RESTRICT x = xt + i * FASTEM_BLOCK;                               \
        T* FASTEM_RESTRICT y = yt + i * FASTEM_BLOCK;                                     \
        const T m = mu[i];                                                                \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (ptrdiff_t b = 0; b < padded; ++b) y[b] = x[b] - m;                           \
    }                                                                                     \
}
FASTEM_SHIFT(fastem_shift_d, double)
FASTEM_SHIFT(fastem_shift_f, float)

/* quad[b] = || y_b @ P - cs ||^2 for upper-triangular P (d x d, row-major, exact zeros
   below the diagonal), rows 0..nb-1; cs = mu @ P makes it the length of (x_b - mu) @ P
   without a shifted copy of the rows (as scikit-learn computes it), or is NULL. Eight rows and six columns of P at a
   time (four for narrow P): the partial products stay in registers and enough independent accumulator
   chains hide the multiply-add latency; within a tile the zeros below the diagonal are
   multiplied rather than skipped, so every column runs the same loop. */
#define FASTEM_QUAD_TRIANGULAR(NAME, T, CLONES, TILE)                                     \
CLONES static void NAME(const T* yt, ptrdiff_t nb, ptrdiff_t d, const T* P,               \
                        const T* cs, double* quad) {                                      \
    enum { TC = TILE };                                                                   \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_LANES) {                                 \
        T q[FASTEM_LANES] = {0};                                                          \
        for (ptrdiff_t j0 = 0; j0 < d; j0 += TC) {                                        \
            ptrdiff_t jj[TC];                                                             \
            for (int t = 0; t < TC; ++t) jj[t] = j0 + t < d ? j0 + t : d - 1;             \
            const ptrdiff_t iend = j0 + TC < d ? j0 + TC : d;                             \
            T a[TC][FASTEM_LANES] = {{0}};                                                \
            for (ptrdiff_t i = 0; i < iend; ++i) {                                        \
                const T* y = yt + i * FASTEM_BLOCK + b0;                                  \
                const T* row = P + i * d;                                                 \
                T u[TC];                                                                  \
                for (int t = 0; t < TC; ++t) u[t] = row[jj[t]];                           \
                for (int t = 0; t < TC; ++t) {                                            \
                    FASTEM_PRAGMA(omp simd)                                               \
                    for (int l = 0; l < FASTEM_LANES; ++l) a[t][l] += u[t] * y[l];        \
                }                                                                         \
            }                                                                             \
            for (int t = 0; t < TC; ++t) {                                                \
                if (j0 + t >= d) break;                                                   \
                const T c = cs != NULL ? cs[j0 + t] : (T)0;                               \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < FASTEM_LANES; ++l) {                                  \
                    const T v = a[t][l] - c;                                              \
                    q[l] += v * v;                                                        \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        const ptrdiff_t m = nb - b0 < FASTEM_LANES ? nb - b0 : FASTEM_LANES;              \
        for (ptrdiff_t l = 0; l < m; ++l) quad[b0 + l] = (double)q[l];                    \
    }                                                                                     \
}
FASTEM_QUAD_TRIANGULAR(fastem_quad_triangular_d, double, FASTEM_CLONES_AVX2, 6)
FASTEM_QUAD_TRIANGULAR(fastem_quad_triangular_f, float, FASTEM_CLONES, 6)
FASTEM_QUAD_TRIANGULAR(fastem_quad_triangular4_d, double, FASTEM_CLONES_AVX2, 4)
FASTEM_QUAD_TRIANGULAR(fastem_quad_triangular4_f, float, FASTEM_CLONES, 4)

/* s2[tri(i, j)] += sum_b w[b] y[i, b] y[j, b] for j >= i (packed upper triangle), and
   s1[i] += sum_b w[b] y[i, b]. wy is scratch of d * FASTEM_BLOCK. Two rows of the
   result at a time against four columns: six loads per eight multiply-adds. */
#define FASTEM_MOMENTS(NAME, T, CLONES)                                                           \
CLONES static void NAME(const T* yt, const double* w, ptrdiff_t nb, ptrdiff_t d,  \
                               double* s1, double* s2, T* wy) {                                  \
    T wt[FASTEM_BLOCK];     /* the weights in the data's precision, converted once */     \
    FASTEM_PRAGMA(omp simd)                                                               \
    for (ptrdiff_t b = 0; b < nb; ++b) wt[b] = (T)w[b];                                   \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const T* y = yt + i * FASTEM_BLOCK;                                               \
        T* o = wy + i * FASTEM_BLOCK;                                                     \
        T s = 0;                                                                          \
        FASTEM_PRAGMA(omp simd reduction(+:s))                                            \
        for (ptrdiff_t b = 0; b < nb; ++b) { o[b] = wt[b] * y[b]; s += o[b]; }            \
        s1[i] += (double)s;                                                               \
    }                                                                                     \
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
            T a00 = 0, a01 = 0, a02 = 0, a03 = 0, a10 = 0, a11 = 0, a12 = 0, a13 = 0;     \
            FASTEM_PRAGMA(omp simd reduction(+:a00,a01,a02,a03,a10,a11,a12,a13))          \
            for (ptrdiff_t b = 0; b < nb; ++b) {                                          \
                a00 += u0[b] * v0[b]; a01 += u0[b] * v1[b];                               \
                a02 += u0[b] * v2[b]; a03 += u0[b] * v3[b];                               \
                a10 += u1[b] * v0[b]; a11 += u1[b] * v1[b];                               \
                a12 += u1[b] * v2[b]; a13 += u1[b] * v3[b];                               \
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
FASTEM_MOMENTS(fastem_moments_d, double, FASTEM_CLONES_AVX2)
FASTEM_MOMENTS(fastem_moments_f, float, FASTEM_CLONES)

/* With y = x - mu (mu may be NULL for rows already shifted): s1[i] += sum_b w[b] y[i, b]
   and s2[i] += sum_b w[b] y[i, b]^2 (diagonal moments). */
#define FASTEM_MOMENTS_DIAG(NAME, T)                                                      \
FASTEM_CLONES static void NAME(const T* xt, const T* mu, const double* w, ptrdiff_t nb,  \
                               ptrdiff_t d, double* s1, double* s2) {                     \
    T wt[FASTEM_BLOCK];     /* the weights in the data's precision, converted once */     \
    FASTEM_PRAGMA(omp simd)                                                               \
    for (ptrdiff_t b = 0; b < nb; ++b) wt[b] = (T)w[b];                                   \
    for (ptrdiff_t i = 0; i < d; ++i) {                                                   \
        const T* x = xt + i * FASTEM_BLOCK;                                               \
        const T m = mu != NULL ? mu[i] : (T)0;                                            \
        T a = 0, q = 0;                                                                   \
        FASTEM_PRAGMA(omp simd reduction(+:a,q))                                          \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const T y = x[b] - m;                                                         \
            const T u = wt[b] * y;                                                      \
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
FASTEM_QUAD_DIAG(fastem_quad_diag_d, double)
FASTEM_QUAD_DIAG(fastem_quad_diag_f, float)

/* The dot products of eight rows of a block (feature-major xt, from row b0) with four
   centers c0..c3, accumulated into a0..a3: eight independent accumulators keep the FMA
   units busy and each load of the rows serves four centers. */
#define FASTEM_DOT_TILE(T, xt, b0, d, c0, c1, c2, c3, a0, a1, a2, a3)                     \
    for (ptrdiff_t i = 0; i < (d); ++i) {                                                 \
        const T* x = (xt) + i * FASTEM_BLOCK + (b0);                                      \
        const T u0 = (c0)[i], u1 = (c1)[i], u2 = (c2)[i], u3 = (c3)[i];                   \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (int l = 0; l < FASTEM_LANES; ++l) {                                          \
            a0[l] += u0 * x[l]; a1[l] += u1 * x[l];                                       \
            a2[l] += u2 * x[l]; a3[l] += u3 * x[l];                                       \
        }                                                                                 \
    }

/* xx[l] = squared norm of row b0 + l of a block. */
#define FASTEM_ROW_NORMS(T, xt, b0, d, xx)                                                \
    for (ptrdiff_t i = 0; i < (d); ++i) {                                                 \
        const T* x = (xt) + i * FASTEM_BLOCK + (b0);                                      \
        FASTEM_PRAGMA(omp simd)                                                           \
        for (int l = 0; l < FASTEM_LANES; ++l) xx[l] += x[l] * x[l];                      \
    }

/* The end of a nearest-center tile: best[b] = ||x_b||^2 + bv (clipped at 0), lab = lv. */
#define FASTEM_NEAREST_STORE(T, xt, b0, d, nb, bv, lv, best, lab)                         \
    {                                                                                     \
        T xx[FASTEM_LANES] = {0};                                                         \
        FASTEM_ROW_NORMS(T, xt, b0, d, xx)                                                \
        const ptrdiff_t m = (nb) - (b0) < FASTEM_LANES ? (nb) - (b0) : FASTEM_LANES;      \
        for (ptrdiff_t l = 0; l < m; ++l) {                                               \
            const double dist = (double)xx[l] + (double)(bv)[l];                          \
            (best)[(b0) + l] = dist > 0 ? dist : 0.0;                                     \
            (lab)[(b0) + l] = (lv)[l];                                                    \
        }                                                                                 \
    }

/* For the rows of a block (feature-major xt): lab[b] = argmin_k (cc[k] - 2 x_b . c_k),
   the first k on ties, and best[b] = ||x_b||^2 + that minimum (the squared distance by
   expansion, clipped at 0). Eight rows against FASTEM_TILE_CENTERS (six) centers at a
   time: twelve accumulator chains with AVX2. */
#define FASTEM_NEAREST(NAME, T, CLONES)                                                   \
CLONES static void NAME(const T* xt, ptrdiff_t nb, ptrdiff_t d, const T* centers,        \
                        const T* cc, ptrdiff_t K, double* best, int* lab) {               \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_LANES) {                                 \
        T bv[FASTEM_LANES];                                                               \
        int lv[FASTEM_LANES];                                                             \
        for (int l = 0; l < FASTEM_LANES; ++l) { bv[l] = cc[0]; lv[l] = 0; }              \
        for (ptrdiff_t k0 = 0; k0 < K; k0 += FASTEM_TILE_CENTERS) {                       \
            ptrdiff_t kk[FASTEM_TILE_CENTERS];                                            \
            const T* cp[FASTEM_TILE_CENTERS];                                             \
            for (int j = 0; j < FASTEM_TILE_CENTERS; ++j) {                               \
                kk[j] = k0 + j < K ? k0 + j : k0;                                         \
                cp[j] = centers + kk[j] * d;                                              \
            }                                                                             \
            T a[FASTEM_TILE_CENTERS][FASTEM_LANES] = {{0}};                               \
            for (ptrdiff_t i = 0; i < d; ++i) {                                           \
                const T* x = xt + i * FASTEM_BLOCK + b0;                                  \
                T u[FASTEM_TILE_CENTERS];                                                 \
                for (int j = 0; j < FASTEM_TILE_CENTERS; ++j) u[j] = cp[j][i];            \
                for (int j = 0; j < FASTEM_TILE_CENTERS; ++j) {                           \
                    FASTEM_PRAGMA(omp simd)                                               \
                    for (int l = 0; l < FASTEM_LANES; ++l) a[j][l] += u[j] * x[l];        \
                }                                                                         \
            }                                                                             \
            for (int j = 0; j < FASTEM_TILE_CENTERS; ++j) {                               \
                const T e0 = cc[kk[j]];                                                   \
                FASTEM_PRAGMA(omp simd)                                                   \
                for (int l = 0; l < FASTEM_LANES; ++l) {                                  \
                    const T e = e0 - 2 * a[j][l];                                         \
                    const int take = (k0 == 0 && j == 0) || e < bv[l];                    \
                    bv[l] = take ? e : bv[l]; lv[l] = take ? (int)kk[j] : lv[l];          \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        FASTEM_NEAREST_STORE(T, xt, b0, d, nb, bv, lv, best, lab)                         \
    }                                                                                     \
}
FASTEM_NEAREST(fastem_nearest_d, double, FASTEM_CLONES_AVX2)
FASTEM_NEAREST(fastem_nearest_f, float, FASTEM_CLONES)

/* The same with four centers per tile on the shared dot tile: better for a few centers
   (up to 16), where six-wide tiles would waste lanes. */
#define FASTEM_NEAREST4(NAME, T, CLONES)                                                           \
CLONES static void NAME(const T* xt, ptrdiff_t nb, ptrdiff_t d, const T* centers, \
                               const T* cc, ptrdiff_t K, double* best, int* lab) {        \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_LANES) {                                 \
        T bv[FASTEM_LANES];                                                               \
        int lv[FASTEM_LANES];                                                             \
        for (int l = 0; l < FASTEM_LANES; ++l) { bv[l] = cc[0]; lv[l] = 0; }              \
        for (ptrdiff_t k0 = 0; k0 < K; k0 += 4) {                                         \
            const ptrdiff_t k1 = k0 + 1 < K ? k0 + 1 : k0, k2 = k0 + 2 < K ? k0 + 2 : k0, \
                            k3 = k0 + 3 < K ? k0 + 3 : k0;                                \
            T a0[FASTEM_LANES] = {0}, a1[FASTEM_LANES] = {0}, a2[FASTEM_LANES] = {0},     \
              a3[FASTEM_LANES] = {0};                                                     \
            FASTEM_DOT_TILE(T, xt, b0, d, centers + k0 * d, centers + k1 * d,             \
                            centers + k2 * d, centers + k3 * d, a0, a1, a2, a3)           \
            const T e0 = cc[k0], e1 = cc[k1], e2 = cc[k2], e3 = cc[k3];                   \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (int l = 0; l < FASTEM_LANES; ++l) {                                      \
                T e = e0 - 2 * a0[l];                                                     \
                int take = k0 == 0 || e < bv[l];                                          \
                bv[l] = take ? e : bv[l]; lv[l] = take ? (int)k0 : lv[l];                 \
                e = e1 - 2 * a1[l]; take = e < bv[l];                                     \
                bv[l] = take ? e : bv[l]; lv[l] = take ? (int)k1 : lv[l];                 \
                e = e2 - 2 * a2[l]; take = e < bv[l];                                     \
                bv[l] = take ? e : bv[l]; lv[l] = take ? (int)k2 : lv[l];                 \
                e = e3 - 2 * a3[l]; take = e < bv[l];                                     \
                bv[l] = take ? e : bv[l]; lv[l] = take ? (int)k3 : lv[l];                 \
            }                                                                             \
        }                                                                                 \
        FASTEM_NEAREST_STORE(T, xt, b0, d, nb, bv, lv, best, lab)                         \
    }                                                                                     \
}
FASTEM_NEAREST4(fastem_nearest4_d, double, FASTEM_CLONES_AVX2)
FASTEM_NEAREST4(fastem_nearest4_f, float, FASTEM_CLONES)

/* Lloyd's update for the rows of a block (row-major X), given their nearest centers
   lab and squared distances best: counts[lab] += w_b, sums[lab, :] += w_b x_b and
   inertia[0] += w_b best[b]. w may be NULL. When the K x d sums are small, rows go
   round-robin to four private copies, added at the end, so that consecutive rows of
   the same center do not wait for each other's stores. */
#define FASTEM_LLOYD_COPIES 4
#define FASTEM_LLOYD_SMALL 256
#define FASTEM_LLOYD_SUMS(NAME, T)                                                        \
FASTEM_CLONES static void NAME(const T* X, ptrdiff_t nb, ptrdiff_t d, ptrdiff_t K,       \
                               const int* lab, const double* w, const double* best,      \
                               double* inertia, double* counts, double* sums) {          \
    double part[FASTEM_LLOYD_COPIES] = {0};                                               \
    if (K * d <= FASTEM_LLOYD_SMALL && K <= FASTEM_LLOYD_SMALL) {                         \
        double cs[FASTEM_LLOYD_COPIES][FASTEM_LLOYD_SMALL];                               \
        double cn[FASTEM_LLOYD_COPIES][FASTEM_LLOYD_SMALL];                               \
        for (int c = 0; c < FASTEM_LLOYD_COPIES; ++c) {                                   \
            for (ptrdiff_t j = 0; j < K * d; ++j) cs[c][j] = 0.0;                         \
            for (ptrdiff_t j = 0; j < K; ++j) cn[c][j] = 0.0;                             \
        }                                                                                 \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const int c = (int)(b % FASTEM_LLOYD_COPIES);                                 \
            const double ww = w != NULL ? w[b] : 1.0;                                     \
            part[c] += ww * best[b];                                                      \
            if (ww == 0.0) continue;                                                      \
            cn[c][lab[b]] += ww;                                                          \
            double* FASTEM_RESTRICT s = cs[c] + (ptrdiff_t)lab[b] * d;                    \
            const T* FASTEM_RESTRICT x = X + b * d;                                       \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (ptrdiff_t i = 0; i < d; ++i) s[i] += ww * x[i];                          \
        }                                                                                 \
        for (int c = 0; c < FASTEM_LLOYD_COPIES; ++c) {                                   \
            for (ptrdiff_t j = 0; j < K * d; ++j) sums[j] += cs[c][j];                    \
            for (ptrdiff_t j = 0; j < K; ++j) counts[j] += cn[c][j];                      \
        }                                                                                 \
    } else {                                                                              \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                              \
            const double ww = w != NULL ? w[b] : 1.0;                                     \
            part[b % FASTEM_LLOYD_COPIES] += ww * best[b];                                \
            if (ww == 0.0) continue;                                                      \
            counts[lab[b]] += ww;                                                         \
            double* FASTEM_RESTRICT s = sums + (ptrdiff_t)lab[b] * d;                     \
            const T* FASTEM_RESTRICT x = X + b * d;                                       \
            FASTEM_PRAGMA(omp simd)                                                       \
            for (ptrdiff_t i = 0; i < d; ++i) s[i] += ww * x[i];                          \
        }                                                                                 \
    }                                                                                     \
    inertia[0] += (part[0] + part[1]) + (part[2] + part[3]);                              \
}
FASTEM_LLOYD_SUMS(fastem_lloyd_sums_d, double)
FASTEM_LLOYD_SUMS(fastem_lloyd_sums_f, float)

/* k-means++ over nb rows of the data as stored (row-major X, from the block's first
   row): for each candidate t < nc (rows of C, squared norms cc),
   dist = max(||x_b||^2 + cc[t] - 2 x_b . c_t, 0) and pot[t] += w_b min(closest_b, dist);
   with update, closest_b becomes that minimum (nc is then 1). w may be NULL; xx, when
   not NULL, holds the rows' squared norms; D, when not NULL, receives dist at
   D[t * dstride + b]. With only a few candidates the rows are read once, in place, with
   no transposed copy. */
#define FASTEM_KPP(NAME, T)                                                               \
FASTEM_CLONES static void NAME(const T* X, ptrdiff_t nb, ptrdiff_t d, const T* C,        \
                               const T* cc, ptrdiff_t nc, const double* w,               \
                               const double* xx, double* closest, int update,            \
                               double* pot, double* D, ptrdiff_t dstride) {              \
    for (ptrdiff_t b = 0; b < nb; ++b) {                                                  \
        const T* FASTEM_RESTRICT x = X + b * d;                                           \
        double norm;                                                                      \
        if (xx != NULL) {                                                                 \
            norm = xx[b];                                                                 \
        } else {                                                                          \
            T s = 0;                                                                      \
            FASTEM_PRAGMA(omp simd reduction(+:s))                                        \
            for (ptrdiff_t i = 0; i < d; ++i) s += x[i] * x[i];                           \
            norm = (double)s;                                                             \
        }                                                                                 \
        const double cl = closest[b];                                                     \
        for (ptrdiff_t t = 0; t < nc; ++t) {                                              \
            const T* FASTEM_RESTRICT c = C + t * d;                                       \
            T dot = 0;                                                                    \
            FASTEM_PRAGMA(omp simd reduction(+:dot))                                      \
            for (ptrdiff_t i = 0; i < d; ++i) dot += x[i] * c[i];                         \
            double dist = norm + (double)(cc[t] - 2 * dot);                               \
            dist = dist > 0 ? dist : 0.0;                                                 \
            if (D != NULL) D[t * dstride + b] = dist;                                     \
            const double near = dist < cl ? dist : cl;                                    \
            if (update) closest[b] = near;                                                \
            pot[t] += w == NULL ? near : w[b] * near;                                     \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_KPP(fastem_kpp_d, double)
FASTEM_KPP(fastem_kpp_f, float)

/* The same on a transposed block (feature-major xt), four candidates at a time on the
   shared dot tile: faster when the rows are short and there are several candidates. For
   each candidate t < nc (rows of C, squared norms cc), dist = max(||x_b||^2 + cc[t] -
   2 x_b . c_t, 0) and pot[t] += w_b min(closest_b, dist). w may be NULL (unit weights). */
#define FASTEM_KPP_TILE(NAME, T)                                                          \
FASTEM_CLONES static void NAME(const T* xt, ptrdiff_t nb, ptrdiff_t d, const T* C,      \
                               const T* cc, ptrdiff_t nc, const double* w,               \
                               const double* closest, double* pot) {                     \
    for (ptrdiff_t b0 = 0; b0 < nb; b0 += FASTEM_LANES) {                                 \
        const ptrdiff_t m = nb - b0 < FASTEM_LANES ? nb - b0 : FASTEM_LANES;              \
        T xx[FASTEM_LANES] = {0};                                                         \
        FASTEM_ROW_NORMS(T, xt, b0, d, xx)                                                \
        for (ptrdiff_t k0 = 0; k0 < nc; k0 += 4) {                                        \
            const ptrdiff_t k1 = k0 + 1 < nc ? k0 + 1 : k0, k2 = k0 + 2 < nc ? k0 + 2 : k0, \
                            k3 = k0 + 3 < nc ? k0 + 3 : k0;                               \
            T a[4][FASTEM_LANES] = {{0}};                                                 \
            FASTEM_DOT_TILE(T, xt, b0, d, C + k0 * d, C + k1 * d, C + k2 * d, C + k3 * d, \
                            a[0], a[1], a[2], a[3])                                       \
            const ptrdiff_t ks = nc - k0 < 4 ? nc - k0 : 4;                               \
            for (ptrdiff_t j = 0; j < ks; ++j) {                                          \
                const T e = cc[k0 + j];                                                   \
                double sum = 0.0;                                                         \
                for (ptrdiff_t l = 0; l < m; ++l) {                                       \
                    double dist = (double)xx[l] + (double)(e - 2 * a[j][l]);              \
                    dist = dist > 0 ? dist : 0.0;                                         \
                    const double near = dist < closest[b0 + l] ? dist : closest[b0 + l];  \
                    sum += w == NULL ? near : w[b0 + l] * near;                           \
                }                                                                         \
                pot[k0 + j] += sum;                                                       \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
}
FASTEM_KPP_TILE(fastem_kpp_tile_d, double)
FASTEM_KPP_TILE(fastem_kpp_tile_f, float)

/* exp(diff) for diff <= 0 (0 below -708, and for NaN from -inf - -inf): range reduction
   to |t| <= ln2/2 and a degree-12 Taylor polynomial (relative error below 2e-16), with
   branch-free arithmetic and 2^n built from the bits of the rounding constant, so that
   loops calling it vectorise. */
static inline double fastem_exp_core(double diff) {
    const double log2e = 1.4426950408889634, ln2_hi = 0.6931471805599453,
                 ln2_lo = 2.3190468138462996e-17, magic = 6755399441055744.0; /* 1.5 * 2^52 */
    const double x = diff >= -708.0 ? diff : -708.0;
    const double shifted = x * log2e + magic;
    const double n = shifted - magic;                  /* round(x / ln 2) */
    const double t = (x - n * ln2_hi) - n * ln2_lo;
    double p = 1.0 / 479001600.0;
    p = p * t + 1.0 / 39916800.0;
    p = p * t + 1.0 / 3628800.0;
    p = p * t + 1.0 / 362880.0;
    p = p * t + 1.0 / 40320.0;
    p = p * t + 1.0 / 5040.0;
    p = p * t + 1.0 / 720.0;
    p = p * t + 1.0 / 120.0;
    p = p * t + 1.0 / 24.0;
    p = p * t + 1.0 / 6.0;
    p = p * t + 0.5;
    p = p * t + 1.0;
    p = p * t + 1.0;
    unsigned long long bits;
    double scale;
    memcpy(&bits, &shifted, sizeof bits);
    bits = (bits - 0x4338000000000000ULL + 1023ULL) << 52;
    memcpy(&scale, &bits, sizeof scale);
    return diff >= -708.0 ? p * scale : 0.0;
}

/* The block's log-densities logp (K x FASTEM_BLOCK) become responsibilities, weighted
   by w (per row of the data, or NULL for unit weights); row b of the block is row
   rows[b] (or row0 + b) of the data. lse[b] receives the row's log-likelihood (also
   written to lse_out[row], and the unweighted responsibilities to resp_out[row, k], when
   those are not NULL); scale is scratch of FASTEM_BLOCK. Returns sum_b w_b lse[b],
   skipping zero weights. Stable when every term of a row is -inf. */
FASTEM_CLONES static double fastem_posteriors(double* FASTEM_RESTRICT logp, ptrdiff_t nb,
                                              ptrdiff_t K, const double* w,
                                              const ptrdiff_t* rows, ptrdiff_t row0,
                                              double* resp_out, double* lse_out,
                                              double* FASTEM_RESTRICT lse,
                                              double* FASTEM_RESTRICT scale) {
    for (ptrdiff_t b = 0; b < nb; ++b) lse[b] = -INFINITY;
    for (ptrdiff_t k = 0; k < K; ++k) {
        const double* r = logp + k * FASTEM_BLOCK;
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t b = 0; b < nb; ++b) lse[b] = r[b] > lse[b] ? r[b] : lse[b];
    }
    for (ptrdiff_t b = 0; b < nb; ++b) scale[b] = 0.0;
    /* each density is exponentiated once, relative to the row's largest */
    for (ptrdiff_t k = 0; k < K; ++k) {
        double* r = logp + k * FASTEM_BLOCK;
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t b = 0; b < nb; ++b) {
            const double e = fastem_exp_core(r[b] - lse[b]);
            r[b] = e;
            scale[b] += e;
        }
    }
    double total = 0.0;
    for (ptrdiff_t b = 0; b < nb; ++b) {
        const ptrdiff_t row = rows != NULL ? rows[b] : row0 + b;
        if (lse[b] != -INFINITY) {
            lse[b] += log(scale[b]);
            scale[b] = 1.0 / scale[b];
        } else {
            scale[b] = 0.0;
        }
        const double ww = w != NULL ? w[row] : 1.0;
        if (ww != 0.0) total += ww * lse[b];
        if (lse_out != NULL) lse_out[row] = lse[b];
    }
    for (ptrdiff_t k = 0; k < K; ++k) {
        double* r = logp + k * FASTEM_BLOCK;
        FASTEM_PRAGMA(omp simd)
        for (ptrdiff_t b = 0; b < nb; ++b) r[b] *= scale[b];
        if (resp_out != NULL)
            for (ptrdiff_t b = 0; b < nb; ++b)
                resp_out[(rows != NULL ? rows[b] : row0 + b) * K + k] = r[b];
    }
    if (w != NULL) {
        for (ptrdiff_t b = 0; b < nb; ++b) scale[b] = w[rows != NULL ? rows[b] : row0 + b];
        for (ptrdiff_t k = 0; k < K; ++k) {
            double* r = logp + k * FASTEM_BLOCK;
            FASTEM_PRAGMA(omp simd)
            for (ptrdiff_t b = 0; b < nb; ++b) r[b] *= scale[b];
        }
    }
    return total;
}

#endif
