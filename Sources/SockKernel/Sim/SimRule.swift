/// The simulator's switchable rules. Each case is one behaviour of the
/// kernel that the simulator models, named after the kernel function that
/// implements it (and the commit, where one introduced or changed it).
/// `--sim-disable RULE` switches one off, so that a test can show that some
/// scenario notices (docs/kernel-rules.md lists the scenarios that pin each).
public enum SimRule: String, CaseIterable, Sendable, CustomStringConvertible {
  /// An explicit bind() marks the port bucket (fastreuse/fastreuseport >= 0),
  /// and connect()'s ephemeral search skips the whole port.
  case bindMarksPort = "bind-marks-port"
  /// bind(0) starts on the parity opposite to the range's low end (odd ports first).
  case bind0OddFirst = "bind0-odd-first"
  /// connect()'s search starts on the low end's parity (even ports first).
  case connectEvenFirst = "connect-even-first"
  /// A LISTEN owner conflicts even when both sockets set SO_REUSEADDR.
  case listenBlocksReuseaddr = "listen-blocks-reuseaddr"
  /// listen() runs get_port again with the socket in LISTEN.
  case listenRecheck = "listen-recheck"
  /// A port below ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE.
  case privilegedPorts = "privileged-ports"
  /// A SO_REUSEADDR socket's bind(0) searches the lower half of the range first.
  case reuseaddrLowerHalf = "reuseaddr-lower-half"
  /// SO_REUSEPORT shares a port only between sockets of one uid (a TIME_WAIT owner excepted).
  case reuseportUID = "reuseport-uid"
  /// Once tcp_max_tw_buckets TIME_WAIT entries exist, a closing socket skips TIME_WAIT.
  case twOverflow = "tw-overflow"
  /// connect() reuses a TIME_WAIT entry only once it is older than tcp_tw_reuse_delay.
  case twReuseDelay = "tw-reuse-delay"
  /// UDP bind(0) walks the port space one hash slot at a time.
  case udpBind0SlotWalk = "udp-bind0-slot-walk"
  /// A datagram reaches a socket bound to its exact address before a wildcard one.
  case udpExactAddressFirst = "udp-exact-address-first"
  /// Two UDP sockets that both set SO_REUSEADDR share a port.
  case udpReuseaddrShares = "udp-reuseaddr-shares"
  /// Datagrams to a UDP SO_REUSEPORT group are spread by a hash of the 4-tuple.
  case udpReuseportSpread = "udp-reuseport-spread"
  /// When only connect()-bound sockets remain on a port, its bucket is
  /// connect()-usable again (6.18).
  case releaseRestoresBucket = "release-restores-bucket"
  /// A connect() whose source endpoint is its destination connects the
  /// socket to itself (simultaneous open), even with a listener there.
  case selfConnect = "self-connect"
  /// An IPv6 socket whose address came from connect() keeps a wildcard
  /// IPv4 rcv_saddr: an IPv4 wildcard bind of its port collides with it.
  case connectSourceV4Wildcard = "connect-source-v4-wildcard"
  /// A SYN for the 4-tuple of a (server-side) TIME_WAIT entry replaces it.
  case synReplacesTimeWait = "syn-replaces-time-wait"
  /// A SYN dropped at a full accept queue is resent (1 s, then doubling), so
  /// the connection completes once there is room.
  case synRetransmit = "syn-retransmit"
  /// A connect() that took over a TIME_WAIT entry keeps its timestamp stamp,
  /// so its own TIME_WAIT can be taken over too, timestamps on or off.
  case takeoverKeepsTimestamp = "takeover-keeps-timestamp"
  /// An explicit UDP bind is decided by the first overlapping socket of the
  /// slot's list (newest first, IPv6 SO_REUSEPORT ones last): a SO_REUSEPORT
  /// mate there lets it through, whatever follows.
  case udpFirstContenderDecides = "udp-first-contender-decides"

  public var description: String { rawValue }

  /// The kernel function that implements the rule, with its file.
  public var kernelFunction: String {
    switch self {
    case .bindMarksPort: return "net/ipv4/inet_hashtables.c:__inet_hash_connect (tb->fastreuse >= 0 || tb->fastreuseport >= 0)"
    case .bind0OddFirst: return "net/ipv4/inet_connection_sock.c:inet_csk_find_open_port (offset |= 1)"
    case .connectEvenFirst: return "net/ipv4/inet_hashtables.c:__inet_hash_connect (offset &= ~1)"
    case .listenBlocksReuseaddr: return "net/ipv4/inet_connection_sock.c:inet_bind_conflict (sk2->sk_state != TCP_LISTEN)"
    case .listenRecheck: return "net/ipv4/inet_connection_sock.c:inet_csk_listen_start (get_port again)"
    case .privilegedPorts: return "net/ipv4/af_inet.c:__inet_bind (inet_port_requires_bind_service)"
    case .reuseaddrLowerHalf: return "net/ipv4/inet_connection_sock.c:inet_csk_find_open_port (attempt_half)"
    case .reuseportUID: return "net/ipv4/inet_connection_sock.c:inet_bind_conflict (uid_eq(uid, sock_i_uid(sk2)))"
    case .twOverflow: return "net/ipv4/inet_timewait_sock.c:inet_twsk_alloc (tcp_max_tw_buckets), tcp_minisocks.c:tcp_time_wait"
    case .twReuseDelay: return "net/ipv4/tcp_ipv4.c:tcp_twsk_unique (tcp_tw_reuse_delay)"
    case .udpBind0SlotWalk: return "net/ipv4/udp.c:udp_lib_get_port (snum == 0)"
    case .udpExactAddressFirst: return "net/ipv4/udp.c:compute_score (rcv_saddr match)"
    case .udpReuseaddrShares: return "net/ipv4/udp.c:udp_lib_lport_inuse (sk->sk_reuse && sk2->sk_reuse)"
    case .udpReuseportSpread: return "net/core/sock_reuseport.c:reuseport_select_sock_by_hash, net/ipv4/udp.c:lookup_reuseport"
    case .releaseRestoresBucket: return "net/ipv4/inet_hashtables.c:__inet_put_port (inet_bind_bucket and bind2 state update)"
    case .connectSourceV4Wildcard:
      return "net/ipv4/inet_hashtables.c:inet_bhash2_update_saddr (IPv6: sk_v6_rcv_saddr only), inet_connection_sock.c:ipv4_rcv_saddr_equal"
    case .synReplacesTimeWait: return "net/ipv4/tcp_minisocks.c:tcp_timewait_state_process (TCP_TW_SYN), tcp_ipv4.c:tcp_v4_rcv"
    case .synRetransmit: return "net/ipv4/tcp_timer.c:tcp_retransmit_timer (SYN_SENT, tcp_syn_retries, tcp_syn_linear_timeouts)"
    case .udpFirstContenderDecides: return "net/ipv4/udp.c:udp_lib_lport_inuse (return 0 on a reuseport match), udp_lib_get_port (sk_add_node_tail_rcu)"
    case .takeoverKeepsTimestamp:
      return "net/ipv4/tcp_ipv4.c:tcp_twsk_unique (tp->rx_opt.ts_recent_stamp = tcptw->tw_ts_recent_stamp), tcp_minisocks.c:tcp_time_wait"
    case .selfConnect: return "net/ipv4/tcp_input.c:tcp_rcv_synsent_state_process (a SYN in SYN_SENT: simultaneous open)"
    }
  }

  /// The upstream commit that introduced or last changed the rule, where one did
  /// within the versions this project models.
  public var commit: String? {
    switch self {
    case .releaseRestoresBucket: return "d57f4b874946 (tcp: Update bind bucket state on port release, 6.18)"
    case .twReuseDelay: return "tcp_tw_reuse_delay sysctl (6.14); before, a fixed 1 s in whole seconds"
    case .synRetransmit: return "ccce324dabfe (tcp: make the first N SYN RTO backoffs linear, 6.5)"
    default: return nil
    }
  }
}
