/* SPDX-License-Identifier: ISC */
/*
 * queue: what follows -q selects the messages of a run; anything else is
 * a usage error that names it. (Runs and listings are tested against the
 * real provider in tests/integration/t_queue.sh.)
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "queue.h"

int
main(void)
{
	static const struct {
		const char		*arg;
		int			 rc;
		enum queue_select	 sel;
		const char		*id;
	} cases[] = {
		{ NULL, 0, QUEUE_DUE, NULL },
		{ "", 0, QUEUE_DUE, NULL },
		{ "f", 0, QUEUE_ALL, NULL },
		{ "I0123456789ABCDEF", 0, QUEUE_ONE, "0123456789ABCDEF" },
		{ "I", -1, QUEUE_DUE, NULL },
		{ "30m", -1, QUEUE_DUE, NULL },
		{ "ff", -1, QUEUE_DUE, NULL },
		{ "Rexample.org", -1, QUEUE_DUE, NULL },
	};
	enum queue_select sel;
	const char	*id;
	struct err	 e;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_clear(&e);
		sel = QUEUE_DUE;
		rc = queue_parse_select(cases[i].arg, &sel, &id, &e);
		CHECK(rc == cases[i].rc, "-q%s: returns %d",
		    cases[i].arg ? cases[i].arg : "", cases[i].rc);
		if (rc == 0) {
			CHECK(sel == cases[i].sel, "-q%s: selection",
			    cases[i].arg ? cases[i].arg : "");
			CHECK_STR(id, cases[i].id, "-q%s: id",
			    cases[i].arg ? cases[i].arg : "");
		} else
			CHECK(e.kind == ERR_USAGE &&
			    strstr(e.text, cases[i].arg) != NULL &&
			    strstr(e.text, "-qf") != NULL,
			    "-q%s: usage error naming it and the choices: %s",
			    cases[i].arg, e.text);
	}
	return check_done();
}
