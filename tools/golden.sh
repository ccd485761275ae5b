#!/usr/bin/env bash
# Captures everything the simulator side of sockscript prints for every
# example, suite scenario and broken script: the text, JSON and Markdown
# transcripts, both exports, and `test` in text and TAP form, each with its
# exit code. Run it before and after a change that must not change
# behaviour, then `diff -r` the two folders.
#
#   tools/golden.sh BINARY OUTDIR
#
# Files are copied to one flat temporary folder first, so moving a scenario
# between folders does not change the paths printed in the output.
set -uo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/sockscript-golden
rm -rf "$work" "$out"
mkdir -p "$work/s" "$out"
find "$root/examples" "$root/Tests/Scenarios" "$root/Tests/Broken" -name '*.sock' | while read -r f; do
  cp "$f" "$work/s/$(basename "$f")"
done
cd "$work/s"
for f in *.sock; do
  n=${f%.sock}
  for fmt in text json md; do
    "$bin" run --format "$fmt" "$f" >"$out/$n.$fmt" 2>&1
    echo "exit $?" >>"$out/$n.$fmt"
  done
  "$bin" run --keep-going --seed 7 "$f" >"$out/$n.kg7" 2>&1
  echo "exit $?" >>"$out/$n.kg7"
  "$bin" export c "$f" >"$out/$n.c" 2>&1
  echo "exit $?" >>"$out/$n.c"
  "$bin" export python "$f" >"$out/$n.py" 2>&1
  echo "exit $?" >>"$out/$n.py"
done
"$bin" test --jobs 2 . >"$out/_test.text" 2>&1
echo "exit $?" >>"$out/_test.text"
"$bin" test --jobs 2 --format tap . >"$out/_test.tap" 2>&1
echo "exit $?" >>"$out/_test.tap"
"$bin" check *.sock >"$out/_check" 2>&1
echo "exit $?" >>"$out/_check"
echo "$(ls "$out" | wc -l) outputs in $out"
