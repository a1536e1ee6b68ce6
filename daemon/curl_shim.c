/*
 * curl_shim.c - libcurl, loaded when the first webhook is sent.
 *
 * Linking libcurl pulls some thirty libraries into the process at start
 * (TLS, LDAP, Kerberos, SSH...), about 4 MB of resident memory that a daemon
 * without webhooks never uses. As systemd does for its optional libraries,
 * the binary is not linked with libcurl: these definitions of the libcurl
 * functions that expensed calls open libcurl.so.4 on first use and forward
 * to it. If it cannot be opened, every call fails as libcurl reports a
 * failure (CURLE_FAILED_INIT, NULL), so deliveries wait in outbox/.
 */
#define CURL_DISABLE_TYPECHECK 1

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "log.h"

#define LIBCURL "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	const char *(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} api;

static int loaded; /* 1 loaded, -1 failed */

static int sym(void *lib, const char *name, void *fn)
{
	void *p = dlsym(lib, name);

	if (p == NULL)
		return -1;
	/* POSIX: a data pointer from dlsym converts to a function pointer */
	*(void **)fn = p;
	return 0;
}

static void load(void)
{
	void *lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);

	loaded = -1;
	if (lib == NULL) {
		log_msg(LOG_ERR, "cannot load %s: %s", LIBCURL, dlerror());
		return;
	}
	if (sym(lib, "curl_global_init", &api.global_init) ||
	    sym(lib, "curl_global_cleanup", &api.global_cleanup) ||
	    sym(lib, "curl_easy_init", &api.easy_init) ||
	    sym(lib, "curl_easy_cleanup", &api.easy_cleanup) ||
	    sym(lib, "curl_easy_setopt", &api.easy_setopt) ||
	    sym(lib, "curl_easy_getinfo", &api.easy_getinfo) ||
	    sym(lib, "curl_easy_perform", &api.easy_perform) ||
	    sym(lib, "curl_easy_strerror", &api.easy_strerror) ||
	    sym(lib, "curl_multi_init", &api.multi_init) ||
	    sym(lib, "curl_multi_cleanup", &api.multi_cleanup) ||
	    sym(lib, "curl_multi_add_handle", &api.multi_add_handle) ||
	    sym(lib, "curl_multi_remove_handle", &api.multi_remove_handle) ||
	    sym(lib, "curl_multi_setopt", &api.multi_setopt) ||
	    sym(lib, "curl_multi_socket_action", &api.multi_socket_action) ||
	    sym(lib, "curl_multi_info_read", &api.multi_info_read) ||
	    sym(lib, "curl_multi_strerror", &api.multi_strerror) ||
	    sym(lib, "curl_slist_append", &api.slist_append) ||
	    sym(lib, "curl_slist_free_all", &api.slist_free_all)) {
		log_msg(LOG_ERR, "%s lacks a function: %s", LIBCURL, dlerror());
		dlclose(lib);
		return;
	}
	loaded = 1; /* never closed: libcurl may keep threads and state */
}

static bool ready(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, load);
	return loaded == 1;
}

/*
 * The one argument after the option, read by its type as libcurl reads it:
 * the option number's range says long, pointer, function or curl_off_t.
 */
#define FORWARD_OPTION(call, handle, option, ap)                               \
	(option < CURLOPTTYPE_OBJECTPOINT                                      \
	     ? call(handle, option, va_arg(ap, long))                          \
	 : option < CURLOPTTYPE_FUNCTIONPOINT                                  \
	     ? call(handle, option, va_arg(ap, void *))                        \
	 : option < CURLOPTTYPE_OFF_T                                          \
	     ? call(handle, option, va_arg(ap, void (*)(void)))                \
	 : option < CURLOPTTYPE_BLOB                                           \
	     ? call(handle, option, va_arg(ap, curl_off_t))                    \
	     : call(handle, option, va_arg(ap, void *)))

CURLcode curl_global_init(long flags)
{
	return ready() ? api.global_init(flags) : CURLE_FAILED_INIT;
}

void curl_global_cleanup(void)
{
	if (ready())
		api.global_cleanup();
}

CURL *curl_easy_init(void)
{
	return ready() ? api.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (ready())
		api.easy_cleanup(h);
}

CURLcode curl_easy_setopt(CURL *h, CURLoption option, ...)
{
	va_list ap;
	CURLcode rc;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	rc = FORWARD_OPTION(api.easy_setopt, h, option, ap);
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	rc = api.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? api.easy_perform(h) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? api.easy_strerror(code) : "libcurl is not available";
}

CURLM *curl_multi_init(void)
{
	return ready() ? api.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return ready() ? api.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	return ready() ? api.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return ready() ? api.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption option, ...)
{
	va_list ap;
	CURLMcode rc;

	if (!ready())
		return CURLM_INTERNAL_ERROR;
	va_start(ap, option);
	rc = FORWARD_OPTION(api.multi_setopt, m, option, ap);
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int mask,
				   int *running)
{
	return ready() ? api.multi_socket_action(m, s, mask, running)
		       : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? api.multi_info_read(m, left) : NULL;
}

const char *curl_multi_strerror(CURLMcode code)
{
	return ready() ? api.multi_strerror(code) : "libcurl is not available";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? api.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (ready())
		api.slist_free_all(l);
}
