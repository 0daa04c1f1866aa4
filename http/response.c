/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "core/base/fmt.h"
#include "http/response.h"

void http_head_set_date(struct http_head_ctx *d, time_t now)
{
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char mons[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	char *p = d->date;

	if (d->sec == now && d->date[0])
		return;
	gmtime_r(&now, &tm);
	memcpy(p, days + 3 * tm.tm_wday, 3);
	p += 3;
	*p++ = ',';
	*p++ = ' ';
	*p++ = (char)('0' + tm.tm_mday / 10);
	*p++ = (char)('0' + tm.tm_mday % 10);
	*p++ = ' ';
	memcpy(p, mons + 3 * tm.tm_mon, 3);
	p += 3;
	*p++ = ' ';
	p += fmt_u64(p, (uint64_t)(tm.tm_year + 1900));
	*p++ = ' ';
	*p++ = (char)('0' + tm.tm_hour / 10);
	*p++ = (char)('0' + tm.tm_hour % 10);
	*p++ = ':';
	*p++ = (char)('0' + tm.tm_min / 10);
	*p++ = (char)('0' + tm.tm_min % 10);
	*p++ = ':';
	*p++ = (char)('0' + tm.tm_sec / 10);
	*p++ = (char)('0' + tm.tm_sec % 10);
	memcpy(p, " GMT", 5);
	d->sec = now;
}

static const char *status_line(unsigned status, size_t *len)
{
#define S(code, text) case code: *len = sizeof("HTTP/1.1 " #code " " text "\r\n") - 1; \
		return "HTTP/1.1 " #code " " text "\r\n"
	switch (status) {
	S(200, "OK");
	S(304, "Not Modified");
	S(400, "Bad Request");
	S(404, "Not Found");
	S(405, "Method Not Allowed");
	S(408, "Request Timeout");
	S(413, "Content Too Large");
	S(417, "Expectation Failed");
	S(431, "Request Header Fields Too Large");
	S(503, "Service Unavailable");
	S(505, "HTTP Version Not Supported");
	default:
	S(500, "Internal Server Error");
	}
#undef S
}

/* Appends a literal; the caller has checked the room once for the whole
 * head (HTTP_HEAD_MAX bounds it). */
#define PUT(p, lit) do { memcpy(p, lit, sizeof(lit) - 1); p += sizeof(lit) - 1; } while (0)

static char *put_type_and_length(char *p, enum http_ctype ct, size_t body_len)
{
	switch (ct) {
	case CT_JSON:
		PUT(p, "Content-Type: application/json\r\n");
		break;
	case CT_PROMETHEUS:
		PUT(p, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
		break;
	case CT_HTML:
		PUT(p, "Content-Type: text/html; charset=utf-8\r\n");
		break;
	default:
		PUT(p, "Content-Type: text/plain\r\n");
		break;
	}
	PUT(p, "Content-Length: ");
	p += fmt_u64(p, body_len);
	PUT(p, "\r\n");
	return p;
}

/* ETag: "0000abcd" - the form the framer recognises in If-None-Match. */
static char *put_etag(char *p, uint32_t tag)
{
	static const char hex[] = "0123456789abcdef";

	PUT(p, "ETag: \"");
	for (int shift = 28; shift >= 0; shift -= 4)
		*p++ = hex[(tag >> shift) & 0xf];
	PUT(p, "\"\r\nCache-Control: no-cache\r\n");
	return p;
}

size_t http_write_head(char *out, size_t cap, unsigned status,
		       enum http_ctype ct, size_t body_len, unsigned req_flags,
		       const struct http_head_ctx *head, const uint32_t *etag)
{
	size_t sl;
	const char *line = status_line(status, &sl);
	char *p = out;

	if (cap < HTTP_HEAD_MAX)
		return 0;
	memcpy(p, line, sl);
	p += sl;
	PUT(p, "Server: ");
	if (head->server) {
		memcpy(p, head->server, head->server_len);   /* < 64 bytes */
		p += head->server_len;
	} else {
		PUT(p, "metricd/" PACKAGE_VERSION);
	}
	PUT(p, "\r\nDate: ");
	size_t dl = strlen(head->date);
	memcpy(p, head->date, dl);
	p += dl;
	PUT(p, "\r\n");
	if (status != 304)
		p = put_type_and_length(p, ct, body_len);
	if (etag)
		p = put_etag(p, *etag);
	if (status == 405)
		PUT(p, "Allow: GET, HEAD\r\n");
	else if (req_flags & REQF_OPTIONS)
		PUT(p, "Allow: GET, HEAD, OPTIONS\r\n");
	if (req_flags & REQF_CLOSE)
		PUT(p, "Connection: close\r\n");
	else if (req_flags & REQF_HTTP10)
		PUT(p, "Connection: keep-alive\r\n");
	PUT(p, "\r\n");
	return (size_t)(p - out);
}

bool http_not_modified(const struct http_req *r)
{
	return r->flags & REQF_INM_MATCH;
}

size_t http_body_metric(char *out, size_t cap, uint64_t id, int64_t ts_ns,
			double value)
{
	char *p = out;

	if (cap < HTTP_BODY_MAX_RESP)
		return 0;
	PUT(p, "{\"id\":");
	p += fmt_u64(p, id);
	PUT(p, ",\"timestamp\":");
	p += fmt_i64(p, ts_ns);
	PUT(p, ",\"value\":");
	p += fmt_fixed6(p, value);
	PUT(p, "}");
	return (size_t)(p - out);
}

size_t http_body_stats(char *out, size_t cap, uint64_t id, int64_t ts_ns,
		       int64_t duration_ns, int status)
{
	char *p = out;

	if (cap < HTTP_BODY_MAX_RESP)
		return 0;
	PUT(p, "{\"id\":");
	p += fmt_u64(p, id);
	PUT(p, ",\"timestamp\":");
	p += fmt_i64(p, ts_ns);
	PUT(p, ",\"duration_ns\":");
	p += fmt_i64(p, duration_ns);
	PUT(p, ",\"status\":");
	p += fmt_i64(p, status);
	PUT(p, "}");
	return (size_t)(p - out);
}

size_t http_body_error(char *out, size_t cap, const char *msg)
{
	size_t ml = strlen(msg);
	char *p = out;

	/* Messages are our own constants: no escaping needed, length bounded. */
	if (cap < HTTP_BODY_MAX_RESP || ml > HTTP_BODY_MAX_RESP - 16)
		return 0;
	PUT(p, "{\"error\":\"");
	memcpy(p, msg, ml);
	p += ml;
	PUT(p, "\"}");
	return (size_t)(p - out);
}
