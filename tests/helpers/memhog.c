/* tests/helpers/memhog.c — allocates and touches memory until killed: memhog [MiB] (default
 * unlimited). Exits 0 after touching MiB mebibytes. Static, copied into test roots. */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	long mib = argc > 1 ? atol(argv[1]) : -1;

	for (long i = 0; mib < 0 || i < mib; i++) {
		char *p = malloc(1 << 20);

		if (!p)
			return 1;
		memset(p, (int)i + 1, 1 << 20);
	}
	return 0;
}
