/* The request bytes, formatted once per URL. */
#ifndef BLAST_REQUEST_H
#define BLAST_REQUEST_H

#include <stddef.h>

#include "tools/blast/cli.h"
#include "tools/blast/url.h"

struct request {
	char *blob;     /* `copies` back-to-back copies of one request */
	size_t len;     /* bytes of one request */
	unsigned copies;
	int is_head;    /* HEAD: responses carry no body */
};

/* Formats "METHOD path HTTP/1.1", Host (unless given with -H), the user's
 * headers, Content-Length when there is a body (unless given), then the
 * body, and repeats it `copies` times so that any k <= copies pipelined
 * requests are one contiguous send().  Returns -1 on allocation failure. */
int request_build(const struct blast_config *cfg, const struct url *u, unsigned copies,
		  struct request *r);
void request_free(struct request *r);

#endif
