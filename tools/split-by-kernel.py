#!/usr/bin/env python3
"""Makes a scenario version-aware: runs it on the simulator's profile for an
older kernel and wraps every statement whose result differs there as
    if kernel >= VERSION { STATEMENT } else { STATEMENT => WHAT-OLDER-GIVES }
(an expect that fails there is kept for VERSION and later only). Straight-
line top-level statements only; review the result, then check it on the
real kernels ('sockscript diff --kernel OLD FILE').

usage: tools/split-by-kernel.py FILE OLD VERSION   e.g.  f.sock 5.10 6.1
"""
import json, os, subprocess, sys

path, old, version = sys.argv[1:4]
exe = os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "sockscript")
out = subprocess.run([exe, "run", "--keep-going", "--kernel", old, "--format", "json", path], capture_output=True, text=True).stdout
fails = {}
for line in out.splitlines():
    o = json.loads(line)
    if "line" in o and o.get("pass") is False:
        fails[o["line"]] = o
lines = open(path).read().split("\n")
for n in sorted(fails, reverse=True):
    o, src = fails[n], lines[n - 1]
    code, _, comment = src.partition(" #")
    code = code.rstrip()
    comment = ("  #" + comment) if comment else ""
    if code.lstrip().startswith("expect"):
        lines[n - 1] = f"if kernel >= {version} {{ {code.strip()} }}{comment}"
        continue
    base = code.split(" => ")[0].strip()
    alt = base if o["result"] == "ok" else f"{base} => {o['result']}"
    lines[n - 1] = f"if kernel >= {version} {{ {code.strip()} }} else {{ {alt} }}{comment}"
open(path, "w").write("\n".join(lines))
print(f"{path}: {len(fails)} statements split at {version}")
