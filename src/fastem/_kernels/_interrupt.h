/* Ctrl-C during a kernel pass.
 *
 * Python handles SIGINT in its main thread between bytecodes, so a long kernel call
 * (GIL released, OpenMP threads busy) would only see it when the whole pass is over.
 * While a pass runs on the main thread, fastem_interrupt_begin() puts a C handler in
 * front of the one installed: it raises a flag that every thread reads between blocks
 * of rows, and calls the previous handler, so that Python records the signal as usual
 * (its Python-level handler then runs when the caller next checks signals).
 * fastem_interrupt_end() puts the previous handler back. The handler only writes a
 * sig_atomic_t and calls the previous handler: async-signal-safe.
 */
#ifndef FASTEM_INTERRUPT_H
#define FASTEM_INTERRUPT_H

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t fastem_stop_flag = 0;

#if defined(_WIN32)
typedef void (*fastem_sighandler_t)(int);
static fastem_sighandler_t fastem_previous_handler = SIG_DFL;

static void fastem_on_sigint(int sig) {
    fastem_stop_flag = 1;
    if (fastem_previous_handler != SIG_DFL && fastem_previous_handler != SIG_IGN &&
        fastem_previous_handler != fastem_on_sigint)
        fastem_previous_handler(sig);
}

/* 1 when the handler was installed (undo with fastem_interrupt_end), else 0. */
static int fastem_interrupt_begin(void) {
    fastem_sighandler_t old = signal(SIGINT, fastem_on_sigint);
    if (old == SIG_ERR) return 0;
    if (old == SIG_DFL || old == SIG_IGN) {   /* nobody handles SIGINT: leave it so */
        signal(SIGINT, old);
        return 0;
    }
    fastem_previous_handler = old;
    fastem_stop_flag = 0;
    return 1;
}

static void fastem_interrupt_end(void) {
    signal(SIGINT, fastem_previous_handler);
}
#else
static struct sigaction fastem_previous_action;

static void fastem_on_sigint(int sig, siginfo_t* info, void* context) {
    fastem_stop_flag = 1;
    if (fastem_previous_action.sa_flags & SA_SIGINFO) {
        if (fastem_previous_action.sa_sigaction != NULL)
            fastem_previous_action.sa_sigaction(sig, info, context);
    } else if (fastem_previous_action.sa_handler != SIG_DFL &&
               fastem_previous_action.sa_handler != SIG_IGN) {
        fastem_previous_action.sa_handler(sig);
    }
}

static int fastem_interrupt_begin(void) {
    struct sigaction action, old;
    if (sigaction(SIGINT, NULL, &old) != 0) return 0;
    if (!(old.sa_flags & SA_SIGINFO) &&
        (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN))
        return 0;                              /* nobody handles SIGINT: leave it so */
    memset(&action, 0, sizeof action);
    action.sa_sigaction = fastem_on_sigint;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | (old.sa_flags & SA_RESTART);
    sigemptyset(&action.sa_mask);
    fastem_previous_action = old;
    fastem_stop_flag = 0;
    if (sigaction(SIGINT, &action, NULL) != 0) return 0;
    return 1;
}

static void fastem_interrupt_end(void) {
    sigaction(SIGINT, &fastem_previous_action, NULL);
}
#endif

static int fastem_interrupted(void) { return fastem_stop_flag != 0; }

#endif
