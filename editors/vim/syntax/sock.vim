" Vim syntax file
" Language:   sockscript (.sock socket scenarios)
" The keyword lists follow the parser's own tables; a test checks them.

if exists("b:current_syntax")
  finish
endif

syn case match

syn match   sockComment     "#.*$" contains=@Spell
syn region  sockString      start=+"+ skip=+\\\\\|\\"+ end=+"+ contains=sockEscape,sockInterp
syn match   sockEscape      contained +\\[nt"\\]+
syn match   sockInterp      "\$[A-Za-z_][A-Za-z0-9_]*"
syn region  sockInterp      matchgroup=sockInterpDelim start="\$(" end=")" contains=ALLBUT,sockComment
" Later matches win where several start at one column: numbers first.
syn match   sockNumber      "\<[0-9]\+\>"
syn match   sockResult      "=>"
syn match   sockEndpoint    "\[[0-9A-Fa-f:.]*\]\(:[0-9]\+\)\="
syn match   sockEndpoint    "\<[0-9]\{1,3}\(\.[0-9]\{1,3}\)\{3}\(/[0-9]\+\|:[0-9]\+\)\=\>"
syn match   sockDuration    "\<[0-9]\+\(\.[0-9]\+\)\=\(ms\|s\|m\)\>"
syn match   sockProperty    "\.\@<=\(state\|laddr\|lport\|raddr\|rport\|local\|remote\|result\|data\|from\)\>"
syn match   sockSysctl      "\<\(net\.ipv4\.ip_local_port_range\|net\.ipv4\.ip_local_reserved_ports\|net\.ipv4\.ip_autobind_reuse\|net\.ipv4\.ip_nonlocal_bind\|net\.ipv4\.ip_unprivileged_port_start\|net\.ipv4\.tcp_tw_reuse\|net\.ipv4\.tcp_tw_reuse_delay\|net\.ipv4\.tcp_max_tw_buckets\|net\.ipv4\.tcp_timestamps\|net\.ipv4\.tcp_fin_timeout\|net\.core\.somaxconn\|net\.ipv6\.bindv6only\|net\.ipv4\.tcp_syncookies\|net\.ipv4\.tcp_abort_on_overflow\|net\.ipv4\.tcp_syn_retries\|net\.ipv4\.tcp_syn_linear_timeouts\|net\.ipv4\.tcp_max_syn_backlog\)\>"

syn keyword sockStatement socket setopt bind listen connect accept send recv sendto recvfrom
syn keyword sockStatement shutdown close sleep sysctl addr ulimit let expect repeat if print show
syn keyword sockSubKeyword add nofile
syn keyword sockProto tcp udp tcp6 udp6
syn keyword sockShutdown rd wr rdwr
syn keyword sockOption reuseaddr reuseport bind_address_no_port v6only nonblock freebind linger
syn keyword sockOption local_port_range bindtodevice
syn keyword sockErrno EPERM ENOENT EINTR EBADF EAGAIN ENOMEM EACCES EFAULT EBUSY EEXIST ENODEV
syn keyword sockErrno EINVAL ENFILE EMFILE ENOSPC EPIPE ERANGE ENOPROTOOPT EPROTONOSUPPORT
syn keyword sockErrno EOPNOTSUPP EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH
syn keyword sockErrno ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ETIMEDOUT ECONNREFUSED
syn keyword sockErrno EHOSTUNREACH EALREADY EINPROGRESS EDESTADDRREQ EMSGSIZE ENXIO E2BIG ENOTDIR
syn keyword sockErrno EROFS ENOSYS ENOTSOCK EPROTOTYPE ESOCKTNOSUPPORT EPFNOSUPPORT ENETRESET
syn keyword sockErrno ESHUTDOWN EHOSTDOWN EWOULDBLOCK ENOTSUP
syn keyword sockState CLOSED BOUND LISTEN SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT1 FIN_WAIT2
syn keyword sockState CLOSE_WAIT CLOSING LAST_ACK TIME_WAIT
syn keyword sockFunction count
syn keyword sockOperator and or not in as uid ok any on off else
syn keyword sockBoolean true false

hi def link sockComment     Comment
hi def link sockString      String
hi def link sockEscape      SpecialChar
hi def link sockInterp      Identifier
hi def link sockInterpDelim Delimiter
hi def link sockResult      Operator
hi def link sockEndpoint    Constant
hi def link sockDuration    Number
hi def link sockNumber      Number
hi def link sockProperty    Identifier
hi def link sockSysctl      PreProc
hi def link sockStatement   Statement
hi def link sockSubKeyword  Statement
hi def link sockProto       Type
hi def link sockShutdown    Constant
hi def link sockOption      Special
hi def link sockErrno       Constant
hi def link sockState       Constant
hi def link sockFunction    Function
hi def link sockOperator    Operator
hi def link sockBoolean     Boolean

let b:current_syntax = "sock"
