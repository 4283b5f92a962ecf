"""Hidden Markov model kernels: forward-backward with per-step scaling, Viterbi.

One sequence is one task of _parallel.run_tasks; a task writes only the rows of its
sequence and its own slot of the per-sequence outputs, so every result is bitwise
identical for any number of threads. The per-sequence outputs (log-likelihoods,
expected transition counts) are added by the caller in sequence order.

Scaling. At step t the forward pass forms pred = alpha_{t-1} A (or the start
probabilities), takes m_t, the largest log emission probability among the states pred
can reach, and replaces row t of the emission buffer with B_t = exp(min(logB_t - m_t, 0)).
alpha_t = pred * B_t is normalised by its sum c_t, and log p(x) = sum_t (log c_t + m_t).
No quantity can underflow to a zero sum: the state that attains m_t has B = 1 and
pred > 0. The backward pass reuses B_t and c_t, so alpha_t * beta_t sums to one.
"""

from libc.math cimport INFINITY, NAN
from libc.stdlib cimport free, malloc

from fastem._kernels._parallel cimport check_status, run_blocks, run_tasks


cdef extern from "_hmm_steps.h" nogil:
    double fastem_forward_backward(double* frame, double* post, double* scale, double* xi,
                                   const double* start, const double* A, const double* AT,
                                   Py_ssize_t T, Py_ssize_t K, double* work)


cdef struct ForwardBackward:
    double* frame              # (T, K) log emission probabilities in, scaled out
    double* post               # (T, K) posteriors out, or NULL (forward only)
    double* scale              # (T,) 1 / c_t
    double* xi                 # (S, K, K) expected transitions out, or NULL
    double* loglik             # (S,)
    const Py_ssize_t* starts   # (S + 1,)
    const double* startprob    # (K,)
    const double* A            # (K, K) transition matrix
    const double* AT           # its transpose
    Py_ssize_t K


cdef void _forward_backward_task(const void* ctx, Py_ssize_t s, void* scratch) noexcept nogil:
    cdef const ForwardBackward* c = <const ForwardBackward*>ctx
    cdef Py_ssize_t K = c.K, t0 = c.starts[s], t1 = c.starts[s + 1], i
    cdef double* xi = c.xi + s * K * K if c.xi != NULL else NULL
    cdef double ll = fastem_forward_backward(
        c.frame + t0 * K, c.post + t0 * K if c.post != NULL else NULL, c.scale + t0, xi,
        c.startprob, c.A, c.AT, t1 - t0, K, <double*>scratch)
    c.loglik[s] = ll
    if ll == -INFINITY:
        # the sequence has probability zero under these parameters
        if c.post != NULL:
            for i in range(t0 * K, t1 * K):
                c.post[i] = NAN
        if xi != NULL:
            for i in range(K * K):
                xi[i] = 0


def forward_backward(
    double[:, ::1] frame,              # IN/OUT (T, K) log emission probabilities; destroyed
    const Py_ssize_t[::1] starts,      # IN  (S + 1,) sequence boundaries
    const Py_ssize_t[::1] order,       # IN  (S,) the order to start sequences in
    const double[::1] startprob,       # IN  (K,)
    const double[:, ::1] transmat,     # IN  (K, K)
    double[:, ::1] post,               # OUT (T, K) posteriors, or (0, 0) for forward only
    double[:, :, ::1] xi,              # OUT (S, K, K) expected transitions, or (0, 0, 0)
    double[::1] loglik,                # OUT (S,) log-likelihood of each sequence
    int n_threads,
):
    """Forward-backward over every sequence, one task each.

    A sequence with probability zero gets loglik -inf and NaN posteriors."""
    cdef Py_ssize_t T = frame.shape[0], K = frame.shape[1], S = starts.shape[0] - 1
    cdef Py_ssize_t i, j
    cdef ForwardBackward c
    cdef int status
    cdef double* AT = <double*>malloc((K * K + 1) * sizeof(double))
    cdef double* scale = <double*>malloc((T + 1) * sizeof(double))
    if AT == NULL or scale == NULL:
        free(AT)
        free(scale)
        raise MemoryError()
    for i in range(K):
        for j in range(K):
            AT[j * K + i] = transmat[i, j]
    c.frame = &frame[0, 0]
    c.post = &post[0, 0] if post.shape[0] > 0 else NULL
    c.scale = scale
    c.xi = &xi[0, 0, 0] if xi.shape[0] > 0 else NULL
    c.loglik = &loglik[0]
    c.starts = &starts[0]
    c.startprob = &startprob[0]
    c.A = &transmat[0, 0]
    c.AT = AT
    c.K = K
    with nogil:
        status = run_tasks(S, &order[0], n_threads, _forward_backward_task, &c,
                           5 * K * sizeof(double), 2.0 * T * K * K)
    free(AT)
    free(scale)
    check_status(status)


cdef struct Viterbi:
    const double* frame        # (T, K) log emission probabilities
    const Py_ssize_t* starts
    const double* log_startprob
    const double* log_A
    int* back                  # (T, K) best predecessor of each state
    Py_ssize_t* path           # (T,)
    double* logprob            # (S,)
    Py_ssize_t K


cdef void _viterbi_task(const void* ctx, Py_ssize_t s, void* scratch) noexcept nogil:
    cdef const Viterbi* c = <const Viterbi*>ctx
    cdef Py_ssize_t K = c.K, t0 = c.starts[s], t1 = c.starts[s + 1]
    cdef double* v = <double*>scratch
    cdef double* w = v + K
    cdef const double* lb = c.frame + t0 * K
    cdef const double* row
    cdef int* back
    cdef double vi, cand
    cdef Py_ssize_t t, i, j, best

    for j in range(K):
        v[j] = c.log_startprob[j] + lb[j]
    for t in range(t0 + 1, t1):
        back = c.back + t * K
        for j in range(K):
            w[j] = -INFINITY
            back[j] = 0
        # the first best predecessor wins ties, as numpy's argmax
        for i in range(K):
            vi = v[i]
            row = c.log_A + i * K
            for j in range(K):
                cand = vi + row[j]
                if cand > w[j]:
                    w[j] = cand
                    back[j] = <int>i
        lb = c.frame + t * K
        for j in range(K):
            v[j] = w[j] + lb[j]
    best = 0
    for j in range(1, K):
        if v[j] > v[best]:
            best = j
    c.logprob[s] = v[best]
    c.path[t1 - 1] = best
    for t in range(t1 - 1, t0, -1):
        best = c.back[t * K + best]
        c.path[t - 1] = best


def viterbi(
    const double[:, ::1] frame,        # IN  (T, K) log emission probabilities
    const Py_ssize_t[::1] starts,      # IN  (S + 1,)
    const Py_ssize_t[::1] order,       # IN  (S,)
    const double[::1] log_startprob,   # IN  (K,)
    const double[:, ::1] log_transmat, # IN  (K, K)
    int[:, ::1] back,                  # SCRATCH (T, K)
    Py_ssize_t[::1] path,              # OUT (T,) most likely states
    double[::1] logprob,               # OUT (S,) log-probability of each best path
    int n_threads,
):
    """Viterbi decoding in log space, one task per sequence."""
    cdef Viterbi c
    cdef int status
    c.frame = &frame[0, 0]
    c.starts = &starts[0]
    c.log_startprob = &log_startprob[0]
    c.log_A = &log_transmat[0, 0]
    c.back = &back[0, 0]
    c.path = &path[0]
    c.logprob = &logprob[0]
    c.K = frame.shape[1]
    with nogil:
        status = run_tasks(starts.shape[0] - 1, &order[0], n_threads, _viterbi_task, &c,
                           2 * c.K * sizeof(double), <double>frame.shape[0] * c.K * c.K)
    check_status(status)


cdef struct SymbolCounts:
    const Py_ssize_t* symbols  # (T,)
    const double* post         # (T, K)
    Py_ssize_t K
    Py_ssize_t M


cdef void _symbol_counts_block(const void* ctx, Py_ssize_t row0, Py_ssize_t nb,
                               double* acc, void* scratch) noexcept nogil:
    cdef const SymbolCounts* c = <const SymbolCounts*>ctx
    cdef Py_ssize_t b, k, K = c.K
    cdef double* out
    cdef const double* p
    for b in range(row0, row0 + nb):
        out = acc + c.symbols[b] * K
        p = c.post + b * K
        for k in range(K):
            out[k] += p[k]


def symbol_counts(
    const Py_ssize_t[::1] symbols,     # IN  (T,) in [0, M)
    const double[:, ::1] post,         # IN  (T, K)
    double[:, ::1] out,                # OUT (M, K) sum of posteriors per symbol
    int n_threads,
):
    """out[s, k] = sum over steps t with symbols[t] == s of post[t, k]."""
    cdef SymbolCounts c
    cdef Py_ssize_t M = out.shape[0], K = out.shape[1], j
    cdef int status
    cdef double* total = <double*>malloc((M * K + 1) * sizeof(double))
    if total == NULL:
        raise MemoryError()
    c.symbols = &symbols[0]
    c.post = &post[0, 0]
    c.K = K
    c.M = M
    with nogil:
        status = run_blocks(symbols.shape[0], n_threads, _symbol_counts_block, &c, M * K, 0,
                            total, <double>symbols.shape[0] * K)
    if status == 0:
        for j in range(M * K):
            out[j // K, j % K] = total[j]
    free(total)
    check_status(status)


def sample_chain(
    const double[::1] start_cdf,       # IN  (K,) cumulative start probabilities, last 1
    const double[:, ::1] trans_cdf,    # IN  (K, K) cumulative rows, last column 1
    const double[::1] uniforms,        # IN  (n,) in [0, 1)
    Py_ssize_t first,                  # IN  first state, or -1 to draw it
    Py_ssize_t[::1] states,            # OUT (n,)
):
    """A Markov chain: each state is the first whose cumulative probability exceeds
    its uniform draw."""
    cdef Py_ssize_t n = states.shape[0], K = start_cdf.shape[0], t, j, state = 0
    with nogil:
        for t in range(n):
            if t == 0 and first >= 0:
                state = first
            else:
                j = 0
                if t == 0:
                    while j < K - 1 and not (start_cdf[j] > uniforms[t]):
                        j += 1
                else:
                    while j < K - 1 and not (trans_cdf[state, j] > uniforms[t]):
                        j += 1
                state = j
            states[t] = state
