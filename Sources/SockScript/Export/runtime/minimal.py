# The preamble of `sockscript export python --minimal`: a private network
# namespace, and one printed line per call. The exporter copies the part
# before the first `@` section always, and each `@` section only when the
# scenario needs it.
import ctypes
import errno
import fcntl
import os
import socket
import struct
import sys
import time
from socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP

LIBC = ctypes.CDLL(None, use_errno=True)
DEAD = socket.socket()  # what a name holds after a failed socket or accept: every call is EBADF
os.close(DEAD.detach())


def check(line, stmt, call, allowed):
    """Runs a call and prints its result; one its `=>` does not list ends the run (exit 1)."""
    try:
        value, e = call(), 0
    except OSError as x:
        value, e = None, x.errno
    global LAST
    LAST = got = "ok" if e == 0 else {"ENOTSUP": "EOPNOTSUPP", "EDEADLOCK": "EDEADLK"}.get(errno.errorcode[e], errno.errorcode[e])
    passed = allowed == "any" or got in allowed.split("|")
    note = "" if passed and not e else " (expected)" if passed else "  FAIL: expected " + allowed
    print("%4d  %-44s %s%s" % (line, stmt, got, note), flush=True)
    if not passed:
        sys.exit("FAIL")
    return value


def expect(line, stmt, holds):
    print("%4d  %-44s %s" % (line, stmt, "holds" if holds else "FAIL: it does not hold"), flush=True)
    if not holds:
        sys.exit("FAIL")


def new_socket(family, kind):
    s = socket.socket(family, kind)
    s.settimeout(None)
    s.setsockopt(SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 2, 0))  # a blocking call gives up after 2 s
    s.setsockopt(SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 2, 0))
    return s


def setup():
    """As root: a fresh network namespace (libc's unshare) with lo up."""
    if LIBC.unshare(0x40000000) != 0:  # CLONE_NEWNET
        sys.exit("network namespace (run as root): " + os.strerror(ctypes.get_errno()))
    with socket.socket(AF_INET, SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS: IFF_UP


# @ipopts: options the socket module does not name.
IP_BIND_ADDRESS_NO_PORT, IP_LOCAL_PORT_RANGE, IP_FREEBIND, SO_BINDTODEVICE = 24, 51, 15, 25


# @ulimit
import resource


# @uid
class As:
    """Calls on a socket made as another user run as that user."""

    def __init__(self, uid):
        self.uid = uid

    def __enter__(self):
        os.seteuid(self.uid)

    def __exit__(self, *exc):
        os.seteuid(0)


# @foreign: a call whose endpoint is not of the socket's family goes to
# libc, for the kernel's own answer (the socket module refuses it itself).
def raw(name, s, host, port, data=b""):
    v6 = ":" in host
    packed = socket.inet_pton(AF_INET6 if v6 else AF_INET, host)
    sa = struct.pack("=H", AF_INET6 if v6 else AF_INET) + struct.pack(">H", port) + (b"\0" * 4 + packed + b"\0" * 4 if v6 else packed + b"\0" * 8)
    args = (s.fileno(), data, len(data), socket.MSG_NOSIGNAL, sa, len(sa)) if name == "sendto" else (s.fileno(), sa, len(sa))
    if getattr(LIBC, name)(*args) < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))


# @sysctl
def write_sysctl(path, value):
    with open(path, "w") as f:
        f.write(value)


# @addr: ip addr add ADDRESS/PREFIX dev lo nodad, by rtnetlink.
def addr_add(family, address, prefix):
    packed = socket.inet_pton(family, address)
    scope = 254 if (packed[0] == 127 if family == AF_INET else address == "::1") else 0
    attrs = b"".join(struct.pack("HH", 4 + len(packed), kind) + packed for kind in (2, 1))  # IFA_LOCAL, IFA_ADDRESS
    body = struct.pack("BBBBI", family, prefix, 0x02, scope, socket.if_nametoindex("lo")) + attrs  # IFA_F_NODAD
    msg = struct.pack("IHHII", 16 + len(body), 20, 0x405 | 0x200, 1, 0) + body  # RTM_NEWADDR; REQUEST|ACK|CREATE|EXCL
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as nl:  # NETLINK_ROUTE
        nl.settimeout(2)
        nl.send(msg)
        reply = nl.recv(4096)
    if struct.unpack("H", reply[4:6])[0] == 2 and struct.unpack("i", reply[16:20])[0] < 0:  # NLMSG_ERROR
        e = -struct.unpack("i", reply[16:20])[0]
        raise OSError(e, os.strerror(e))


# @kernel: this machine's release against a version (patch -1: the line only).
def kernel_cmp(major, minor, patch):
    parts = [int(p) for p in os.uname().release.split("-")[0].split(".")[:3] if p.isdigit()] + [0, 0, 0]
    if parts[:2] != [major, minor]:
        return -1 if parts[:2] < [major, minor] else 1
    return 0 if patch < 0 or len(parts) < 6 else (parts[2] > patch) - (parts[2] < patch)


# @names: a socket's endpoints as text ("127.0.0.1:80", "[::1]:80").
KEPT = {}  # a closed socket's last endpoints


def ep_text(sa):
    if sa is None:
        return "none"
    return "[%s]:%d" % sa[:2] if ":" in sa[0] else "%s:%d" % sa[:2]


def name_of(s, peer):
    """While the socket is open, what the kernel says; after close, what it said."""
    if s.fileno() < 0:
        return KEPT.get(s, (None, None))[1 if peer else 0]
    try:
        return s.getpeername() if peer else s.getsockname()
    except OSError:
        return None


def keep(s):
    KEPT[s] = (name_of(s, False), name_of(s, True))


def host_of(s, peer):
    sa = name_of(s, peer)
    return sa[0] if sa else "none"


def port_of(s, peer):
    sa = name_of(s, peer)
    return sa[1] if sa else 0


# @arith: integer division as the language does it (toward zero).
def tdiv(x, y):
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


def tmod(x, y):
    return x - tdiv(x, y) * y


# @endpoint: an endpoint's text as (host, port).
def endpoint(text):
    host, _, port = text.rpartition(":")
    return (host.strip("[]"), int(port))


def join(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


# @state: states as sock_diag reports them, for NAME.state and count().
import resource
STATES = ["CLOSED", "BOUND", "LISTEN", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2",
          "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"]
FROM_TCP = [0, 5, 3, 4, 6, 7, 11, 0, 8, 10, 2, 9, 4, 1]  # include/net/tcp_states.h to the list above


def diag_socket():
    """A sock_diag socket even when the scenario's ulimit is used up: the
    limit is raised for this one open and put back."""
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)  # NETLINK_SOCK_DIAG
    except OSError as e:
        if e.errno != errno.EMFILE:
            raise
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft + 1, max(hard, soft + 1)))
    try:
        return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, max(hard, soft + 1)))


def dump():
    rows = []  # (tcp, state, inode, local, remote)
    for tcp, fam in ((True, AF_INET), (True, AF_INET6), (False, AF_INET), (False, AF_INET6)):
        req = struct.pack("BBBBI", fam, 6 if tcp else 17, 0, 0, 0xFFFFFFFF) + b"\0" * 48  # inet_diag_req_v2, every state
        with diag_socket() as nl:
            nl.settimeout(2)
            nl.send(struct.pack("IHHII", 16 + len(req), 20, 0x301, 1, 0) + req)  # SOCK_DIAG_BY_FAMILY, REQUEST|DUMP
            done = False
            while not done:
                buf = nl.recv(65536)
                done = not buf
                off = 0
                while off + 16 <= len(buf) and not done:
                    length, kind = struct.unpack_from("IH", buf, off)
                    if kind != 20 or length < 16:
                        done = True
                        break
                    state, sport, dport = buf[off + 17], *struct.unpack_from(">HH", buf, off + 20)
                    n = 4 if fam == AF_INET else 16
                    src, dst = (socket.inet_ntop(fam, buf[off + 24 + k: off + 24 + k + n]) for k in (0, 16))
                    inode = struct.unpack_from("I", buf, off + 16 + 68)[0]
                    st = FROM_TCP[state] if tcp and state < 14 else 0 if tcp else 5 if state == 1 else 1
                    rows.append((tcp, st or 1, inode, (src, sport), (dst, dport)))
                    off += (length + 3) & ~3
    return rows


def listed(rows, s):
    return s.fileno() >= 0 and any(r[2] == os.fstat(s.fileno()).st_ino for r in rows)


def own_state(s):
    rows = dump()
    if s.type != SOCK_STREAM:
        return 5 if name_of(s, True) else 1 if listed(rows, s) else 0
    info = s.getsockopt(IPPROTO_TCP, socket.TCP_INFO, 8)
    st = FROM_TCP[info[0]] if info[0] < 14 else 0
    return 1 if st == 0 and listed(rows, s) else st


def state_of(s, every):
    """An open socket's state; after close, whatever the kernel still holds for its 4-tuple (TIME_WAIT)."""
    if s.fileno() >= 0:
        return STATES[own_state(s)]
    local, remote = KEPT.get(s, (None, None))
    ours = {os.fstat(o.fileno()).st_ino for o in every if o.fileno() >= 0}
    for tcp, st, inode, l, r in dump():
        if tcp and remote and inode not in ours and ep_text(l) == ep_text(local) and ep_text(r) == ep_text(remote):
            return STATES[st]
    return "CLOSED"


def count(state, every):
    """Every socket of the namespace in that state; open ones that hold no port are CLOSED."""
    rows = dump()
    n = sum(1 for r in rows if STATES[r[1]] == state)
    for s in every:
        if s.fileno() >= 0 and not listed(dump(), s):
            n += STATES[own_state(s) if s.type == SOCK_STREAM else 0] == state
    return n
