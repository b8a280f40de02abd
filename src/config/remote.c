// SPDX-License-Identifier: MIT
/*
 * `lvmm check` for the remote: section: the PEM files hold what they claim
 * to (a certificate, an unencrypted private key, a CA certificate). Only
 * the armour is looked at: the TLS library of the front-end (GnuTLS through
 * libmicrohttpd, src/api/http.c) parses them when it starts, and a key that
 * does not match its certificate stops it there ("api_exit" events).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/platform.h"

#define PEM_SCAN_MAX (256 * 1024) /* certificate bundles are far smaller */

/* Does the file at path contain a line with begin (and none with bad, if given)? */
static bool pem_has(const char *path, const char *begin, const char *bad)
{
	char line[256];
	bool found = false, refused = false;
	size_t seen = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (seen < PEM_SCAN_MAX && fgets(line, sizeof(line), f)) {
		seen += strlen(line);
		if (strstr(line, begin))
			found = true;
		if (bad && strstr(line, bad))
			refused = true;
	}
	fclose(f);
	return found && !refused;
}

int plat_remote_pem_check(const struct plat_remote *r, char *why, size_t n)
{
	if (!pem_has(r->cert, "-----BEGIN CERTIFICATE-----", NULL))
		snprintf(why, n, "cert '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)", r->cert);
	else if (!pem_has(r->key, "PRIVATE KEY-----", "ENCRYPTED"))
		snprintf(why, n, "key '%s' holds no unencrypted PEM private key (-----BEGIN PRIVATE KEY-----)",
			 r->key);
	else if (!pem_has(r->client_ca, "-----BEGIN CERTIFICATE-----", NULL))
		snprintf(why, n, "client_ca '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
			 r->client_ca);
	else
		return 0;
	return -EINVAL;
}
