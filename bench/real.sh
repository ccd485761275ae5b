#!/usr/bin/env bash
# The real backend's overhead over the bare syscalls (issue "real backend",
# item 8): 10,000 iterations of socket; bind 127.0.0.1:0; close, by the
# release binary and by bench/realbench.c, each creating its own network
# namespace and printing one line per call to a file. Median of 5
# whole-process runs. Needs root. Usage: bench/real.sh [runs] [iterations]
# PIN=N runs both programs on CPU N only (taskset): steadier figures on a
# small VM, where the two programs otherwise land on either core.
set -euo pipefail
runs=${1:-5}
n=${2:-10000}
source "$(dirname "$0")/common.sh"
cc -O2 -Wall -Werror -o "$work/realbench" bench/realbench.c
printf 'repeat %d {\n  socket a\n  bind a 127.0.0.1:0\n  close a\n}\n' "$n" > "$work/churn.sock"

# The two programs run alternately, so drift in the machine's load hits both.
ctimes=()
stimes=()
pin=()
[ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")
ms() {
  local t0 t1
  t0=$(date +%s%N)
  "${pin[@]}" "$@" > "$work/out.txt"
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
for _ in $(seq "$runs"); do
  ctimes+=("$(ms "$work/realbench" "$n")")
  clines=$(wc -l < "$work/out.txt")
  stimes+=("$(ms "$bin" run --backend real "$work/churn.sock")")
  slines=$(wc -l < "$work/out.txt")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(median "${ctimes[@]}")
s=$(median "${stimes[@]}")
echo "C baseline:                ${c} ms ($clines lines; runs: ${ctimes[*]})"
echo "sockscript --backend real: ${s} ms ($slines lines; runs: ${stimes[*]})"
awk -v s="$s" -v c="$c" 'BEGIN { printf "ratio: %.2fx (target <= 1.1x)\n", s / c }'
