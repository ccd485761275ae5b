#!/usr/bin/env bash
# Benchmarks of the simulator (issue "Foundation", item 9). Release build,
# the built binary as a whole process, output to a file, median of 5 runs.
# Prints one line per figure. Usage: bench/run.sh [runs]
set -euo pipefail
runs=${1:-5}
source "$(dirname "$0")/common.sh"

# 1. Fill the default range (32768-60999: 28,232 ports) with bind(0), then
#    one more bind fails.
cat > "$work/fill.sock" <<'SOCK'
repeat 28232 {
  socket c[i]
  bind c[i] 127.0.0.1:0
}
socket extra
bind extra 127.0.0.1:0 => EADDRINUSE
expect count(BOUND) == 28232
SOCK

# 2. 1,000,000 executed statements of socket/bind/close churn
#    (333,333 iterations of three statements, plus the last socket).
cat > "$work/churn.sock" <<'SOCK'
repeat 333333 {
  socket a
  bind a 127.0.0.1:0
  close a
}
socket last
SOCK

# 3. A 10-line scenario, start to exit.
cat > "$work/small.sock" <<'SOCK'
socket srv
setopt srv reuseaddr
bind srv 0.0.0.0:8080
listen srv
socket c
connect c 127.0.0.1:8080
accept srv as s
close c
close s
expect c.state == TIME_WAIT
SOCK

median_ms() {
  local file=$1 times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$bin" run "$file" > "$work/out.txt"
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

check_lines() { tail -1 "$work/out.txt"; }

fill=$(median_ms "$work/fill.sock"); fillv=$(check_lines)
churn=$(median_ms "$work/churn.sock"); churnv=$(check_lines)
small=$(median_ms "$work/small.sock"); smallv=$(check_lines)
echo "fill 28232 ports + 1 EADDRINUSE: ${fill} ms (target < 1000 ms)  [$fillv]"
echo "1,000,000 statements of churn:   ${churn} ms (target < 2000 ms)  [$churnv]"
echo "10-line scenario, start to exit: ${small} ms (target < 15 ms)  [$smallv]"
