/* lib/lazylib.h — binding of the heavy libraries (libgit2, libcurl, libarchive,
 * libmicrohttpd) on first use.
 *
 * With LAZY_LIBS (the default on x86_64/aarch64), slipway is not linked against those
 * libraries: tools/gen-lazylibs writes a trampoline for each of their functions slipway calls,
 * and the first call of any of them dlopen()s the library. A command that never calls into a
 * library (container run) never maps it: it starts ~7 ms sooner (../shared/REFERENCE.md).
 */
#ifndef SLIPWAY_LIB_LAZYLIB_H
#define SLIPWAY_LIB_LAZYLIB_H

struct lazylib_lib {
	const char *soname; /* e.g. "libcurl.so.4" */
	void *handle;	    /* set on first use */
};

struct lazylib_sym {
	const char *name;
	unsigned lib; /* index into lazylib_libs */
	void **slot;  /* the trampoline's target */
};

/* Called by the generated resolver stub; returns the function's address after storing it in
 * its slot. A library that cannot be loaded ends the process with exit status 3 and a message
 * naming the library and the package to install. */
void *lazylib_resolve(unsigned index);

/* How many of the lazy libraries are mapped so far (for tests). */
int lazylib_loaded_count(void);

#endif
