/* tests/helpers/forkbomb.c — forks until fork fails N times in a row, then the children exit:
 * forkbomb [SECONDS]. Prints how many forks failed. Static, copied into test roots. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 2;
	time_t end = time(NULL) + secs;
	long failed = 0, made = 0;

	while (time(NULL) < end) {
		pid_t p = fork();

		if (p == 0) {
			sleep((unsigned)secs + 1);
			_exit(0);
		}
		if (p < 0)
			failed++;
		else
			made++;
		if (failed > 1000)
			break;
	}
	/* The children sleep on; they die with the container when this, its command, ends. */
	printf("forked %ld, failed %ld\n", made, failed);
	return 0;
}
