#ifndef CLINUX_H
#define CLINUX_H

#include <sys/types.h>

/* Linux calls the Swift Glibc module does not expose (they need
 * _GNU_SOURCE). Each returns what the libc call returns; errno is set. */

/* unshare(CLONE_NEWNET): a new network namespace for the calling thread. */
int clinux_unshare_net(void);
/* unshare(CLONE_NEWUSER | CLONE_NEWNET), for an unprivileged user. */
int clinux_unshare_user_net(void);
/* Brings the loopback device up in the current network namespace. */
int clinux_loopback_up(void);
/* Becomes euid `uid` (dropping effective capabilities), or back to 0. */
int clinux_seteuid(uid_t uid);
/* Closes every descriptor above stderr (close_range(3, ~0U, 0)). */
int clinux_close_inherited(void);
/* The number of open descriptors of this process (from /proc/self/fd). */
int clinux_count_fds(void);

#endif
