#!/usr/bin/env python3
"""Prints each benchmark's time and its ratio to the raw aws-lc-rs verify of the same
token, from criterion's results (target/criterion). Run after `cargo bench --bench validate`."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
rows = []
for group in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
    def mean_ns(bench):
        f = group / bench / "new" / "estimates.json"
        if not f.exists():
            return None
        estimates = json.loads(f.read_text())
        # The slope (what criterion prints for linear sampling), else the mean.
        return (estimates.get("slope") or estimates["mean"])["point_estimate"]
    raw = mean_ns("raw_verify")
    for bench in sorted(p.name for p in group.iterdir() if p.is_dir() and p.name != "report"):
        ns = mean_ns(bench)
        if ns is None:
            continue
        ratio = f"{ns / raw:5.2f} x raw" if raw else ""
        rows.append((f"{group.name}/{bench}", ns, ratio))
width = max(len(r[0]) for r in rows)
for name, ns, ratio in rows:
    print(f"{name:<{width}}  {ns / 1000:9.3f} µs  {ratio}")
