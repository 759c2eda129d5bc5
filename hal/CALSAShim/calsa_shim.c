#include "calsa_shim.h"

#include <alsa/asoundlib.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic(calsa_error_sink) installed_sink = NULL;
static _Thread_local void *thread_context = NULL;

static void forward(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file;
    (void)line;
    calsa_error_sink sink = atomic_load(&installed_sink);
    void *context = thread_context;
    if (sink == NULL || context == NULL) return;
    /* ALSA's messages are one short line; a longer one is truncated rather than allocated for. */
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    sink(context, function != NULL ? function : "", err, message);
}

void calsa_install_error_sink(calsa_error_sink sink) {
    atomic_store(&installed_sink, sink);
    snd_lib_error_set_handler(forward);
}

void calsa_set_thread_context(void *context) {
    thread_context = context;
}
