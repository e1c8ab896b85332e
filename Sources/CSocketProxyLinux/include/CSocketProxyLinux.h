/* Linux system calls and constants that Swift's Glibc module does not expose.
 *
 * Only prefixed wrappers are declared here. The implementation file defines _GNU_SOURCE before including the
 * system headers; doing that in a header that Swift imports next to Glibc makes <sys/epoll.h> and friends
 * redeclare fd_set and clash with the Glibc module.
 */
#ifndef CSOCKETPROXYLINUX_H
#define CSOCKETPROXYLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

/* struct epoll_event is packed on x86_64, which the importer handles poorly; the wrapper copies into this. */
typedef struct {
    uint32_t events;
    uint64_t data;
} CSocketProxyLinux_epoll_event;

extern const uint32_t CSocketProxyLinux_EPOLLIN;
extern const uint32_t CSocketProxyLinux_EPOLLOUT;
extern const uint32_t CSocketProxyLinux_EPOLLRDHUP;
extern const uint32_t CSocketProxyLinux_EPOLLHUP;
extern const uint32_t CSocketProxyLinux_EPOLLERR;
extern const uint32_t CSocketProxyLinux_EPOLLET;
extern const uint32_t CSocketProxyLinux_EPOLLEXCLUSIVE;
extern const int CSocketProxyLinux_EPOLL_CTL_ADD;
extern const int CSocketProxyLinux_EPOLL_CTL_MOD;
extern const int CSocketProxyLinux_EPOLL_CTL_DEL;
extern const unsigned int CSocketProxyLinux_SPLICE_F_MOVE;
extern const unsigned int CSocketProxyLinux_SPLICE_F_NONBLOCK;
extern const unsigned int CSocketProxyLinux_SPLICE_F_MORE;
extern const int CSocketProxyLinux_F_SETPIPE_SZ;
extern const int CSocketProxyLinux_F_GETPIPE_SZ;
/* The socket types, as plain ints: importing them from Glibc breaks once another module on the import path
 * (Foundation did, when the policy file was read with Yams) brings its own view of <sys/socket.h>, and the names
 * stop resolving. */
extern const int CSocketProxyLinux_SOCK_STREAM;
extern const int CSocketProxyLinux_SOCK_DGRAM;
extern const int CSocketProxyLinux_SOCK_NONBLOCK;
extern const int CSocketProxyLinux_SOCK_CLOEXEC;
extern const int CSocketProxyLinux_TCP_NODELAY;
extern const int CSocketProxyLinux_SO_REUSEPORT;
extern const int CSocketProxyLinux_MSG_NOSIGNAL;

int CSocketProxyLinux_epoll_create(void);
int CSocketProxyLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Waits at most timeout_ms (-1: forever); max must be at most 1024. */
int CSocketProxyLinux_epoll_wait(int epfd, CSocketProxyLinux_epoll_event *events, int max, int timeout_ms);

/* splice(2) without offsets: one side is always a pipe here. */
ssize_t CSocketProxyLinux_splice(int fd_in, int fd_out, size_t len, unsigned int flags);
int CSocketProxyLinux_pipe(int fds[2]);
int CSocketProxyLinux_accept(int fd, struct sockaddr *addr, socklen_t *len);
int CSocketProxyLinux_eventfd(void);
/* A blocking eventfd, for a thread that sleeps in read(2) until woken. */
int CSocketProxyLinux_eventfd_blocking(void);
/* A nonblocking timerfd on CLOCK_MONOTONIC. */
int CSocketProxyLinux_timerfd(void);
/* Arms it to expire once at the absolute monotonic time deadline_ns (a time already past expires at once). */
int CSocketProxyLinux_timerfd_set(int fd, uint64_t deadline_ns);
/* SO_PEERCRED of a Unix socket; struct ucred needs _GNU_SOURCE. */
int CSocketProxyLinux_peercred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/* Names the calling thread (at most 15 bytes are kept), for ps and top. */
void CSocketProxyLinux_set_thread_name(const char *name);

/* malloc_trim(3): glibc-only, hidden from the Glibc module. Returns 1 when memory went back to the system. */
int CSocketProxyLinux_malloc_trim(void);

/* Sets the nice value of the calling thread only (Linux threads have their own). */
int CSocketProxyLinux_set_thread_nice(int nice);

#endif
