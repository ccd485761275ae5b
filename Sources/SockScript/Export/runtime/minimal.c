/* The preamble of `sockscript export c --minimal`: a private network
   namespace, and one printed line per call. The exporter copies the part
   before the first `@` section always, and each `@` section only when the
   scenario needs it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct { int fd, result; char data[65537]; struct sockaddr_storage from, l, r; } sock;

/* Prints a call's result; one its `=>` does not list ends the run (exit 1). */
static inline int check(int line, const char *stmt, long rc, const char *allowed) {
  int e = rc < 0 ? errno : 0;
  char got[40], list[160];
  snprintf(got, sizeof got, "|%s|", e ? strerrorname_np(e) : "ok");
  snprintf(list, sizeof list, "|%s|", allowed);
  int pass = !strcmp(allowed, "any") || strstr(list, got);
  printf("%4d  %-44s %s%s%s\n", line, stmt, e ? strerrorname_np(e) : "ok", !pass ? "  FAIL: expected " : e ? " (expected)" : "", pass ? "" : allowed);
  if (!pass) { printf("FAIL\n"); exit(1); }
  return e;
}

static inline void expect(int line, const char *stmt, int holds) {
  printf("%4d  %-44s %s\n", line, stmt, holds ? "holds" : "FAIL: it does not hold");
  if (!holds) { printf("FAIL\n"); exit(1); }
}

/* A blocking call gives up after 2 s (EAGAIN, or EINPROGRESS for connect). */
static inline void timeouts(int fd) {
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void setup(void) { /* as root: a fresh network namespace with lo up */
  struct ifreq ifr = {.ifr_name = "lo"};
  int s = unshare(CLONE_NEWNET) == 0 ? socket(AF_INET, SOCK_DGRAM, 0) : -1;
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) { perror("network namespace (run as root)"); exit(3); }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) { perror("bring lo up"); exit(3); }
  close(s);
  setvbuf(stdout, NULL, _IOLBF, 0);
}

/* @ipopts: options older C libraries do not name. */
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* @kernel: this machine's release against a version (patch -1: the line only). */
#include <sys/utsname.h>
static inline int kernel_cmp(int major, int minor, int patch) {
  struct utsname u;
  int a = 0, b = 0, c = 0, n = uname(&u) == 0 ? sscanf(u.release, "%d.%d.%d", &a, &b, &c) : 0;
  if (a != major || b != minor) return a != major ? (a < major ? -1 : 1) : (b < minor ? -1 : 1);
  return patch < 0 || n < 3 ? 0 : (c > patch) - (c < patch);
}

/* @uid: calls on a socket made as another user run as that user. */
static inline void as_user(unsigned uid) {
  if (seteuid(uid) != 0) { perror("seteuid"); exit(3); }
}

/* @sysctl */
static inline int write_sysctl(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  long n = write(fd, value, strlen(value));
  int e = errno;
  close(fd);
  errno = e;
  return n < 0 ? -1 : 0;
}

/* @addr: ip addr add ADDRESS/PREFIX dev lo nodad, by rtnetlink. */
#include <linux/rtnetlink.h>
static inline int addr_add(int family, const char *address, int prefix) {
  struct { struct nlmsghdr nh; struct ifaddrmsg ifa; char attrs[64]; } req = {
    .nh = {.nlmsg_type = RTM_NEWADDR, .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL},
    .ifa = {.ifa_family = family, .ifa_prefixlen = prefix, .ifa_flags = IFA_F_NODAD, .ifa_index = if_nametoindex("lo")}};
  unsigned char a[16];
  inet_pton(family, address, a);
  int alen = family == AF_INET ? 4 : 16;
  req.ifa.ifa_scope = (family == AF_INET ? a[0] == 127 : !strcmp(address, "::1")) ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  for (int k = 0; k < 2; k++) {
    struct rtattr *rta = (struct rtattr *)(req.attrs + k * RTA_ALIGN(RTA_LENGTH(alen)));
    rta->rta_type = k ? IFA_ADDRESS : IFA_LOCAL;
    rta->rta_len = RTA_LENGTH(alen);
    memcpy(RTA_DATA(rta), a, alen);
  }
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa) + 2 * RTA_ALIGN(RTA_LENGTH(alen));
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  char buf[4096];
  if (fd < 0 || send(fd, &req, req.nh.nlmsg_len, 0) < 0 || recv(fd, buf, sizeof buf, 0) < 0) return -1;
  close(fd);
  struct nlmsghdr *h = (struct nlmsghdr *)buf;
  errno = h->nlmsg_type == NLMSG_ERROR ? -((struct nlmsgerr *)NLMSG_DATA(h))->error : 0;
  return errno ? -1 : 0;
}

/* @names: a socket's endpoints as text ("127.0.0.1:80", "[::1]:80"). */
static inline char *ep_text(const struct sockaddr_storage *ss, int with_port) {
  static char ring[8][64];
  static int next;
  char *out = ring[next++ % 8], host[INET6_ADDRSTRLEN] = "";
  const struct sockaddr_in *s4 = (const void *)ss;
  const struct sockaddr_in6 *s6 = (const void *)ss;
  int v6 = ss->ss_family == AF_INET6;
  if (ss->ss_family == AF_UNSPEC) return strcpy(out, "none");
  inet_ntop(ss->ss_family, v6 ? (const void *)&s6->sin6_addr : (const void *)&s4->sin_addr, host, sizeof host);
  if (!with_port) return strcpy(out, host);
  snprintf(out, 64, v6 ? "[%s]:%d" : "%s:%d", host, ntohs(v6 ? s6->sin6_port : s4->sin_port));
  return out;
}

/* While the socket is open, what the kernel says; after close, what it said. */
static inline struct sockaddr_storage *name_of(sock *s, int peer) {
  struct sockaddr_storage *ss = peer ? &s->r : &s->l;
  socklen_t len = sizeof *ss;
  if (s->fd >= 0) {
    memset(ss, 0, sizeof *ss);
    if ((peer ? getpeername : getsockname)(s->fd, (struct sockaddr *)ss, &len) != 0) memset(ss, 0, sizeof *ss);
  }
  return ss;
}

static inline int port_of(sock *s, int peer) {
  struct sockaddr_storage *ss = name_of(s, peer);
  return ntohs(ss->ss_family == AF_INET6 ? ((struct sockaddr_in6 *)ss)->sin6_port : ((struct sockaddr_in *)ss)->sin_port);
}
static inline void keep(sock *s) { name_of(s, 0), name_of(s, 1); }

/* @endpoint: a sockaddr from an endpoint's text. */
static inline socklen_t sockaddr_of(const char *ep, struct sockaddr_storage *ss) {
  char host[64];
  int port = 0;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (void *)ss;
  struct sockaddr_in6 *s6 = (void *)ss;
  if (sscanf(ep, "[%63[^]]]:%d", host, &port) == 2 && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6, s6->sin6_port = htons(port);
    return sizeof *s6;
  }
  if (sscanf(ep, "%63[^:]:%d", host, &port) >= 1) inet_pton(AF_INET, host, &s4->sin_addr);
  s4->sin_family = AF_INET, s4->sin_port = htons(port);
  return sizeof *s4;
}

static inline char *join(const char *host, long port) {
  static char ring[8][80];
  static int next;
  char *out = ring[next++ % 8];
  snprintf(out, 80, strchr(host, ':') && host[0] != '[' ? "[%s]:%ld" : "%s:%ld", host, port);
  return out;
}

/* @state: states as sock_diag reports them, for NAME.state and count(). */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
enum { CLOSED, BOUND, LISTEN, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT };
static inline const char *state_name(int s) {
  static const char *names[] = {"CLOSED", "BOUND", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
                                "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"};
  return names[s];
}
typedef struct { int tcp, state; unsigned inode; struct sockaddr_storage l, r; } row;
static row rows[4096];
static int nrows;

static inline int from_tcp(int s) { /* include/net/tcp_states.h */
  static const int map[] = {CLOSED, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSED,
                            CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, SYN_RECV, BOUND};
  return s >= 0 && s < 14 ? map[s] : CLOSED;
}

/* A sock_diag socket even when the scenario's ulimit is used up: the limit
   is raised for this one open and put back. */
static inline int diag_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  struct rlimit saved, more;
  if (fd < 0 && errno == EMFILE && getrlimit(RLIMIT_NOFILE, &saved) == 0) {
    more = saved;
    more.rlim_cur = saved.rlim_cur + 1;
    more.rlim_max = more.rlim_max > more.rlim_cur ? more.rlim_max : more.rlim_cur;
    setrlimit(RLIMIT_NOFILE, &more);
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    saved.rlim_max = more.rlim_max;
    setrlimit(RLIMIT_NOFILE, &saved);
  }
  timeouts(fd);
  return fd;
}

static inline void dump(void) {
  nrows = 0;
  for (int k = 0; k < 4; k++) {
    int tcp = k < 2, fam = k % 2 ? AF_INET6 : AF_INET, fd = diag_socket(), done = 0;
    struct { struct nlmsghdr nh; struct inet_diag_req_v2 req; } msg = {
      {sizeof msg, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0},
      {.sdiag_family = fam, .sdiag_protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP, .idiag_states = ~0u}};
    static char buf[65536];
    if (fd < 0 || send(fd, &msg, sizeof msg, 0) < 0) done = 1;
    while (!done) {
      long n = recv(fd, buf, sizeof buf, 0);
      done = n <= 0;
      for (struct nlmsghdr *h = (void *)buf; !done && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) { done = 1; break; }
        struct inet_diag_msg *d = NLMSG_DATA(h);
        row *r = &rows[nrows < 4095 ? nrows++ : nrows];
        *r = (row){tcp, tcp ? from_tcp(d->idiag_state) : d->idiag_state == 1 ? ESTABLISHED : BOUND, d->idiag_inode};
        r->state = r->state == CLOSED ? BOUND : r->state;
        r->l.ss_family = r->r.ss_family = fam;
        struct sockaddr_in6 *l6 = (void *)&r->l, *r6 = (void *)&r->r;
        struct sockaddr_in *l4 = (void *)&r->l, *r4 = (void *)&r->r;
        memcpy(fam == AF_INET ? (void *)&l4->sin_addr : &l6->sin6_addr, d->id.idiag_src, fam == AF_INET ? 4 : 16);
        memcpy(fam == AF_INET ? (void *)&r4->sin_addr : &r6->sin6_addr, d->id.idiag_dst, fam == AF_INET ? 4 : 16);
        *(fam == AF_INET ? &l4->sin_port : &l6->sin6_port) = d->id.idiag_sport;
        *(fam == AF_INET ? &r4->sin_port : &r6->sin6_port) = d->id.idiag_dport;
      }
    }
    if (fd >= 0) close(fd);
  }
}

static inline unsigned inode_of(int fd) {
  struct stat st;
  return fd >= 0 && fstat(fd, &st) == 0 ? (unsigned)st.st_ino : 0;
}

static inline row *listed(int fd) {
  for (int k = 0; k < nrows; k++)
    if (rows[k].inode && rows[k].inode == inode_of(fd)) return &rows[k];
  return NULL;
}

static inline int is_tcp(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

static inline int own_state(int fd) { /* an open socket */
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  dump();
  if (!is_tcp(fd)) {
    struct sockaddr_storage ss;
    len = sizeof ss;
    return getpeername(fd, (struct sockaddr *)&ss, &len) == 0 ? ESTABLISHED : listed(fd) ? BOUND : CLOSED;
  }
  int s = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? from_tcp(ti.tcpi_state) : CLOSED;
  return s == CLOSED && listed(fd) ? BOUND : s;
}

static inline int same(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  return a->ss_family && !strcmp(ep_text(a, 1), ep_text(b, 1));
}

/* After close: whatever the kernel still holds for its 4-tuple (TIME_WAIT). */
static inline int state_of(sock *s, sock **all) {
  if (s->fd >= 0) return own_state(s->fd);
  dump();
  for (int k = 0; k < nrows; k++) {
    int ours = 0;
    for (int j = 0; all[j]; j++) ours |= all[j]->fd >= 0 && inode_of(all[j]->fd) == rows[k].inode;
    if (rows[k].tcp && !ours && s->r.ss_family && same(&rows[k].l, &s->l) && same(&rows[k].r, &s->r)) return rows[k].state;
  }
  return CLOSED;
}

/* Every socket of the namespace in that state; open ones that hold no port are CLOSED. */
static inline int count(int state, sock **all) {
  int n = 0;
  dump();
  for (int k = 0; k < nrows; k++) n += rows[k].state == state;
  for (int j = 0; all[j]; j++) {
    dump();
    if (all[j]->fd >= 0 && !listed(all[j]->fd)) n += (is_tcp(all[j]->fd) ? own_state(all[j]->fd) : CLOSED) == state;
  }
  return n;
}
