#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* Runtime functions a scenario may not use. */
#define RT static __attribute__((unused))

/* ---- the run ---------------------------------------------------------- */

static const char *g_file = "";
static int g_keep_going = 0;
static long g_timeout_ms = 2000;
static int g_statements, g_expectations, g_failed;

RT void verdict_and_exit(int code);

/* A run-time error in the script (exit 2), as sockscript reports it. */
RT void rt_error(int line, int col, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "%s:%d:%d: error: ", g_file, line, col);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  verdict_and_exit(2);
}

RT void fatal(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", g_file, what, strerror(errno));
  exit(3);
}

/* ---- values -------------------------------------------------------------- */

enum { V_NONE, V_INT, V_STR, V_DUR, V_ADDR, V_EP, V_STATE, V_RES, V_BOOL, V_UNSET };
typedef struct { int fam; unsigned char b[16]; } addr_t;
typedef struct {
  int t;
  long long i; /* int, duration (ms), state, errno (0: ok), bool, port */
  const char *s;
  addr_t a;
} val;

static const char *state_names[] = {"CLOSED", "BOUND", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1",
                                    "FIN_WAIT2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"};
enum { S_CLOSED, S_BOUND, S_LISTEN, S_SYN_SENT, S_SYN_RECV, S_ESTABLISHED, S_FIN_WAIT1, S_FIN_WAIT2, S_CLOSE_WAIT,
       S_CLOSING, S_LAST_ACK, S_TIME_WAIT };

static const struct { int code; const char *name; } errnos[] = {
  {EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EINTR, "EINTR"}, {EBADF, "EBADF"}, {EAGAIN, "EAGAIN"},
  {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"}, {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"},
  {ENODEV, "ENODEV"}, {EINVAL, "EINVAL"}, {ENFILE, "ENFILE"}, {EMFILE, "EMFILE"}, {ENOSPC, "ENOSPC"},
  {EPIPE, "EPIPE"}, {ERANGE, "ERANGE"}, {ENOPROTOOPT, "ENOPROTOOPT"}, {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
  {EOPNOTSUPP, "EOPNOTSUPP"}, {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"},
  {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENETDOWN, "ENETDOWN"}, {ENETUNREACH, "ENETUNREACH"},
  {ECONNABORTED, "ECONNABORTED"}, {ECONNRESET, "ECONNRESET"}, {ENOBUFS, "ENOBUFS"}, {EISCONN, "EISCONN"},
  {ENOTCONN, "ENOTCONN"}, {ETIMEDOUT, "ETIMEDOUT"}, {ECONNREFUSED, "ECONNREFUSED"}, {EHOSTUNREACH, "EHOSTUNREACH"},
  {EALREADY, "EALREADY"}, {EINPROGRESS, "EINPROGRESS"}, {EDESTADDRREQ, "EDESTADDRREQ"}, {EMSGSIZE, "EMSGSIZE"},
  {ENXIO, "ENXIO"}, {E2BIG, "E2BIG"}, {ENOTDIR, "ENOTDIR"}, {EROFS, "EROFS"}, {ENOSYS, "ENOSYS"},
  {ENOTSOCK, "ENOTSOCK"}, {EPROTOTYPE, "EPROTOTYPE"}, {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"},
  {EPFNOSUPPORT, "EPFNOSUPPORT"}, {ENETRESET, "ENETRESET"}, {ESHUTDOWN, "ESHUTDOWN"}, {EHOSTDOWN, "EHOSTDOWN"},
};

RT const char *errno_name(int e) {
  static char other[32];
  if (e == 0) return "ok";
  for (size_t k = 0; k < sizeof errnos / sizeof errnos[0]; k++)
    if (errnos[k].code == e) return errnos[k].name;
  snprintf(other, sizeof other, "E%d", e);
  return other;
}

RT char *dupstr(const char *s) {
  char *d = strdup(s);
  if (!d) fatal("out of memory");
  return d;
}

RT val v_none(void) { val v = {V_NONE, 0, NULL, {0, {0}}}; return v; }
RT val v_int(long long i) { val v = v_none(); v.t = V_INT; v.i = i; return v; }
RT val v_str(const char *s) { val v = v_none(); v.t = V_STR; v.s = s; return v; }
RT val v_dur(long long ms) { val v = v_none(); v.t = V_DUR; v.i = ms; return v; }
RT val v_state(int s) { val v = v_none(); v.t = V_STATE; v.i = s; return v; }
RT val v_res(int e) { val v = v_none(); v.t = V_RES; v.i = e; return v; }
RT val v_bool(int b) { val v = v_none(); v.t = V_BOOL; v.i = b != 0; return v; }
RT val v_unset(void) { val v = v_none(); v.t = V_UNSET; return v; }

RT int parse_addr(const char *text, addr_t *a) {
  char buf[64];
  size_t n = strlen(text);
  memset(a, 0, sizeof *a);
  if (n >= 2 && text[0] == '[' && text[n - 1] == ']' && n - 2 < sizeof buf) {
    memcpy(buf, text + 1, n - 2);
    buf[n - 2] = 0;
    text = buf;
  }
  if (inet_pton(AF_INET, text, a->b) == 1) { a->fam = AF_INET; return 1; }
  if (inet_pton(AF_INET6, text, a->b) == 1) { a->fam = AF_INET6; return 1; }
  return 0;
}

RT val v_addr(const char *text) {
  val v = v_none();
  v.t = V_ADDR;
  if (!parse_addr(text, &v.a)) rt_error(0, 0, "malformed address '%s'", text);
  return v;
}

RT val v_ep(addr_t a, int port) { val v = v_none(); v.t = V_EP; v.a = a; v.i = port; return v; }

RT const char *type_name(val v) {
  static const char *n[] = {"nothing", "integer", "string", "duration", "address", "endpoint", "state", "result", "boolean", "nothing"};
  return n[v.t];
}

/* The type name with its article, for messages ("an integer", "nothing"). */
RT const char *a_type(val v) {
  static const char *n[] = {"nothing", "an integer", "a string", "a duration", "an address", "an endpoint", "a state", "a result", "a boolean", "nothing"};
  return n[v.t];
}

RT void addr_text(addr_t a, char *out, size_t n) {
  if (a.fam == AF_INET6) {
    char t[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.b, t, sizeof t);
    snprintf(out, n, "%s", t);
  } else {
    inet_ntop(AF_INET, a.b, out, (socklen_t)n);
  }
}

RT void ep_text(addr_t a, int port, char *out, size_t n) {
  char t[INET6_ADDRSTRLEN];
  addr_text(a, t, sizeof t);
  if (a.fam == AF_INET6) snprintf(out, n, "[%s]:%d", t, port); else snprintf(out, n, "%s:%d", t, port);
}

RT const char *dur_text(long long ms) {
  static char b[8][48];
  static int k;
  char *o = b[k++ % 8];
  if (ms % 1000 == 0) snprintf(o, 48, "%llds", ms / 1000);
  else if (ms < 1000) snprintf(o, 48, "%lldms", ms);
  else {
    snprintf(o, 48, "%.3f", ms / 1000.0);
    size_t n = strlen(o);
    while (n > 0 && o[n - 1] == '0') o[--n] = 0;
    if (n > 0 && o[n - 1] == '.') o[--n] = 0;
    strcat(o, "s");
  }
  return o;
}

/* How print and $(...) show a value. */
RT const char *text(val v) {
  static char b[8][96];
  static int k;
  char *o = b[k++ % 8];
  char t[INET6_ADDRSTRLEN];
  switch (v.t) {
  case V_INT: snprintf(o, 96, "%lld", v.i); return o;
  case V_STR: return v.s;
  case V_DUR: return dur_text(v.i);
  case V_ADDR:
    addr_text(v.a, t, sizeof t);
    if (v.a.fam == AF_INET6) snprintf(o, 96, "[%s]", t); else snprintf(o, 96, "%s", t);
    return o;
  case V_EP: ep_text(v.a, (int)v.i, o, 96); return o;
  case V_STATE: return state_names[v.i];
  case V_RES: return errno_name((int)v.i);
  case V_BOOL: return v.i ? "true" : "false";
  default: return "none";
  }
}

RT long long as_int(val v, int line, int col) {
  if (v.t != V_INT) rt_error(line, col, "expected an integer, but this is %s (%s)", a_type(v), text(v));
  return v.i;
}

RT int as_bool(val v, int line, int col, const char *what) {
  if (v.t != V_BOOL) rt_error(line, col, "%s, not %s", what, a_type(v));
  return (int)v.i;
}

/* ADDRESS + N, ADDRESS - N: the address as a big-endian number of 4 or 16
   bytes, within its family. */
RT val addr_arith(char op, val x, long long n, int line, int col) {
  int len = x.a.fam == AF_INET6 ? 16 : 4;
  unsigned long long step = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
  int up = (op == '+') == (n >= 0);
  val r = x;
  unsigned carry = 0;
  for (int k = len - 1; k >= 0; k--) {
    unsigned d = (unsigned)(step & 0xFF);
    step >>= 8;
    int v = up ? (int)r.a.b[k] + (int)d + (int)carry : (int)r.a.b[k] - (int)d - (int)carry;
    carry = up ? (v > 255) : (v < 0);
    r.a.b[k] = (unsigned char)(v & 0xFF);
  }
  if (carry || step) rt_error(line, col, "%s %c %lld is outside %s", text(x), op, n, len == 4 ? "IPv4" : "IPv6");
  return r;
}

RT val arith(char op, val x, val y, int line, int col) {
  if ((op == '+' || op == '-') && x.t == V_ADDR && y.t == V_INT) return addr_arith(op, x, y.i, line, col);
  if (op == '+') {
    if (x.t == V_STR || y.t == V_STR) {
      const char *a = text(x), *b = text(y);
      char *s = malloc(strlen(a) + strlen(b) + 1);
      if (!s) fatal("out of memory");
      strcpy(s, a);
      strcat(s, b);
      return v_str(s);
    }
    if (x.t == V_DUR && y.t == V_DUR) return v_dur(x.i + y.i);
  }
  if (x.t != V_INT || y.t != V_INT)
    rt_error(line, col, "'%c' needs integers, not %s and %s", op, a_type(x), a_type(y));
  switch (op) {
  case '+': return v_int(x.i + y.i);
  case '-': return v_int(x.i - y.i);
  case '*': return v_int(x.i * y.i);
  default:
    if (y.i == 0) rt_error(line, col, "division by zero");
    return v_int(op == '/' ? x.i / y.i : x.i % y.i);
  }
}

RT int v_equal(val x, val y, int line, int col) {
  if (x.t == V_NONE || y.t == V_NONE) return x.t == y.t;
  if (x.t == V_STR && y.t != V_STR) return strcmp(x.s, text(y)) == 0;
  if (y.t == V_STR && x.t != V_STR) return strcmp(text(x), y.s) == 0;
  if (x.t != y.t) rt_error(line, col, "cannot compare %s with %s", a_type(x), a_type(y));
  switch (x.t) {
  case V_STR: return strcmp(x.s, y.s) == 0;
  case V_ADDR: return x.a.fam == y.a.fam && memcmp(x.a.b, y.a.b, 16) == 0;
  case V_EP: return x.a.fam == y.a.fam && memcmp(x.a.b, y.a.b, 16) == 0 && x.i == y.i;
  default: return x.i == y.i;
  }
}

RT val compare(const char *op, val x, val y, int line, int col) {
  if (!strcmp(op, "==")) return v_bool(v_equal(x, y, line, col));
  if (!strcmp(op, "!=")) return v_bool(!v_equal(x, y, line, col));
  if (!((x.t == V_INT && y.t == V_INT) || (x.t == V_DUR && y.t == V_DUR)))
    rt_error(line, col, "cannot order %s and %s", a_type(x), a_type(y));
  if (!strcmp(op, "<")) return v_bool(x.i < y.i);
  if (!strcmp(op, "<=")) return v_bool(x.i <= y.i);
  if (!strcmp(op, ">")) return v_bool(x.i > y.i);
  return v_bool(x.i >= y.i);
}

RT int in_range(long long x, long long lo, long long hi) { return x >= lo && x <= hi; }

RT val neg(val x, int line, int col) {
  if (x.t != V_INT) rt_error(line, col, "cannot negate %s", a_type(x));
  return v_int(-x.i);
}

/* An address from a value ($(a.laddr), or a string holding one). */
RT addr_t as_addr(val v, int line, int col) {
  addr_t a;
  if (v.t == V_ADDR) return v.a;
  if (v.t == V_STR && parse_addr(v.s, &a)) return a;
  rt_error(line, col, "'%s' is not an address", text(v));
  return a;
}

RT val mk_ep(addr_t a, long long port, int line, int col) {
  if (port < 0 || port > 65535) rt_error(line, col, "port %lld is out of range 0..65535", port);
  return v_ep(a, (int)port);
}

RT val whole_ep(val v, int line, int col) {
  if (v.t != V_EP) rt_error(line, col, "'%s' is not an endpoint", text(v));
  return v;
}

RT val rt_unknown_name(const char *n, int line, int col) {
  rt_error(line, col, "unknown name '%s'", n);
  return v_none();
}

RT int flag_of(val v, const char *opt, int line, int col) {
  if ((v.t == V_INT || v.t == V_BOOL) && (v.i == 0 || v.i == 1)) return (int)v.i;
  rt_error(line, col, "'%s' is on or off, not %s", opt, text(v));
  return 0;
}

RT long long port_arg(val v, int line, int col) {
  long long p = as_int(v, line, col);
  if (p < 0 || p > 65535) rt_error(line, col, "port %lld is out of range 0..65535", p);
  return p;
}

/* Appends a value's text to a rendered sysctl or addr value. */
RT void render(char *buf, size_t n, const char *piece) {
  size_t have = strlen(buf);
  snprintf(buf + have, n - have, "%s", piece);
}

/* ---- sockets ------------------------------------------------------------- */

typedef struct {
  int fd, tcp, v6, open, may_peer, timeouts;
  unsigned uid;
  unsigned long inode;
  int has_l, has_r;
  val last_l, last_r;
} rec;

static rec *recs;
static int nrecs;

typedef struct {
  char *name;
  int id; /* index into recs, -1: none yet */
  int result;
  const char *data;
  val from;
} slot;

static slot **slots; /* each slot allocated alone: a slot pointer stays valid while others are added */
static int nslots;

RT slot *find_slot(const char *name) {
  for (int k = 0; k < nslots; k++)
    if (!strcmp(slots[k]->name, name)) return slots[k];
  return NULL;
}

/* The slot of a name; creating: a `socket` or `accept ... as` statement. */
RT slot *S(const char *base, int indexed, long long index, int creating, int line, int col) {
  char name[160];
  if (indexed) snprintf(name, sizeof name, "%s[%lld]", base, index); else snprintf(name, sizeof name, "%s", base);
  slot *s = find_slot(name);
  if (s) return s;
  if (!creating && indexed) rt_error(line, col, "socket %s does not exist", name);
  slots = realloc(slots, sizeof(slot *) * (size_t)(nslots + 1));
  s = malloc(sizeof(slot));
  if (!slots || !s) fatal("out of memory");
  slots[nslots++] = s;
  s->name = dupstr(name);
  s->id = -1;
  s->result = 0;
  s->data = NULL;
  s->from = v_none();
  return s;
}

RT rec *target(slot *s, int line, int col) {
  if (s->id < 0) rt_error(line, col, "socket %s does not exist yet", s->name);
  return &recs[s->id];
}

RT int as_user(unsigned uid) {
  if (uid == 0) return 0;
  if (seteuid(uid) != 0) {
    fprintf(stderr, "%s: cannot act as uid %u: %s\n", g_file, uid, strerror(errno));
    exit(3);
  }
  return 1;
}

RT void back_to_root(int was) {
  int e = errno;
  if (was && seteuid(0) != 0) fatal("seteuid(0)");
  errno = e;
}

RT socklen_t to_sockaddr(val ep, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (ep.a.fam == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((unsigned short)ep.i);
    memcpy(&s6->sin6_addr, ep.a.b, 16);
    return sizeof *s6;
  }
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  s4->sin_family = AF_INET;
  s4->sin_port = htons((unsigned short)ep.i);
  memcpy(&s4->sin_addr, ep.a.b, 4);
  return sizeof *s4;
}

RT val from_sockaddr(const struct sockaddr_storage *ss) {
  addr_t a;
  memset(&a, 0, sizeof a);
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
    a.fam = AF_INET6;
    memcpy(a.b, &s6->sin6_addr, 16);
    return v_ep(a, ntohs(s6->sin6_port));
  }
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
    a.fam = AF_INET;
    memcpy(a.b, &s4->sin_addr, 4);
    return v_ep(a, ntohs(s4->sin_port));
  }
  return v_none();
}

/* getsockname / getpeername, or none. */
RT val name_of(int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  return rc == 0 ? from_sockaddr(&ss) : v_none();
}

/* Before the first call that can block: --timeout bounds it. */
RT void set_timeouts(rec *r) {
  if (!r->open || r->timeouts) return;
  struct timeval tv = {g_timeout_ms / 1000, (g_timeout_ms % 1000) * 1000};
  setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(r->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  r->timeouts = 1;
}

/* The endpoints a call shows in the transcript. */
static val g_local, g_remote;

RT int finish_call(int rc, rec *r, int endpoints) {
  g_local = v_none();
  g_remote = v_none();
  if (rc < 0) return errno;
  if (endpoints) {
    r->last_l = name_of(r->fd, 0);
    r->has_l = 1;
    if (r->may_peer) { r->last_r = name_of(r->fd, 1); r->has_r = 1; }
    g_local = r->last_l;
    g_remote = r->may_peer ? r->last_r : v_none();
  }
  return 0;
}

/* A new descriptor of the scenario (socket, accept), named by s. */
RT void adopt(slot *s, int fd, int tcp, int v6, unsigned uid, int may_peer) {
  recs = realloc(recs, sizeof(rec) * (size_t)(nrecs + 1)); /* rec pointers are stale from here */
  if (!recs) fatal("out of memory");
  rec *r = &recs[nrecs];
  memset(r, 0, sizeof *r);
  r->fd = fd;
  r->tcp = tcp;
  r->v6 = v6;
  r->uid = uid;
  r->open = 1;
  r->may_peer = may_peer;
  struct stat st;
  if (fstat(fd, &st) == 0) r->inode = st.st_ino;
  r->last_l = r->last_r = v_none();
  s->id = nrecs++;
  s->data = NULL;
  s->from = v_none();
}

/* A socket or accept that failed: the name stands for a socket that never
   opened (CLOSED; every call on it is EBADF). */
RT void never_opened(slot *s, int tcp, int v6, unsigned uid) {
  adopt(s, -1, tcp, v6, uid, 0);
  recs[s->id].open = 0;
}

RT int c_socket(slot *s, int tcp, int v6, long long uid, int line, int col) {
  if (uid < 0 || uid > 4294967295LL) rt_error(line, col, "uid %lld is out of range", uid);
  int was = as_user((unsigned)uid);
  int fd = socket(v6 ? AF_INET6 : AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  back_to_root(was);
  g_local = g_remote = v_none();
  if (fd < 0) {
    int e = errno;
    never_opened(s, tcp, v6, (unsigned)uid);
    return e;
  }
  adopt(s, fd, tcp, v6, (unsigned)uid, 0);
  return 0;
}

#define CALL(r, expr)                      \
  do {                                     \
    if (!(r)->open) { errno = EBADF; rc = -1; break; } \
    int was_ = as_user((r)->uid);          \
    rc = (expr);                           \
    back_to_root(was_);                    \
  } while (0)

RT int setint(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v); }

/* setopt: kind 0 boolean (v = on), 1 linger (v = seconds, -1 off),
   2 local_port_range (v = lo, v2 = hi), 3 bindtodevice (dev). */
RT int c_setopt(rec *r, const char *opt, long long v, long long v2, const char *dev) {
  int rc = 0;
  if (!strcmp(opt, "reuseaddr")) CALL(r, setint(r->fd, SOL_SOCKET, SO_REUSEADDR, (int)v));
  else if (!strcmp(opt, "reuseport")) CALL(r, setint(r->fd, SOL_SOCKET, SO_REUSEPORT, (int)v));
  else if (!strcmp(opt, "bind_address_no_port")) CALL(r, setint(r->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, (int)v));
  else if (!strcmp(opt, "v6only")) CALL(r, setint(r->fd, IPPROTO_IPV6, IPV6_V6ONLY, (int)v));
  else if (!strcmp(opt, "freebind")) CALL(r, setint(r->fd, IPPROTO_IP, IP_FREEBIND, (int)v));
  else if (!strcmp(opt, "nonblock")) {
    int fl = fcntl(r->fd, F_GETFL);
    CALL(r, fcntl(r->fd, F_SETFL, v ? fl | O_NONBLOCK : fl & ~O_NONBLOCK));
  } else if (!strcmp(opt, "linger")) {
    struct linger l = {v >= 0, v >= 0 ? (int)v : 0};
    CALL(r, setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l));
  } else if (!strcmp(opt, "local_port_range")) {
    unsigned range = (unsigned)v | (unsigned)v2 << 16;
    CALL(r, setsockopt(r->fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof range));
  } else if (!strcmp(opt, "bindtodevice")) {
    CALL(r, setsockopt(r->fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev) + 1));
  }
  g_local = g_remote = v_none();
  return rc < 0 ? errno : 0;
}

RT int c_bind(rec *r, val ep) {
  struct sockaddr_storage ss;
  socklen_t len = to_sockaddr(ep, &ss);
  int rc;
  CALL(r, bind(r->fd, (struct sockaddr *)&ss, len));
  return finish_call(rc, r, 1);
}

RT int c_listen(rec *r, int has_backlog, long long backlog) {
  int rc;
  int b = !has_backlog ? -1 : backlog > 2147483647LL ? 2147483647 : backlog < -2147483647LL ? -2147483647 : (int)backlog;
  CALL(r, listen(r->fd, b));
  return finish_call(rc, r, 1);
}

RT int c_connect(rec *r, val ep) {
  struct sockaddr_storage ss;
  socklen_t len = to_sockaddr(ep, &ss);
  int rc;
  if (r->open) r->may_peer = 1;
  set_timeouts(r);
  CALL(r, connect(r->fd, (struct sockaddr *)&ss, len));
  int e = finish_call(rc, r, 1);
  if (e == EINPROGRESS) { g_local = name_of(r->fd, 0); g_remote = ep; }
  return e;
}

RT int c_accept(rec *r, slot *out) {
  int rc;
  set_timeouts(r);
  CALL(r, accept4(r->fd, NULL, NULL, SOCK_CLOEXEC));
  g_local = g_remote = v_none();
  if (rc < 0) {
    int e = errno;
    never_opened(out, r->tcp, r->v6, r->uid);
    out->result = e;
    return e;
  }
  out->result = 0;
  adopt(out, rc, r->tcp, r->v6, r->uid, 1);
  g_local = name_of(rc, 0);
  g_remote = name_of(rc, 1);
  return 0;
}

RT const char *bytes_of(val v) { return v.t == V_STR ? v.s : dupstr(text(v)); }

RT int c_send(rec *r, val data) {
  const char *d = bytes_of(data);
  int rc;
  set_timeouts(r);
  CALL(r, (int)send(r->fd, d, strlen(d), MSG_NOSIGNAL));
  g_local = g_remote = v_none();
  return rc < 0 ? errno : 0;
}

static char g_buf[65537];

RT int c_recv(rec *r, slot *s, int has_max, long long max, int line, int col) {
  if (has_max && max < 0) rt_error(line, col, "recv needs a positive size");
  size_t n = has_max ? (size_t)(max < 65536 ? max : 65536) : 65536;
  int rc;
  set_timeouts(r);
  CALL(r, (int)recv(r->fd, g_buf, n, 0));
  g_local = g_remote = v_none();
  if (rc < 0) return errno;
  g_buf[rc] = 0;
  s->data = dupstr(g_buf);
  return 0;
}

RT int c_sendto(rec *r, val ep, val data) {
  struct sockaddr_storage ss;
  socklen_t len = to_sockaddr(ep, &ss);
  const char *d = bytes_of(data);
  int rc;
  set_timeouts(r);
  CALL(r, (int)sendto(r->fd, d, strlen(d), MSG_NOSIGNAL, (struct sockaddr *)&ss, len));
  g_local = g_remote = v_none();
  if (rc < 0) return errno;
  g_local = name_of(r->fd, 0);
  g_remote = ep;
  return 0;
}

RT int c_recvfrom(rec *r, slot *s) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int rc;
  set_timeouts(r);
  CALL(r, (int)recvfrom(r->fd, g_buf, 65536, 0, (struct sockaddr *)&ss, &len));
  g_local = g_remote = v_none();
  if (rc < 0) return errno;
  g_buf[rc] = 0;
  s->data = dupstr(g_buf);
  s->from = from_sockaddr(&ss);
  return 0;
}

RT int c_shutdown(rec *r, int how) {
  int rc;
  CALL(r, shutdown(r->fd, how));
  g_local = g_remote = v_none();
  return rc < 0 ? errno : 0;
}

RT int c_close(rec *r) {
  g_local = g_remote = v_none();
  if (!r->open) return EBADF;
  /* Keep the endpoints: they find what the kernel still holds (TIME_WAIT). */
  val l = name_of(r->fd, 0), rm = name_of(r->fd, 1);
  if (l.t != V_NONE) { r->last_l = l; r->has_l = 1; }
  if (rm.t != V_NONE) { r->last_r = rm; r->has_r = 1; }
  r->open = 0;
  return close(r->fd) == 0 ? 0 : errno;
}

RT char *sysctl_path(const char *key) {
  static char path[256];
  snprintf(path, sizeof path, "/proc/sys/%s", key);
  for (char *p = path + 10; *p; p++) if (*p == '.') *p = '/';
  return path;
}

RT int c_sysctl(const char *key, const char *value) {
  int fd = open(sysctl_path(key), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char line[4096];
  snprintf(line, sizeof line, "%s\n", value);
  ssize_t n = write(fd, line, strlen(line));
  int e = n < 0 ? errno : 0;
  close(fd);
  return e;
}

/* ip addr add ADDR/PREFIX dev lo, by rtnetlink. */
RT int c_addr_add(const char *spec, int line, int col) {
  char t[128];
  snprintf(t, sizeof t, "%s", spec);
  char *p = t + strlen(t);
  while (p > t && (p[-1] == ' ' || p[-1] == '\t')) *--p = 0;
  char *start = t;
  while (*start == ' ' || *start == '\t') start++;
  int prefix = -1;
  char *slash = strrchr(start, '/');
  if (slash) { *slash = 0; prefix = atoi(slash + 1); }
  addr_t a;
  if (!parse_addr(start, &a)) rt_error(line, col, "malformed address '%s'", spec);
  int max = a.fam == AF_INET ? 32 : 128;
  if (prefix < 0) prefix = max;
  if (prefix > max) rt_error(line, col, "malformed address '%s'", spec);
  struct {
    struct nlmsghdr nh;
    struct ifaddrmsg ifa;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  int alen = a.fam == AF_INET ? 4 : 16;
  req.nh.nlmsg_type = RTM_NEWADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.nh.nlmsg_seq = 1;
  req.ifa.ifa_family = (unsigned char)a.fam;
  req.ifa.ifa_prefixlen = (unsigned char)prefix;
  req.ifa.ifa_flags = IFA_F_NODAD;
  int loop4 = a.fam == AF_INET && a.b[0] == 127;
  static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  int loop6 = a.fam == AF_INET6 && !memcmp(a.b, lo6, 16);
  req.ifa.ifa_scope = loop4 || loop6 ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = if_nametoindex("lo");
  int off = 0;
  unsigned short types[2] = {IFA_LOCAL, IFA_ADDRESS};
  for (int k = 0; k < 2; k++) {
    struct rtattr *rta = (struct rtattr *)(req.attrs + off);
    rta->rta_type = types[k];
    rta->rta_len = (unsigned short)RTA_LENGTH(alen);
    memcpy(RTA_DATA(rta), a.b, (size_t)alen);
    off += RTA_ALIGN(rta->rta_len);
  }
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)) + (unsigned)off;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) { int e = errno; close(fd); return e; }
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  int e = n < 0 ? errno : 0;
  close(fd);
  if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (h->nlmsg_type == NLMSG_ERROR) e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
  }
  return e;
}

RT int c_ulimit(long long n) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return errno;
  rl.rlim_cur = (rlim_t)n;
  if (rl.rlim_max < rl.rlim_cur) rl.rlim_max = rl.rlim_cur;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0 ? 0 : errno;
}

static long long g_start_ms;

RT long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

RT void c_sleep(val d, int line, int col) {
  if (d.t != V_DUR) rt_error(line, col, "sleep needs a duration");
  struct timespec ts = {(time_t)(d.i / 1000), (long)(d.i % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- state, read back from the kernel ------------------------------------ */

typedef struct {
  int tcp, state;
  val l, r;
  unsigned inode;
} diag_row;

static diag_row *g_rows;
static int g_nrows;

/* A sock_diag socket even when the scenario's ulimit is used up: the limit
   is raised for this one open and put back. */
RT int diag_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd >= 0 || errno != EMFILE) return fd;
  struct rlimit saved, more;
  if (getrlimit(RLIMIT_NOFILE, &saved) != 0) return -1;
  more = saved;
  more.rlim_cur = saved.rlim_cur + 1;
  if (more.rlim_max < more.rlim_cur) more.rlim_max = more.rlim_cur;
  if (setrlimit(RLIMIT_NOFILE, &more) != 0) return -1;
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  saved.rlim_max = more.rlim_max;
  setrlimit(RLIMIT_NOFILE, &saved);
  return fd;
}

RT void dump_one(int tcp, int fam) {
  int fd = diag_socket();
  if (fd < 0) return;
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct {
    struct nlmsghdr nh;
    struct inet_diag_req_v2 req;
  } msg;
  memset(&msg, 0, sizeof msg);
  msg.nh.nlmsg_len = sizeof msg;
  msg.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nh.nlmsg_seq = 1;
  msg.req.sdiag_family = (unsigned char)fam;
  msg.req.sdiag_protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  msg.req.idiag_states = 0xFFFFFFFFu;
  if (send(fd, &msg, sizeof msg, 0) < 0) { close(fd); return; }
  static char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) { close(fd); return; }
      struct inet_diag_msg *d = NLMSG_DATA(h);
      g_rows = realloc(g_rows, sizeof(diag_row) * (size_t)(g_nrows + 1));
      if (!g_rows) fatal("out of memory");
      diag_row *row = &g_rows[g_nrows++];
      addr_t a;
      memset(&a, 0, sizeof a);
      a.fam = fam;
      row->tcp = tcp;
      row->state = d->idiag_state;
      row->inode = d->idiag_inode;
      memcpy(a.b, d->id.idiag_src, fam == AF_INET ? 4 : 16);
      row->l = v_ep(a, ntohs(d->id.idiag_sport));
      memcpy(a.b, d->id.idiag_dst, fam == AF_INET ? 4 : 16);
      row->r = v_ep(a, ntohs(d->id.idiag_dport));
    }
  }
  close(fd);
}

RT void dump_all(void) {
  g_nrows = 0;
  dump_one(1, AF_INET);
  dump_one(1, AF_INET6);
  dump_one(0, AF_INET);
  dump_one(0, AF_INET6);
}

/* Linux TCP states (include/net/tcp_states.h) to the language's. */
RT int from_tcp_state(int s) {
  switch (s) {
  case 1: return S_ESTABLISHED;
  case 2: return S_SYN_SENT;
  case 3: return S_SYN_RECV;
  case 4: return S_FIN_WAIT1;
  case 5: return S_FIN_WAIT2;
  case 6: return S_TIME_WAIT;
  case 8: return S_CLOSE_WAIT;
  case 9: return S_LAST_ACK;
  case 10: return S_LISTEN;
  case 11: return S_CLOSING;
  case 12: return S_SYN_RECV; /* TCP_NEW_SYN_RECV */
  case 13: return S_BOUND;    /* TCP_BOUND_INACTIVE */
  default: return S_CLOSED;
  }
}

RT int listed(unsigned long inode, int tcp_only) {
  for (int k = 0; k < g_nrows; k++)
    if (g_rows[k].inode == (unsigned)inode && (!tcp_only || g_rows[k].tcp)) return 1;
  return 0;
}

RT int own_state(rec *r) {
  if (!r->tcp) {
    if (name_of(r->fd, 1).t != V_NONE) return S_ESTABLISHED;
    dump_all();
    return listed(r->inode, 0) ? S_BOUND : S_CLOSED;
  }
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  int s = getsockopt(r->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 ? from_tcp_state(ti.tcpi_state) : S_CLOSED;
  if (s == S_CLOSED) {
    dump_all();
    if (listed(r->inode, 1)) return S_BOUND;
  }
  return s;
}

RT int ep_equal(val a, val b) { return a.t == V_EP && b.t == V_EP && a.a.fam == b.a.fam && !memcmp(a.a.b, b.a.b, 16) && a.i == b.i; }

/* NAME.state: its own state while open; after close, whatever the kernel
   still holds for its 4-tuple. */
RT int state_of(rec *r) {
  if (r->open) return own_state(r);
  if (!r->tcp || !r->has_l || !r->has_r || r->last_r.t == V_NONE) return S_CLOSED;
  dump_all();
  for (int k = 0; k < g_nrows; k++) {
    diag_row *row = &g_rows[k];
    if (!row->tcp || !ep_equal(row->l, r->last_l) || !ep_equal(row->r, r->last_r)) continue;
    int ours = 0;
    for (int j = 0; j < nrecs && row->inode; j++)
      if (recs[j].open && (unsigned)recs[j].inode == row->inode) ours = 1;
    if (!ours) return from_tcp_state(row->state);
  }
  return S_CLOSED;
}

RT val prop(slot *s, const char *p, int line, int col) {
  rec *r = target(s, line, col);
  if (!strcmp(p, "result")) return v_res(s->result);
  if (!strcmp(p, "data")) return v_str(s->data ? s->data : "");
  if (!strcmp(p, "from")) return s->from;
  if (!strcmp(p, "state")) return v_state(state_of(r));
  val l = r->open ? name_of(r->fd, 0) : r->last_l;
  val rm = r->open ? name_of(r->fd, 1) : r->last_r;
  if (!strcmp(p, "local")) return l;
  if (!strcmp(p, "remote")) return rm;
  if (!strcmp(p, "lport")) return v_int(l.t == V_EP ? l.i : 0);
  if (!strcmp(p, "rport")) return v_int(rm.t == V_EP ? rm.i : 0);
  val a = v_none();
  val e = !strcmp(p, "laddr") ? l : rm;
  if (e.t == V_EP) { a.t = V_ADDR; a.a = e.a; }
  return a;
}

/* `kernel`: this machine's release, and how it compares with a version
   (a patch of -1 compares major.minor only, as `kernel < 6.3` does). */
RT const char *kernel_release(void) {
  static struct utsname u;
  if (!u.release[0]) uname(&u);
  return u.release;
}
RT int kernel_cmp(int maj, int min, int patch) {
  int a = 0, b = 0, c = 0;
  int n = sscanf(kernel_release(), "%d.%d.%d", &a, &b, &c);
  if (a != maj) return a < maj ? -1 : 1;
  if (b != min) return b < min ? -1 : 1;
  if (patch < 0 || n < 3) return 0;
  return c < patch ? -1 : c > patch;
}

/* count(STATE): every socket of the namespace in STATE, named or not. */
RT val count_state(int state) {
  dump_all();
  int n = 0;
  for (int k = 0; k < g_nrows; k++) {
    int s;
    if (!g_rows[k].tcp) s = g_rows[k].state == 1 ? S_ESTABLISHED : S_BOUND;
    else s = from_tcp_state(g_rows[k].state);
    if (s == S_CLOSED) s = S_BOUND;
    if (s == state) n++;
  }
  /* Open descriptors that hold no port are not listed; they are CLOSED. */
  for (int j = 0; j < nrecs; j++) {
    if (!recs[j].open || listed(recs[j].inode, 0)) continue;
    int s = recs[j].tcp ? own_state(&recs[j]) : S_CLOSED;
    if (s == state) n++;
    dump_all(); /* own_state may have replaced the rows */
  }
  return v_int(n);
}

RT void show_table(void) {
  g_statements++;
  dump_all();
  printf("      NAME         PROTO  STATE        LOCAL                          REMOTE\n");
  for (int k = 0; k < g_nrows; k++) {
    diag_row *row = &g_rows[k];
    /* The scenario's name for the socket, when a descriptor of ours holds it. */
    const char *name = "-";
    for (int j = 0; j < nslots && row->inode; j++) {
      slot *sl = slots[j];
      if (sl->id >= 0 && recs[sl->id].open && (unsigned)recs[sl->id].inode == row->inode) name = sl->name;
    }
    int s = row->tcp ? from_tcp_state(row->state) : (row->state == 1 ? S_ESTABLISHED : S_BOUND);
    if (s == S_CLOSED) s = S_BOUND;
    char l[96], r[96];
    ep_text(row->l.a, (int)row->l.i, l, sizeof l);
    if (row->r.i == 0) snprintf(r, sizeof r, "*"); else ep_text(row->r.a, (int)row->r.i, r, sizeof r);
    printf("      %-12s %-6s %-12s %-30s %s\n", name, row->tcp ? "tcp" : "udp", state_names[s], l, r);
  }
}

/* ---- the transcript ------------------------------------------------------ */

RT void prefix(int line, const char *stmt) {
  printf("%4d  %-44s ", line, stmt);
}

/* A call's result against its `=> ...` (accept: errnos, 0 = ok; any). */
RT void step(int line, const char *stmt, slot *s, int e, const int *accept, int naccept, int any, const char *expected, int pair, int local, int indexed) {
  g_statements++;
  g_expectations++;
  int pass = any;
  for (int k = 0; k < naccept && !pass; k++) pass = accept[k] == e;
  if (s) s->result = e;
  prefix(line, stmt);
  printf("%s", errno_name(e));
  if (!pass) printf("  FAIL: expected %s", expected);
  else if (e) printf(" (expected)");
  char a[96], b[96];
  if (pair && g_local.t == V_EP && g_remote.t == V_EP) {
    ep_text(g_local.a, (int)g_local.i, a, sizeof a);
    ep_text(g_remote.a, (int)g_remote.i, b, sizeof b);
    printf("  %s -> %s", a, b);
  } else if (!e && local && g_local.t == V_EP) {
    ep_text(g_local.a, (int)g_local.i, a, sizeof a);
    printf("  %s", a);
  }
  if (indexed && s) printf("  [%s]", s->name);
  printf("\n");
  if (!pass) {
    g_failed++;
    if (!g_keep_going) verdict_and_exit(1);
  }
}

RT void note(int line, const char *stmt, const char *what) {
  g_statements++;
  prefix(line, stmt);
  printf("%s\n", what);
}

RT void expect(int line, const char *stmt, int ok, const char *detail) {
  g_statements++;
  g_expectations++;
  prefix(line, stmt);
  if (ok) { printf("holds\n"); return; }
  printf("FAIL: %s\n", detail);
  g_failed++;
  if (!g_keep_going) verdict_and_exit(1);
}

RT void print_values(int n, const val *vs) {
  g_statements++;
  for (int k = 0; k < n; k++) printf("%s%s", k ? " " : "", text(vs[k]));
  printf("\n");
}

RT void verdict_and_exit(int code) {
  if (code == 0 && g_failed) code = 1;
  if (code == 0) printf("PASS  %s: %d statements, %d expectations held\n", g_file, g_statements, g_expectations);
  else if (code == 1) printf("FAIL  %s: %d of %d expectations failed\n", g_file, g_failed, g_expectations);
  else printf("ERROR %s: stopped by an error after %d statement%s\n", g_file, g_statements, g_statements == 1 ? "" : "s");
  fflush(stdout);
  for (int k = 0; k < nrecs; k++) if (recs[k].open) close(recs[k].fd);
  exit(code);
}

/* ---- the namespace ------------------------------------------------------- */

RT void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) {}
  close(fd);
}

/* A fresh network namespace with lo up (as root; otherwise a user
   namespace too, mapping this user to root), like the real backend. */
RT void setup(void) {
  if (geteuid() == 0) {
    if (unshare(CLONE_NEWNET) != 0) fatal("cannot create a network namespace");
  } else {
    uid_t uid = getuid();
    gid_t gid = getgid();
    char map[64];
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) fatal("cannot create a user and network namespace");
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    write_file("/proc/self/gid_map", map);
  }
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fatal("cannot read lo's flags");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fatal("cannot bring lo up");
  close(s);
  g_start_ms = now_ms();
  setvbuf(stdout, NULL, _IOLBF, 0);
}
