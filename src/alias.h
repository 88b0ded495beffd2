/* SPDX-License-Identifier: ISC */
/*
 * aliases(5) tables for local recipients (alias_maps): "name: target,
 * target", continuation lines starting with white space, # comments,
 * quoted names. Targets are addresses or local names; "|command",
 * "/file" and ":include:/file" targets are reported and skipped, never
 * run or written: this is a send-only relay. Expansion is recursive;
 * a name met again on its own expansion path is not expanded again but
 * kept (as sendmail and Postfix keep "root: root, admin@x"), and
 * expansion stops at ALIAS_DEPTH_MAX with a warning.
 */
#ifndef SENDRELAY_ALIAS_H
#define SENDRELAY_ALIAS_H

#include <stddef.h>

#include "addr.h"
#include "err.h"

#define ALIAS_DEPTH_MAX		20
#define ALIAS_RESULTS_MAX	1000	/* addresses one name may expand to */

struct alias_table;

/*
 * Reads the tables of an alias_maps value (a comma/space separated list
 * of type:file, where hash:, btree:, lmdb:, cdb: and texthash: all read
 * the aliases(5) text file itself, no newaliases step). A syntax error is
 * ERR_CONFIG naming file:line. warn, when not NULL, gets each problem
 * that does not stop reading (skipped |command targets, duplicate names)
 * as one line "file:line: text".
 */
int	 alias_open(const char *maps, struct alias_table **,
	    void (*warn)(void *, const char *), void *ctx, struct err *);
void	 alias_free(struct alias_table *);

/*
 * Expands a local name (no domain; looked up case-insensitively) into
 * out (appended, duplicates removed): addresses as written, and local
 * names that have no alias (the caller qualifies them). Returns 1 when
 * the name has an alias, 0 when not (out unchanged), -1 on error (more
 * than ALIAS_RESULTS_MAX results: ERR_DATA). Skipped targets and the
 * depth limit are reported through the warn function given to
 * alias_open.
 */
int	 alias_expand(const struct alias_table *, const char *name,
	    struct addr_list *out, struct err *);

/*
 * newaliases / -bi: reads every map of an alias_maps value and reports
 * every problem through report ("file:line: text"), going on after
 * errors; *errors counts the errors (not the warnings). -1 only when a
 * map cannot be read at all (missing file, unsupported type).
 */
int	 alias_check(const char *maps, void (*report)(void *, const char *),
	    void *ctx, size_t *errors, struct err *);

/*
 * Parses the text of one aliases file and calls report
 * for every problem (file:line and what is wrong, including skipped
 * targets). Returns the number of problems that are errors (syntax), so
 * 0 means the file is fine. Also the fuzz target's entry point.
 */
size_t	 alias_check_text(const char *text, size_t len, const char *origin,
	    void (*report)(void *, const char *), void *ctx);

#endif
