/* wisp-faas replay: a time-compressed trace driven against a running daemon over its HTTP API. */
#ifndef WISP_FAAS_REPLAY_H
#define WISP_FAAS_REPLAY_H
#include "faas/trace.h"

struct replay_opts {
	const char *url;	/* http://HOST:PORT */
	const char *executable; /* deployed once per replayed application */
	double speedup;		/* virtual minutes per real minute */
	unsigned apps;		/* the busiest N applications of the trace */
	unsigned per_minute;	/* invocations sent per app and minute at most */
};

int replay__run(const struct trace *t, const struct replay_opts *o);

#endif
