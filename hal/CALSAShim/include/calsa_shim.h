#ifndef CALSA_SHIM_H
#define CALSA_SHIM_H

/* Deliberately free of ALSA types: this header is imported by Swift next to the CALSA module, and two
   modules textually including <alsa/asoundlib.h> would give Swift two copies of every ALSA declaration. */

/* Receives one of ALSA's own diagnostics, already formatted, with the context of the thread that made the
   failing call (see calsa_set_thread_context). */
typedef void (*calsa_error_sink)(void *context, const char *function, int err, const char *message);

/* ALSA reports through a C-variadic handler that Swift cannot implement: this installs one (process-wide,
   idempotent) that formats each message and forwards it to `sink`. Messages from a thread whose context is
   NULL are dropped rather than written to stderr. */
void calsa_install_error_sink(calsa_error_sink sink);

/* ALSA's handler is process-wide but each capture has its own logger: messages are routed by the thread
   that triggered them, and every ALSA call of a capture is made on that capture's own thread. */
void calsa_set_thread_context(void *context);

#endif
