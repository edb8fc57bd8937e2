/* lib/lazylib.c — dlopen a heavy library the first time one of its functions is called.
 * The tables and trampolines come from tools/gen-lazylibs (build/lazylibs.S). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/lazylib.h"

extern struct lazylib_lib lazylib_libs[];
extern const unsigned lazylib_nlibs;
extern const struct lazylib_sym lazylib_syms[];

static pthread_mutex_t lazylib_lock = PTHREAD_MUTEX_INITIALIZER;

void *lazylib_resolve(unsigned index)
{
	const struct lazylib_sym *s = &lazylib_syms[index];
	struct lazylib_lib *l = &lazylib_libs[s->lib];
	void *fn;

	pthread_mutex_lock(&lazylib_lock);
	if (!l->handle) {
		l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
		if (!l->handle) {
			fprintf(stderr,
				"slipway: cannot load '%s': %s (is its Debian package "
				"installed? ./configure --install-deps)\n",
				l->soname, dlerror());
			_exit(3);
		}
	}
	fn = dlsym(l->handle, s->name);
	if (!fn) {
		fprintf(stderr, "slipway: '%s' has no function '%s': %s\n", l->soname, s->name,
			dlerror());
		_exit(3);
	}
	__atomic_store_n(s->slot, fn, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lazylib_lock);
	return fn;
}

int lazylib_loaded_count(void)
{
	int n = 0;

	for (unsigned i = 0; i < lazylib_nlibs; i++)
		n += lazylib_libs[i].handle != NULL;
	return n;
}
