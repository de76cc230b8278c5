/*
 * pause: the process that holds a pod sandbox's namespaces open.
 *
 * crigate's own source for the image registry.k8s.io/pause:3.6 that
 * scripts/build-images.sh builds (no registry is reachable here). It
 * sleeps until SIGINT or SIGTERM and then exits 0; as PID 1 of a pod
 * sharing its PID namespace it also reaps orphaned children, which
 * would otherwise stay zombies. Built with `gcc -static -O2`: the image
 * has no libc.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void on_chld(int sig) {
  (void)sig;
  int saved = errno; /* keep the interrupted code's errno */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  /* SA_NOCLDSTOP: a stopped child is no reason to wake up. */
  sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
  return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (crigate) 3.6");
    return 0;
  }
  if (getpid() != 1)
    fputs("pause: warning: not running as PID 1\n", stderr);

  if (handle(SIGINT, on_term) || handle(SIGTERM, on_term) ||
      handle(SIGCHLD, on_chld)) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;)
    pause();
}
