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
  /// The first SYN resends come at a fixed 1 s (tcp_syn_linear_timeouts of
  /// them) before the backoff doubles (6.5); before, it doubles from the start.
  case synLinearTimeouts = "syn-linear-timeouts"
  /// setsockopt(IP_LOCAL_PORT_RANGE) narrows the socket's ephemeral range
  /// (6.3, backported to 6.1.32); before, ENOPROTOOPT.
  case localPortRangeOption = "local-port-range-option"
  /// connect() with a per-socket range walks it port by port, both parities,
  /// odd-sized ranges whole (6.8); before, the global range's even-first
  /// split, which drops the top port of an odd-sized range.
  case connectRangeStepOne = "connect-range-step-one"
  /// connect() does not take over an orphaned FIN_WAIT2 entry (6.12,
  /// backported to 5.10.227 and 6.1.113); before, it does, like TIME_WAIT.
  case finWait2NotReused = "fin-wait2-not-reused"
  /// listen() on a socket whose connect() was refused fails with EINVAL and
  /// keeps the port it took (seen on 6.18.44; 6.12.113 and 7.2.7 listen).
  case refusedConnectBlocksListen = "refused-connect-blocks-listen"
  /// A listener shut down for reading cannot connect(): EINVAL (seen on
  /// 6.18.44; 6.12.113 and 7.2.7 connect as usual).
  case shutListenerCannotConnect = "shut-listener-cannot-connect"
  /// A socket shut down for writing that connects to itself is refused
  /// (ECONNABORTED) and leaves an entry holding the port (6.1.176 and later;
  /// 5.10.46 connects it to itself).
  case wrShutSelfConnectAborts = "wr-shut-self-connect-aborts"
  /// tcp_max_tw_buckets is compared as an unsigned number, so a negative
  /// limit is no limit (6.1.176 and later; on 5.10.46 the signed compare
  /// makes a negative limit refuse every TIME_WAIT entry).
  case twLimitUnsigned = "tw-limit-unsigned"
  /// A connect() whose port search fails gives back the source address it
  /// chose (6.1, with bhash2); 5.10 keeps it, so a later autobind or
  /// connect() starts from that address.
  case failedConnectResetsSource = "failed-connect-resets-source"
  /// A 6.1 bhash2 bug: a bind() to a v4-mapped address ([::ffff:127.0.0.1])
  /// does not see an IPv6 socket bound to [::ffff:0.0.0.0] on its port
  /// (6.1.176; 5.10, with no bhash2, and 6.12 see it).
  case bhash2MappedAnyMiss = "bhash2-mapped-any-miss"
  /// A refused connect() of a TCP IPv6 socket to a v4-mapped address leaves
  /// it on the ipv6_mapped operations, so its next SYN to an IPv6 address
  /// goes out through the IPv4 path and is lost (5.10.46 to 7.2.7; not
  /// this machine's 6.18.44 build, see `absentFrom`).
  case mappedOpsStay = "mapped-ops-stay"

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
    case .synLinearTimeouts: return "net/ipv4/tcp_timer.c:tcp_retransmit_timer (icsk_retransmits < tcp_syn_linear_timeouts)"
    case .localPortRangeOption: return "net/ipv4/ip_sockglue.c:do_ip_setsockopt (IP_LOCAL_PORT_RANGE)"
    case .connectRangeStepOne: return "net/ipv4/inet_hashtables.c:__inet_hash_connect (local_ports: step 1, no offset &= ~1)"
    case .finWait2NotReused: return "net/ipv4/tcp_ipv4.c:tcp_twsk_unique (tw->tw_substate == TCP_FIN_WAIT2)"
    case .refusedConnectBlocksListen: return "net/ipv4/inet_connection_sock.c:inet_csk_listen_start (after tcp_disconnect of a refused connect)"
    case .shutListenerCannotConnect: return "net/ipv4/af_inet.c:inet_shutdown, __inet_stream_connect (sock->state after a listener's tcp_disconnect)"
    case .wrShutSelfConnectAborts: return "net/ipv4/tcp_input.c:tcp_rcv_synsent_state_process (simultaneous open of a socket with SEND_SHUTDOWN)"
    case .failedConnectResetsSource: return "net/ipv4/inet_hashtables.c:__inet_hash_connect (inet_bhash2_reset_saddr on failure)"
    case .bhash2MappedAnyMiss: return "net/ipv4/inet_connection_sock.c:inet_bhash2_conflict, inet_bhash2_addr_any_conflict (v4-mapped lookup)"
    case .twLimitUnsigned: return "net/ipv4/inet_timewait_sock.c:inet_twsk_alloc (refcount_read(&tw_refcount) - 1 >= sysctl_max_tw_buckets)"
    case .mappedOpsStay: return "net/ipv6/tcp_ipv6.c:tcp_v6_connect (icsk_af_ops = &ipv6_mapped; ipv6_specific restored only when tcp_v4_connect fails)"
    }
  }

  /// The upstream commit that introduced or last changed the rule, where one did
  /// within the versions this project models.
  public var commit: String? {
    switch self {
    case .releaseRestoresBucket: return "d57f4b874946 (tcp: Update bind bucket state on port release, 6.18)"
    case .twReuseDelay: return "ca6a6f93867a, 19ce8cd30465 (tcp: Add sysctl to configure TIME-WAIT reuse delay, 6.14); before, the next whole second"
    case .synLinearTimeouts: return "ccce324dabfe (tcp: make the first N SYN RTO backoffs linear, 6.5)"
    case .localPortRangeOption: return "91d0b78c5177 (inet: Add IP_LOCAL_PORT_RANGE socket option, 6.3; 6.1.32)"
    case .connectRangeStepOne: return "207184853dbd (tcp/dccp: change source port selection at connect() time, 6.8)"
    case .failedConnectResetsSource: return "28044fc1d495 (net: Add a bhash2 table hashed by port and address, 6.1)"
    case .bhash2MappedAnyMiss: return "28044fc1d495 (bhash2, 6.1); 6.12 has 5e07e672412b (tcp: Use bhash2 for v4-mapped-v6 non-wildcard address, 6.8)"
    case .finWait2NotReused: return "0d9e5df4a257 (tcp: avoid reusing FIN_WAIT2 when trying to find port in connect() process, 6.12; 5.10.227, 6.1.113)"
    default: return nil
    }
  }

  /// The first release with the rule, where it is newer than the oldest
  /// profile (5.10.46): a profile older than this runs without it (the
  /// kernel's earlier behaviour, which the rule's code names).
  public var since: KernelVersion? {
    switch self {
    case .releaseRestoresBucket: return KernelVersion(6, 18)
    case .twReuseDelay: return KernelVersion(6, 14)
    case .synLinearTimeouts: return KernelVersion(6, 5)
    case .localPortRangeOption: return KernelVersion(6, 1, 32)
    case .connectRangeStepOne: return KernelVersion(6, 8)
    case .finWait2NotReused: return KernelVersion(5, 10, 227)
    case .refusedConnectBlocksListen, .shutListenerCannotConnect: return KernelVersion(6, 18)
    // Measured: absent on 5.10.46, present on 6.1.176 (not bisected further).
    case .wrShutSelfConnectAborts, .twLimitUnsigned: return KernelVersion(6, 1)
    case .failedConnectResetsSource, .bhash2MappedAnyMiss: return KernelVersion(6, 1)
    default: return nil
    }
  }

  /// The first release without the rule, where a later kernel dropped it.
  /// (Measured, not bisected: the rule is seen on 6.18.44 and not on 7.2.7.)
  public var until: KernelVersion? {
    switch self {
    case .refusedConnectBlocksListen, .shutListenerCannotConnect: return KernelVersion(7, 2)
    case .bhash2MappedAnyMiss: return KernelVersion(6, 12)
    default: return nil
    }
  }

  /// Lines whose checked build lacks the rule although the line lies between
  /// `since` and `until`. This machine's 6.18.44 build (6.18.44-fc-v1252,
  /// measured 2026-12-04) behaves as neither 6.12.113 nor 7.2.7 does: a
  /// UDP bind tests every socket of its slot, and a refused v4-mapped
  /// connect() gives the socket its IPv6 operations back. Its earlier
  /// build, fc-v1147, had both rules; the version number did not change.
  public var absentFrom: [KernelVersion] {
    switch self {
    case .udpFirstContenderDecides, .mappedOpsStay: return [KernelVersion(6, 18)]
    default: return []
    }
  }

  /// Whether the rule is part of a version's kernel.
  public func exists(in v: KernelVersion) -> Bool {
    (since.map { v >= $0 } ?? true) && (until.map { v.line < $0 } ?? true) && !absentFrom.contains(v.line)
  }
}
