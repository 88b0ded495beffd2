/* SPDX-License-Identifier: ISC */
/*
 * Lookup tables in Postfix text syntax. hash:, btree:, lmdb:, cdb: and
 * texthash: all read the text source file named (no postmap step; a .db
 * beside it is ignored); inline:{k=v, ...} and static:value are in-line.
 * Keys are case-insensitive; comments and continuation lines as in
 * postmap(1). A list of maps is searched in order, as Postfix does.
 */
#ifndef SENDRELAY_MAP_H
#define SENDRELAY_MAP_H

#include <stddef.h>

#include "err.h"

/* Flags for map_open / map_list_open. */
#define MAP_SECRET	0x01	/* holds passwords: check the file's mode */

struct map;
struct map_list;

/*
 * Opens one "type:name". With MAP_SECRET, a file writable by others is
 * refused (ERR_NOPERM) and one readable by others gets a warning.
 * Syntax errors name file:line (ERR_CONFIG).
 */
struct map *map_open(const char *spec, unsigned flags, struct err *);
/* 1 found (*value points into the map), 0 not found, -1 error. */
int	 map_lookup(const struct map *, const char *key, const char **value);
void	 map_free(struct map *);

/* A comma/space separated list of specs, searched in order. */
struct map_list *map_list_open(const char *specs, unsigned flags, struct err *);
int	 map_list_lookup(const struct map_list *, const char *key,
	    const char **value);
void	 map_list_free(struct map_list *);

/*
 * Reads a whole file (at most max bytes) for a table or aliases(5) file;
 * *text is NUL-terminated, *len its length; free with map_free_text().
 * Errors name the file (ERR_CONFIG; ERR_NOPERM for an unreadable or
 * unsafe secrets file with MAP_SECRET). A file that grows while read is
 * refused, so a torn copy is never parsed.
 */
int	 map_read_file(const char *path, unsigned flags, size_t max,
	    char **text, size_t *len, struct err *);
/* Wipes (tables may hold secrets) and frees text of len bytes. */
void	 map_free_text(char *, size_t);

/*
 * Parses the text of a table (for map_open and the fuzz target): calls
 * add(ctx, key, value) for each entry; errors name origin:line.
 */
int	 map_parse_text(const char *text, size_t len, const char *origin,
	    void (*add)(void *, const char *, const char *), void *ctx,
	    struct err *);

#endif
