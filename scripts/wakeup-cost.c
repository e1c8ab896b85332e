// What a wake-up costs on this machine: two processes pass one byte back and forth over a Unix socket pair, each
// sleeping in epoll_wait until the other's byte arrives, as a proxy and its peers do at one connection. Prints the CPU
// time (both processes, user and system) and the wall time per round trip, with the two processes on one core and
// free to be on different cores, and with epoll_wait given a timeout or none.
//
//   cc -O2 -o /tmp/wakeup-cost scripts/wakeup-cost.c && /tmp/wakeup-cost [ROUND_TRIPS]
//
// Docs/performance.md quotes its figures for the benchmark machine.
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

// Waits for a byte and answers it, `rounds` times; the starter sends the first byte.
static void bounce(int fd, int timeout_ms, long rounds, int starter) {
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event interest = {.events = EPOLLIN | EPOLLET, .data.fd = fd};
    if (epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &interest) != 0) _exit(2);
    char byte = 'x';
    if (starter && write(fd, &byte, 1) != 1) _exit(2);
    for (long i = 0; i < rounds; i++) {
        struct epoll_event event;
        while (epoll_wait(epoll, &event, 1, timeout_ms) < 1) {}
        while (read(fd, &byte, 1) != 1) {}
        if (write(fd, &byte, 1) != 1) _exit(2);
    }
}

static void measure(const char *placement, int one_core, int timeout_ms, long rounds) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) != 0) exit(2);
    struct rusage before_self, before_children, after_self, after_children;
    getrusage(RUSAGE_SELF, &before_self);
    getrusage(RUSAGE_CHILDREN, &before_children);
    double start = now();
    pid_t child = fork();
    if (child == 0) {
        if (one_core) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(0, &set);
            sched_setaffinity(0, sizeof set, &set);
        }
        bounce(pair[1], timeout_ms, rounds, 0);
        _exit(0);
    }
    cpu_set_t saved, set;
    sched_getaffinity(0, sizeof saved, &saved);
    if (one_core) {
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    bounce(pair[0], timeout_ms, rounds, 1);
    waitpid(child, NULL, 0);
    double wall = now() - start;
    sched_setaffinity(0, sizeof saved, &saved);
    getrusage(RUSAGE_SELF, &after_self);
    getrusage(RUSAGE_CHILDREN, &after_children);
    double cpu = seconds(after_self.ru_utime) - seconds(before_self.ru_utime) + seconds(after_self.ru_stime)
        - seconds(before_self.ru_stime) + seconds(after_children.ru_utime) - seconds(before_children.ru_utime)
        + seconds(after_children.ru_stime) - seconds(before_children.ru_stime);
    printf("%-16s epoll_wait timeout %-5s  %7.2f us CPU, %7.2f us wall per round trip\n", placement,
        timeout_ms < 0 ? "none" : "1 s", cpu * 1e6 / (double)rounds, wall * 1e6 / (double)rounds);
    close(pair[0]);
    close(pair[1]);
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 100000;
    if (rounds < 1) rounds = 100000;
    for (int repeat = 0; repeat < 3; repeat++) {
        measure("one core", 1, 1000, rounds);
        measure("one core", 1, -1, rounds);
        measure("any core", 0, 1000, rounds);
        measure("any core", 0, -1, rounds);
    }
    return 0;
}
