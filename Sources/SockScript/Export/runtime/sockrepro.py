import ctypes
import errno as _errno
import fcntl
import os
import socket
import struct
import sys
import time

FILE = ""
KEEP_GOING = False
TIMEOUT_MS = 2000
STATS = {"statements": 0, "expectations": 0, "failed": 0}

# ---- values ----------------------------------------------------------------

STATES = ["CLOSED", "BOUND", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
          "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"]
ERRNO_NAMES = ["EPERM", "ENOENT", "EINTR", "EBADF", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "EBUSY", "EEXIST",
               "ENODEV", "EINVAL", "ENFILE", "EMFILE", "ENOSPC", "EPIPE", "ERANGE", "ENOPROTOOPT",
               "EPROTONOSUPPORT", "EOPNOTSUPP", "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL", "ENETDOWN",
               "ENETUNREACH", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ETIMEDOUT",
               "ECONNREFUSED", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "EDESTADDRREQ", "EMSGSIZE", "ENXIO",
               "E2BIG", "ENOTDIR", "EROFS", "ENOSYS", "ENOTSOCK", "EPROTOTYPE", "ESOCKTNOSUPPORT",
               "EPFNOSUPPORT", "ENETRESET", "ESHUTDOWN", "EHOSTDOWN"]
ERRNO_BY_CODE = {getattr(_errno, n): n for n in reversed(ERRNO_NAMES)}


def errno_name(e):
    return "ok" if e == 0 else ERRNO_BY_CODE.get(e, "E%d" % e)


class Dur(int):
    pass


class State(int):
    pass


class Res(int):
    pass


class Addr:
    def __init__(self, fam, packed):
        self.fam, self.packed = fam, packed

    def __eq__(self, o):
        return isinstance(o, Addr) and (self.fam, self.packed) == (o.fam, o.packed)

    def plain(self):
        return socket.inet_ntop(self.fam, self.packed)


class Ep:
    def __init__(self, addr, port):
        self.addr, self.port = addr, port

    def __eq__(self, o):
        return isinstance(o, Ep) and self.addr == o.addr and self.port == o.port

    def sockaddr(self):
        return (self.addr.plain(), self.port)


class ScriptError(Exception):
    pass


def rt_error(line, col, msg):
    sys.stdout.flush()
    sys.stderr.write("%s:%d:%d: error: %s\n" % (FILE, line, col, msg))
    verdict_and_exit(2)


def parse_addr(text):
    t = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            return Addr(fam, socket.inet_pton(fam, t))
        except OSError:
            pass
    return None


def addr_literal(text, line=0, col=0):
    a = parse_addr(text)
    if a is None:
        rt_error(line, col, "malformed address '%s'" % text)
    return a


def type_name(v):
    for t, n in ((bool, "boolean"), (Dur, "duration"), (State, "state"), (Res, "result"), (int, "integer"),
                 (str, "string"), (Addr, "address"), (Ep, "endpoint")):
        if isinstance(v, t):
            return n
    return "nothing"


def a_type(v):
    """The type name with its article, for messages ("an integer", "nothing")."""
    n = type_name(v)
    return n if n == "nothing" else ("an " if n[0] in "aeiou" else "a ") + n


def dur_text(ms):
    if ms % 1000 == 0:
        return "%ds" % (ms // 1000)
    if ms < 1000:
        return "%dms" % ms
    return ("%.3f" % (ms / 1000)).rstrip("0").rstrip(".") + "s"


def text(v):
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Dur):
        return dur_text(v)
    if isinstance(v, State):
        return STATES[v]
    if isinstance(v, Res):
        return errno_name(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return v
    if isinstance(v, Addr):
        return v.plain() if v.fam == socket.AF_INET else "[%s]" % v.plain()
    if isinstance(v, Ep):
        a = v.addr.plain()
        return "%s:%d" % (a, v.port) if v.addr.fam == socket.AF_INET else "[%s]:%d" % (a, v.port)
    return str(v)


def as_int(v, line, col):
    if type_name(v) != "integer":
        rt_error(line, col, "expected an integer, but this is %s (%s)" % (a_type(v), text(v)))
    return int(v)


def as_bool(v, line, col, what):
    if not isinstance(v, bool):
        rt_error(line, col, "%s, not %s" % (what, a_type(v)))
    return v


def arith(op, x, y, line, col):
    if op in "+-" and isinstance(x, Addr) and type_name(y) == "integer":
        # ADDRESS + N, ADDRESS - N: within the address's family.
        size = len(x.packed)
        v = int.from_bytes(x.packed, "big") + (y if op == "+" else -y)
        if not 0 <= v < 1 << (8 * size):
            rt_error(line, col, "%s %s %d is outside %s" % (text(x), op, y, "IPv4" if size == 4 else "IPv6"))
        return Addr(x.fam, v.to_bytes(size, "big"))
    if op == "+":
        if isinstance(x, str) or isinstance(y, str):
            return text(x) + text(y)
        if isinstance(x, Dur) and isinstance(y, Dur):
            return Dur(x + y)
    if type_name(x) != "integer" or type_name(y) != "integer":
        rt_error(line, col, "'%s' needs integers, not %s and %s" % (op, a_type(x), a_type(y)))
    if op in "/%" and y == 0:
        rt_error(line, col, "division by zero")
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    q = abs(x) // abs(y) * (1 if (x >= 0) == (y >= 0) else -1)  # C's truncating division
    return q if op == "/" else x - q * y


def equal(x, y, line, col):
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, str) and not isinstance(y, str):
        return x == text(y)
    if isinstance(y, str) and not isinstance(x, str):
        return text(x) == y
    if type_name(x) != type_name(y):
        rt_error(line, col, "cannot compare %s with %s" % (a_type(x), a_type(y)))
    return x == y


def compare(op, x, y, line, col):
    if op == "==":
        return equal(x, y, line, col)
    if op == "!=":
        return not equal(x, y, line, col)
    if not (type_name(x) == type_name(y) and type_name(x) in ("integer", "duration")):
        rt_error(line, col, "cannot order %s and %s" % (a_type(x), a_type(y)))
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def neg(x, line, col):
    if type_name(x) != "integer":
        rt_error(line, col, "cannot negate %s" % a_type(x))
    return -x


def as_addr(v, line, col):
    if isinstance(v, Addr):
        return v
    if isinstance(v, str) and parse_addr(v) is not None:
        return parse_addr(v)
    rt_error(line, col, "'%s' is not an address" % text(v))


def mk_ep(addr, port, line, col):
    if port < 0 or port > 65535:
        rt_error(line, col, "port %d is out of range 0..65535" % port)
    return Ep(addr, port)


def whole_ep(v, line, col):
    if not isinstance(v, Ep):
        rt_error(line, col, "'%s' is not an endpoint" % text(v))
    return v


def flag_of(v, opt, line, col):
    if type_name(v) in ("integer", "boolean") and int(v) in (0, 1):
        return int(v)
    rt_error(line, col, "'%s' is on or off, not %s" % (opt, text(v)))


def port_arg(v, line, col):
    p = as_int(v, line, col)
    if p < 0 or p > 65535:
        rt_error(line, col, "port %d is out of range 0..65535" % p)
    return p


# ---- sockets ---------------------------------------------------------------

class Rec:
    def __init__(self, sock, tcp, v6, uid):
        self.sock, self.tcp, self.v6, self.uid = sock, tcp, v6, uid
        self.open, self.may_peer, self.timeouts = sock is not None, False, False
        self.inode = os.fstat(sock.fileno()).st_ino if sock is not None else 0
        self.last_l = self.last_r = None


def never_opened(s, tcp, v6, uid):
    """A socket or accept that failed: the name stands for a socket that
    never opened (CLOSED; every call on it is EBADF)."""
    s.rec, s.data, s.frm = Rec(None, tcp, v6, uid), None, None


class Slot:
    def __init__(self, name):
        self.name, self.rec, self.result, self.data, self.frm = name, None, 0, None, None


SLOTS = {}
RECS = []
VARS = {}


def S(base, indexed, index, creating, line, col):
    name = "%s[%d]" % (base, index) if indexed else base
    if name not in SLOTS:
        if indexed and not creating:
            rt_error(line, col, "socket %s does not exist" % name)
        SLOTS[name] = Slot(name)
    return SLOTS[name]


def target(s, line, col):
    if s.rec is None:
        rt_error(line, col, "socket %s does not exist yet" % s.name)
    return s.rec


def in_range(x, lo, hi):
    return lo <= x <= hi


def loop(name, n, line, col):
    """repeat N [as VAR]: VAR counts from 0 and exists only in the body."""
    if n < 0:
        rt_error(line, col, "repeat needs a count of 0 or more, got %d" % n)
    had, saved = name in VARS, VARS.get(name)
    for k in range(n):
        VARS[name] = k
        yield k
    if had:
        VARS[name] = saved
    else:
        VARS.pop(name, None)


def var(name, fallback):
    return VARS[name] if name in VARS else fallback()


def unknown_name(n, line, col):
    return lambda: rt_error(line, col, "unknown name '%s'" % n)


class AsUser:
    """Runs a call with the socket's uid as the effective uid."""

    def __init__(self, uid):
        self.uid = uid

    def __enter__(self):
        if self.uid:
            try:
                os.seteuid(self.uid)
            except OSError as e:
                sys.stderr.write("%s: cannot act as uid %d: %s\n" % (FILE, self.uid, os.strerror(e.errno)))
                sys.exit(3)

    def __exit__(self, *exc):
        if self.uid:
            os.seteuid(0)
        return False


def name_of(sock, peer):
    try:
        a = sock.getpeername() if peer else sock.getsockname()
    except OSError:
        return None
    if not isinstance(a, tuple) or not a[0]:
        return None
    return Ep(parse_addr(a[0].split("%")[0]), a[1])


SHOWN = {"local": None, "remote": None}


def attempt(r, fn, endpoints=False):
    """Makes a call as the socket's owner: 0 or the errno."""
    SHOWN["local"] = SHOWN["remote"] = None
    if r is None or not r.open:
        return _errno.EBADF
    try:
        with AsUser(r.uid):
            fn(r.sock)
    except OSError as e:
        return e.errno
    if endpoints:
        r.last_l = name_of(r.sock, False)
        if r.may_peer:
            r.last_r = name_of(r.sock, True)
        SHOWN["local"], SHOWN["remote"] = r.last_l, (r.last_r if r.may_peer else None)
    return 0


def set_timeouts(r):
    """Before the first call that can block: --timeout bounds it."""
    if r.open and not r.timeouts:
        tv = struct.pack("ll", TIMEOUT_MS // 1000, (TIMEOUT_MS % 1000) * 1000)
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        r.timeouts = True


def c_socket(s, tcp, v6, uid, line, col):
    if uid < 0 or uid > 4294967295:
        rt_error(line, col, "uid %d is out of range" % uid)
    SHOWN["local"] = SHOWN["remote"] = None
    try:
        with AsUser(uid):
            sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    except OSError as e:
        never_opened(s, tcp, v6, uid)
        return e.errno
    r = Rec(sock, tcp, v6, uid)
    RECS.append(r)
    s.rec, s.data, s.frm = r, None, None
    return 0


IP_BIND_ADDRESS_NO_PORT = 24
IP_FREEBIND = 15
IP_LOCAL_PORT_RANGE = 51
SO_BINDTODEVICE = 25


def c_setopt(r, opt, v, v2=0, dev=""):
    def fn(sock):
        if opt == "reuseaddr":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, v)
        elif opt == "reuseport":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, v)
        elif opt == "bind_address_no_port":
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, v)
        elif opt == "v6only":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v)
        elif opt == "freebind":
            sock.setsockopt(socket.IPPROTO_IP, IP_FREEBIND, v)
        elif opt == "nonblock":
            sock.setblocking(not v)
        elif opt == "linger":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1 if v >= 0 else 0, max(v, 0)))
        elif opt == "local_port_range":
            sock.setsockopt(socket.IPPROTO_IP, IP_LOCAL_PORT_RANGE, struct.pack("I", v | v2 << 16))
        elif opt == "bindtodevice":
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, dev.encode() + b"\0")
    return attempt(r, fn)


LIBC = ctypes.CDLL(None, use_errno=True)


def foreign(sock, ep):
    """Whether the endpoint's family is not the socket's: Python's socket
    module would refuse it itself, so such a call goes to libc directly,
    for the kernel's own answer (EAFNOSUPPORT, EINVAL)."""
    return ep.addr.fam != sock.family


def raw_sockaddr(ep):
    if ep.addr.fam == socket.AF_INET:
        return struct.pack("=H", socket.AF_INET) + struct.pack(">H", ep.port) + ep.addr.packed + b"\0" * 8
    return struct.pack("=H", socket.AF_INET6) + struct.pack(">HI", ep.port, 0) + ep.addr.packed + struct.pack("=I", 0)


def raw_call(name, sock, ep, data=None):
    sa = raw_sockaddr(ep)
    if data is None:
        rc = getattr(LIBC, name)(sock.fileno(), sa, len(sa))
    else:
        rc = LIBC.sendto(sock.fileno(), data, len(data), socket.MSG_NOSIGNAL, sa, len(sa))
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def c_bind(r, ep):
    def fn(sock):
        if foreign(sock, ep):
            raw_call("bind", sock, ep)
        else:
            sock.bind(ep.sockaddr())
    return attempt(r, fn, endpoints=True)


def c_listen(r, backlog):
    # Python turns a negative backlog into 0 and the default into 128; the
    # kernel caps any larger one to net.core.somaxconn, which is what
    # listen(fd, -1) means, so pass that.
    if backlog is None or backlog < 0 or backlog > 2147483647:
        with open("/proc/sys/net/core/somaxconn") as f:
            backlog = int(f.read())
    return attempt(r, lambda sock: sock.listen(backlog), endpoints=True)


def c_connect(r, ep):
    if r.open:
        r.may_peer = True
    set_timeouts(r)
    def fn(sock):
        if foreign(sock, ep):
            raw_call("connect", sock, ep)
        else:
            sock.connect(ep.sockaddr())
    e = attempt(r, fn, endpoints=True)
    if e == _errno.EINPROGRESS:
        SHOWN["local"], SHOWN["remote"] = name_of(r.sock, False), ep
    return e


def c_accept(r, out):
    set_timeouts(r)
    got = []
    e = attempt(r, lambda sock: got.append(sock.accept()[0]))
    if e:
        never_opened(out, r.tcp, r.v6, r.uid)
        out.result = e
        return e
    out.result = 0
    child = Rec(got[0], r.tcp, r.v6, r.uid)
    child.may_peer = True
    RECS.append(child)
    out.rec, out.data, out.frm = child, None, None
    SHOWN["local"], SHOWN["remote"] = name_of(child.sock, False), name_of(child.sock, True)
    return 0


def payload(v):
    return (v if isinstance(v, str) else text(v)).encode()


def c_send(r, data):
    set_timeouts(r)
    return attempt(r, lambda sock: sock.send(payload(data), socket.MSG_NOSIGNAL))


def c_recv(r, s, mx, line, col):
    if mx is not None and mx < 0:
        rt_error(line, col, "recv needs a positive size")
    set_timeouts(r)
    got = []
    e = attempt(r, lambda sock: got.append(sock.recv(65536 if mx is None else min(mx, 65536))))
    if not e:
        s.data = got[0].decode("utf-8", "replace")
    return e


def c_sendto(r, ep, data):
    set_timeouts(r)
    def fn(sock):
        if foreign(sock, ep):
            raw_call("sendto", sock, ep, payload(data))
        else:
            sock.sendto(payload(data), socket.MSG_NOSIGNAL, ep.sockaddr())
    e = attempt(r, fn)
    if not e:
        SHOWN["local"], SHOWN["remote"] = name_of(r.sock, False), ep
    return e


def c_recvfrom(r, s):
    set_timeouts(r)
    got = []
    e = attempt(r, lambda sock: got.append(sock.recvfrom(65536)))
    if not e:
        data, addr = got[0]
        s.data = data.decode("utf-8", "replace")
        s.frm = Ep(parse_addr(addr[0].split("%")[0]), addr[1]) if addr and addr[0] else None
    return e


def c_shutdown(r, how):
    return attempt(r, lambda sock: sock.shutdown(how))


def c_close(r):
    SHOWN["local"] = SHOWN["remote"] = None
    if r is None or not r.open:
        return _errno.EBADF
    # Keep the endpoints: they find what the kernel still holds (TIME_WAIT).
    l, rm = name_of(r.sock, False), name_of(r.sock, True)
    if l is not None:
        r.last_l = l
    if rm is not None:
        r.last_r = rm
    r.open = False
    r.sock.close()
    return 0


def c_sysctl(key, value):
    try:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value + "\n")
    except OSError as e:
        return e.errno
    return 0


def c_addr_add(spec, line, col):
    """ip addr add ADDR/PREFIX dev lo, by rtnetlink."""
    t = spec.strip()
    prefix = None
    if "/" in t:
        t, p = t.rsplit("/", 1)
        try:
            prefix = int(p)
        except ValueError:
            rt_error(line, col, "malformed address '%s'" % spec)
    a = parse_addr(t)
    if a is None:
        rt_error(line, col, "malformed address '%s'" % spec)
    mx = 32 if a.fam == socket.AF_INET else 128
    prefix = mx if prefix is None else prefix
    if prefix < 0 or prefix > mx:
        rt_error(line, col, "malformed address '%s'" % spec)
    loop = a.packed[0] == 127 if a.fam == socket.AF_INET else a.packed == socket.inet_pton(socket.AF_INET6, "::1")
    attrs = b""
    for typ in (2, 1):  # IFA_LOCAL, IFA_ADDRESS
        attr = struct.pack("HH", 4 + len(a.packed), typ) + a.packed
        attrs += attr + b"\0" * (-len(attr) % 4)
    body = struct.pack("BBBBI", a.fam, prefix, 0x02, 254 if loop else 0, socket.if_nametoindex("lo")) + attrs
    # RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
    msg = struct.pack("IHHII", 16 + len(body), 20, 0x1 | 0x4 | 0x200 | 0x400, 1, 0) + body
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as nl:
        nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 2, 0))
        try:
            nl.send(msg)
            reply = nl.recv(4096)
        except OSError as e:
            return e.errno
    if len(reply) >= 20 and struct.unpack_from("H", reply, 4)[0] == 2:  # NLMSG_ERROR
        return -struct.unpack_from("i", reply, 16)[0]
    return 0


def c_ulimit(n):
    import resource
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, max(hard, n) if hard != resource.RLIM_INFINITY else hard))
    except (OSError, ValueError) as e:
        return getattr(e, "errno", None) or _errno.EINVAL
    return 0


START = time.monotonic()


def c_sleep(d, line, col):
    if not isinstance(d, Dur):
        rt_error(line, col, "sleep needs a duration")
    time.sleep(d / 1000)


# ---- state, read back from the kernel --------------------------------------

TCP_STATES = {1: 5, 2: 3, 3: 4, 4: 6, 5: 7, 6: 11, 8: 8, 9: 10, 10: 2, 11: 9, 12: 4, 13: 1}


def from_tcp_state(s):
    return TCP_STATES.get(s, 0)


def diag_socket():
    """A sock_diag socket even when the scenario's ulimit is used up: the
    limit is raised for this one open and put back."""
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    except OSError as e:
        if e.errno != _errno.EMFILE:
            raise
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard2 = hard if hard == resource.RLIM_INFINITY or hard > soft else soft + 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft + 1, hard2))
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard2))


def dump_all():
    """Every TCP and UDP socket of the namespace, by sock_diag (what ss reads)."""
    rows = []
    for tcp in (True, False):
        for fam in (socket.AF_INET, socket.AF_INET6):
            req = struct.pack("BBBBI", fam, socket.IPPROTO_TCP if tcp else socket.IPPROTO_UDP, 0, 0, 0xFFFFFFFF) + b"\0" * 48
            msg = struct.pack("IHHII", 16 + len(req), 20, 0x1 | 0x300, 1, 0) + req
            with diag_socket() as nl:
                nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 2, 0))
                nl.send(msg)
                done = False
                while not done:
                    try:
                        buf = nl.recv(65536)
                    except OSError:
                        break
                    if not buf:
                        break
                    off = 0
                    while off + 16 <= len(buf):
                        ln, typ = struct.unpack_from("IH", buf, off)
                        if ln < 16 or typ in (2, 3):
                            done = True
                            break
                        d = buf[off + 16:off + ln]
                        state = d[1]
                        sport, dport = struct.unpack_from(">HH", d, 4)
                        n = 4 if fam == socket.AF_INET else 16
                        l = Ep(Addr(fam, bytes(d[8:8 + n])), sport)
                        rm = Ep(Addr(fam, bytes(d[24:24 + n])), dport)
                        inode = struct.unpack_from("I", d, 68)[0]
                        rows.append((tcp, state, l, rm, inode))
                        off += (ln + 3) & ~3
    return rows


def listed(rows, inode, tcp_only):
    return any(r[4] == inode & 0xFFFFFFFF and (r[0] or not tcp_only) for r in rows)


TCP_INFO = 11


def own_state(r):
    if not r.tcp:
        if name_of(r.sock, True) is not None:
            return 5
        return 1 if listed(dump_all(), r.inode, False) else 0
    try:
        s = from_tcp_state(r.sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 8)[0])
    except OSError:
        s = 0
    if s == 0 and listed(dump_all(), r.inode, True):
        return 1
    return s


def state_of(r):
    """Its own state while open; after close, what the kernel holds for its 4-tuple."""
    if r.open:
        return own_state(r)
    if not r.tcp or r.last_l is None or r.last_r is None:
        return 0
    ours = {x.inode & 0xFFFFFFFF for x in RECS if x.open}
    for tcp, state, l, rm, inode in dump_all():
        if tcp and l == r.last_l and rm == r.last_r and (inode == 0 or inode not in ours):
            return from_tcp_state(state)
    return 0


def prop(s, p, line, col):
    r = target(s, line, col)
    if p == "result":
        return Res(s.result)
    if p == "data":
        return s.data if s.data is not None else ""
    if p == "from":
        return s.frm
    if p == "state":
        return State(state_of(r))
    l = name_of(r.sock, False) if r.open else r.last_l
    rm = name_of(r.sock, True) if r.open else r.last_r
    return {"local": l, "remote": rm, "lport": l.port if l else 0, "rport": rm.port if rm else 0,
            "laddr": l.addr if l else None, "raddr": rm.addr if rm else None}[p]


def kernel_release():
    return os.uname().release


def kernel_cmp(major, minor, patch):
    """How this machine's kernel compares with a version; a patch of -1
    compares major.minor only, as `kernel < 6.3` does."""
    nums = []
    for part in kernel_release().split(".")[:3]:
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        nums.append(int(digits))
    mine = (nums + [0, 0, 0])[:3]
    want = [major, minor, patch]
    if patch < 0 or len(nums) < 3:
        mine, want = mine[:2], want[:2]
    return (mine > want) - (mine < want)


def count_state(state):
    rows = dump_all()
    n = 0
    for tcp, st, l, rm, inode in rows:
        s = from_tcp_state(st) if tcp else (5 if st == 1 else 1)
        n += (s or 1) == state
    for r in RECS:
        if r.open and not listed(rows, r.inode, False):
            n += (own_state(r) if r.tcp else 0) == state
    return n


def show_table():
    STATS["statements"] += 1
    # The scenario's name for a socket, when a descriptor of ours holds it.
    names = {sl.rec.inode & 0xFFFFFFFF: name for name, sl in SLOTS.items() if sl.rec is not None and sl.rec.open}
    print("      NAME         PROTO  STATE        LOCAL                          REMOTE")
    for tcp, st, l, rm, inode in dump_all():
        s = from_tcp_state(st) if tcp else (5 if st == 1 else 1)
        name = names.get(inode, "-") if inode else "-"
        print("      %-12s %-6s %-12s %-30s %s" % (name, "tcp" if tcp else "udp", STATES[s or 1], text(l), "*" if rm.port == 0 else text(rm)))


# ---- the transcript --------------------------------------------------------

def prefix(line, stmt):
    return "%4d  %-44s " % (line, stmt)


def step(line, stmt, s, e, accept, any_, expected, pair=False, local=False, indexed=False):
    STATS["statements"] += 1
    STATS["expectations"] += 1
    ok = any_ or e in accept
    if s is not None:
        s.result = e
    out = prefix(line, stmt) + errno_name(e)
    if not ok:
        out += "  FAIL: expected " + expected
    elif e:
        out += " (expected)"
    l, rm = SHOWN["local"], SHOWN["remote"]
    if pair and l is not None and rm is not None:
        out += "  %s -> %s" % (text(l), text(rm))
    elif not e and local and l is not None:
        out += "  " + text(l)
    if indexed and s is not None:
        out += "  [%s]" % s.name
    print(out, flush=True)
    if not ok:
        STATS["failed"] += 1
        if not KEEP_GOING:
            verdict_and_exit(1)


def note(line, stmt, what):
    STATS["statements"] += 1
    print(prefix(line, stmt) + what, flush=True)


def expect(line, stmt, ok, detail):
    STATS["statements"] += 1
    STATS["expectations"] += 1
    print(prefix(line, stmt) + ("holds" if ok else "FAIL: " + detail()), flush=True)
    if not ok:
        STATS["failed"] += 1
        if not KEEP_GOING:
            verdict_and_exit(1)


def print_values(vs):
    STATS["statements"] += 1
    print(" ".join(text(v) for v in vs), flush=True)


def verdict_and_exit(code):
    if code == 0 and STATS["failed"]:
        code = 1
    if code == 0:
        print("PASS  %s: %d statements, %d expectations held" % (FILE, STATS["statements"], STATS["expectations"]))
    elif code == 1:
        print("FAIL  %s: %d of %d expectations failed" % (FILE, STATS["failed"], STATS["expectations"]))
    else:
        print("ERROR %s: stopped by an error after %d statement%s" % (FILE, STATS["statements"], "" if STATS["statements"] == 1 else "s"))
    sys.stdout.flush()
    for r in RECS:
        if r.open:
            r.sock.close()
    os._exit(code)


# ---- the namespace ---------------------------------------------------------

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def setup():
    """A fresh network namespace with lo up, like the real backend (Python 3.11
    has no os.unshare, so libc's unshare through ctypes)."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    if libc.unshare(flags) != 0:
        sys.stderr.write("%s: cannot create a network namespace: %s\n" % (FILE, os.strerror(ctypes.get_errno())))
        sys.exit(3)
    if flags & CLONE_NEWUSER:
        for path, text_ in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", "0 %d 1" % uid),
                            ("/proc/self/gid_map", "0 %d 1" % gid)):
            try:
                with open(path, "w") as f:
                    f.write(text_)
            except OSError:
                pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = struct.pack("16sH22x", b"lo", 0)
        flags_ = struct.unpack_from("16sH", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags_ | IFF_UP))
    global START
    START = time.monotonic()
