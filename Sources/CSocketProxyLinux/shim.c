/* Thin wrappers over Linux-only calls; see the header for why they exist. */
#define _GNU_SOURCE
#include "CSocketProxyLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <unistd.h>

const uint32_t CSocketProxyLinux_EPOLLIN = EPOLLIN;
const uint32_t CSocketProxyLinux_EPOLLOUT = EPOLLOUT;
const uint32_t CSocketProxyLinux_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CSocketProxyLinux_EPOLLHUP = EPOLLHUP;
const uint32_t CSocketProxyLinux_EPOLLERR = EPOLLERR;
const uint32_t CSocketProxyLinux_EPOLLET = EPOLLET;
const uint32_t CSocketProxyLinux_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;
const int CSocketProxyLinux_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int CSocketProxyLinux_EPOLL_CTL_MOD = EPOLL_CTL_MOD;
const int CSocketProxyLinux_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const unsigned int CSocketProxyLinux_SPLICE_F_MOVE = SPLICE_F_MOVE;
const unsigned int CSocketProxyLinux_SPLICE_F_NONBLOCK = SPLICE_F_NONBLOCK;
const unsigned int CSocketProxyLinux_SPLICE_F_MORE = SPLICE_F_MORE;
const int CSocketProxyLinux_F_SETPIPE_SZ = F_SETPIPE_SZ;
const int CSocketProxyLinux_F_GETPIPE_SZ = F_GETPIPE_SZ;
const int CSocketProxyLinux_SOCK_STREAM = SOCK_STREAM;
const int CSocketProxyLinux_SOCK_DGRAM = SOCK_DGRAM;
const int CSocketProxyLinux_SOCK_NONBLOCK = SOCK_NONBLOCK;
const int CSocketProxyLinux_SOCK_CLOEXEC = SOCK_CLOEXEC;
const int CSocketProxyLinux_TCP_NODELAY = TCP_NODELAY;
const int CSocketProxyLinux_SO_REUSEPORT = SO_REUSEPORT;
const int CSocketProxyLinux_MSG_NOSIGNAL = MSG_NOSIGNAL;

int CSocketProxyLinux_epoll_create(void) {
    return epoll_create1(EPOLL_CLOEXEC);
}

int CSocketProxyLinux_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int CSocketProxyLinux_epoll_wait(int epfd, CSocketProxyLinux_epoll_event *events, int max, int timeout_ms) {
    struct epoll_event raw[1024];
    if (max > 1024) {
        max = 1024;
    }
    int n = epoll_wait(epfd, raw, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return n;
}

ssize_t CSocketProxyLinux_splice(int fd_in, int fd_out, size_t len, unsigned int flags) {
    return splice(fd_in, NULL, fd_out, NULL, len, flags);
}

int CSocketProxyLinux_pipe(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

int CSocketProxyLinux_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int CSocketProxyLinux_eventfd(void) {
    return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int CSocketProxyLinux_eventfd_blocking(void) {
    return eventfd(0, EFD_CLOEXEC);
}

int CSocketProxyLinux_timerfd(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int CSocketProxyLinux_timerfd_set(int fd, uint64_t deadline_ns) {
    struct itimerspec spec = {0};
    /* An it_value of zero would disarm the timer; monotonic time 1 ns is as much in the past. */
    if (deadline_ns == 0) deadline_ns = 1;
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

int CSocketProxyLinux_peercred(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        return -1;
    }
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

void CSocketProxyLinux_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

int CSocketProxyLinux_malloc_trim(void) {
    return malloc_trim(0);
}

int CSocketProxyLinux_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
