/* SPDX-License-Identifier: BSD-2-Clause */
/* Helpers for integration tests: start the real metricd on an ephemeral
 * loopback port, talk HTTP/1.1 to it with plain sockets, parse answers. */
#ifndef METRICD_TESTS_TESTLIB_H
#define METRICD_TESTS_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tl_server {
	pid_t pid;
	int port;
	int err_fd;            /* read end of the server's stderr */
};

/* argv_extra: NULL-terminated extra flags; env_extra: NULL-terminated
 * "K=V" strings added to the environment.  Waits for "listening on". */
int tl_server_start(struct tl_server *s, const char *const *argv_extra,
		    const char *const *env_extra);
/* Sends sig, waits (at most timeout_ms) and returns the exit status, or -1
 * if it did not exit (it is then killed). */
int tl_server_stop(struct tl_server *s, int sig, int timeout_ms);
/* Everything the server logged so far (non-blocking read). */
size_t tl_server_log(struct tl_server *s, char *buf, size_t len);

int tl_connect(int port);
int tl_send_all(int fd, const void *buf, size_t n);

/* A buffered reader, so pipelined answers can be read one by one. */
struct tl_reader {
	int fd;
	char buf[262144];
	size_t len, off;
};

struct tl_resp {
	int status;
	char head[2048];
	char body[65536];
	size_t body_len;
	long content_length;
	bool conn_close;
};

void tl_reader_init(struct tl_reader *r, int fd);
/* Reads one response (HEAD: no body when head_only).  Returns 0, -1 on
 * EOF/error/timeout. */
int tl_read_resp(struct tl_reader *r, struct tl_resp *out, bool head_only,
		 int timeout_ms);
/* True when the peer has closed (EOF within timeout_ms). */
bool tl_wait_eof(struct tl_reader *r, int timeout_ms);
/* Header value (case-insensitive name) from a response head, or NULL. */
const char *tl_header(const struct tl_resp *r, const char *name, char *val,
		      size_t len);
/* One request/response on a fresh connection. */
int tl_get(int port, const char *raw_request, struct tl_resp *out);

#endif
