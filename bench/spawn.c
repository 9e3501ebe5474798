/* Interleaved process timer for bench/run.sh.
 *
 *   spawn RUNS CMD1 ARGS... ';' CMD2 ARGS... [';' ...]
 *
 * Runs round after round, each round spawning every command once in turn (stdout and stderr to
 * /dev/null), and prints one line per command: the median, 25th and 75th percentile wall time in
 * microseconds. Interleaving is the point: on a shared, noisy machine the speed drifts over
 * seconds, and timing each command in its own block (as hyperfine does) lets that drift land on
 * one command and not the other. A command that exits non-zero stops the benchmark. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: spawn RUNS CMD ARGS... [';' CMD ARGS...]\n");
    return 2;
  }
  int runs = atoi(argv[1]), n = 0;
  char **cmds[64];
  for (int i = 2; i < argc && n < 64;) {
    cmds[n++] = &argv[i];
    while (i < argc && strcmp(argv[i], ";") != 0) i++;
    if (i < argc) argv[i++] = NULL;
  }
  double *t = malloc(sizeof(double) * (size_t)runs * (size_t)n);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  const int warmup = 20;
  for (int r = -warmup; r < runs; r++) {
    for (int c = 0; c < n; c++) {
      struct timespec a, b;
      pid_t pid;
      int st;
      clock_gettime(CLOCK_MONOTONIC, &a);
      if (posix_spawnp(&pid, cmds[c][0], &fa, NULL, cmds[c], environ) != 0) {
        perror(cmds[c][0]);
        return 1;
      }
      if (waitpid(pid, &st, 0) < 0) {
        perror("waitpid");
        return 1;
      }
      clock_gettime(CLOCK_MONOTONIC, &b);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "spawn: %s failed (status %d)\n", cmds[c][0], st);
        return 1;
      }
      if (r >= 0) t[(size_t)c * runs + r] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
    }
  }
  for (int c = 0; c < n; c++) {
    double *s = &t[(size_t)c * runs];
    qsort(s, (size_t)runs, sizeof(double), cmp);
    printf("%.1f %.1f %.1f\n", s[runs / 2], s[runs / 4], s[runs * 3 / 4]);
  }
  return 0;
}
