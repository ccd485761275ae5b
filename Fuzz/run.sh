#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer and AddressSanitizer (issue 14,
# item 5). Two targets:
#   syntax       lexer, parser, checker and diagnostics on arbitrary bytes
#   interpreter  the interpreter on the simulated kernel, 400 steps at most
# Usage: Fuzz/run.sh TARGET [libFuzzer options...]
#   Fuzz/run.sh syntax -max_total_time=60
#   Fuzz/run.sh interpreter -runs=10000000
# The seed corpus is the suite and the examples; what the fuzzer adds is
# kept in .build-fuzz/corpus-TARGET; a crash is written to
# .build-fuzz/crash-TARGET-* and ends the run with a non-zero status.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: Fuzz/run.sh syntax|interpreter [libFuzzer options]}
shift
case "$target" in
  syntax) module=FuzzSyntax ;;
  interpreter) module=FuzzInterpreter ;;
  *) echo "Fuzz/run.sh: no target '$target' (syntax, interpreter)" >&2; exit 2 ;;
esac
scratch=.build-fuzz
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address)
SOCKSCRIPT_FUZZ=1 swift build "${flags[@]}" --target "$module" >&2
bin=$(SOCKSCRIPT_FUZZ=1 swift build "${flags[@]}" --show-bin-path)
# SwiftPM gives an executable a main of its own, which would clash with
# libFuzzer's: the objects are linked here instead.
objs=()
for m in SockSyntax SockKernel SockScript CLinux "$module"; do objs+=("$bin/$m.build"/*.o); done
swiftc -sanitize=fuzzer,address "${objs[@]}" -o "$scratch/fuzz-$target" 2> >(grep -v "Cannot export local symbol" >&2)
corpus=$scratch/corpus-$target
mkdir -p "$corpus"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
n=0
while IFS= read -r f; do cp "$f" "$seeds/$n.sock"; n=$((n + 1)); done < <(find Tests/Scenarios examples -name '*.sock' | sort)
echo "fuzz-$target: $n seed scenarios, corpus $corpus" >&2
# Recording the stack of every allocation costs a fifth of the executions;
# a crash's input replays with the full context (ASAN_OPTIONS= Fuzz/run.sh
# TARGET ARTIFACT).
export ASAN_OPTIONS=${ASAN_OPTIONS-malloc_context_size=0}
exec "$scratch/fuzz-$target" -dict=Fuzz/sock.dict -max_len=1024 -timeout=10 -rss_limit_mb=4096 \
  -artifact_prefix="$scratch/crash-$target-" -print_final_stats=1 "$@" "$corpus" "$seeds"
