#!/usr/bin/env bash
# Server instructions per request, counted by callgrind: the per-request cost of a route
# without the noise of a shared machine (bench/http.sh's throughput ratios move by 30%
# when anything else runs; an instruction count does not move at all). It is a count, not
# a time: cache misses and the kernel's share (accept, epoll, writev) are not in it, so
# use it to find and compare the user-space cost of a change, and bench/http.sh for the
# throughput it buys.
#
#   bash bench/instructions.sh                          # axum_api and actix_api
#   EXAMPLES=axum_api REQUESTS=4000 bash bench/instructions.sh
#   CALLGRIND_OUT=/tmp/cg bash bench/instructions.sh    # keep the profiles (callgrind_annotate)
#   ROUTES="/me /admin" bash bench/instructions.sh      # /admin: scope admin, two fields
#
# For each example: /health, then for each route of ROUTES (default /me): one token
# reused (token cache on), tokens drawn from a pool of POOL distinct ones after each was
# seen once (cache on, every request a hit on a cache of POOL entries), and the cache off
# (every request verified, RS256). The tokens are bench/issuer.rs's (~1.4 KB, a dozen
# claims). Requests come from bench/load.rs on 4 keep-alive connections; the counters are
# zeroed after the warm-up and dumped after the run, so each number is (instructions of
# the run) / (requests answered). The pool is smaller than bench/http.sh's 10,000: each
# token is verified once under callgrind first, and a count does not see cache misses.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-3000}
ROUTES=${ROUTES:-/me}
POOL=${POOL:-1000}
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind"; exit 1; }

cargo build --release --examples -q
work=$(mktemp -d)
out=${CALLGRIND_OUT:-$work}
mkdir -p "$out"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkfifo "$work/issuer.in"
target/release/examples/bench_issuer "$POOL" "$work/tokens.txt" < "$work/issuer.in" > "$work/issuer.out" &
pids+=($!)
exec 3>"$work/issuer.in"
for _ in $(seq 1 600); do grep -q '^issuer ' "$work/issuer.out" 2>/dev/null && break; sleep 0.1; done
read -r _ issuer _ audience < "$work/issuer.out" || { echo "the bench issuer did not start" >&2; exit 1; }
head -n 1 "$work/tokens.txt" > "$work/one.txt"

# load path tokens-file in-order|random count -> the number of answered requests
load() {
  local order=()
  [ "$3" = in-order ] && order=(--in-order)
  target/release/examples/bench_load "$api_url$1" 4 600 --tokens "$2" "${order[@]}" --requests "$4" \
    | awk '{print $2}'
}

measure() { # label path tokens-file mode -> prints "label instructions-per-request"
  local label=$1 path=$2 file=$3 mode=$4 n before
  load "$path" "$file" in-order "$(wc -l < "$file")" > /dev/null     # warm: every token once
  load "$path" "$file" "$mode" 400 > /dev/null                       # warm: the code paths
  callgrind_control -z "$api_pid" > /dev/null 2>&1
  n=$(load "$path" "$file" "$mode" "$REQUESTS")
  callgrind_control -d "$label" "$api_pid" > /dev/null 2>&1
  local dump
  dump=$(ls -t "$out"/callgrind.out."$api_pid".* | head -n 1)
  awk -v n="$n" -v label="$label" '/^summary:|^totals:/ {t = $2} END {printf "%-24s %10.0f\n", label, t / n}' "$dump"
}

start_api() { # example cache-size
  local log="$work/$1-$2.log"
  TOKENGATE_ISSUER="$issuer" TOKENGATE_AUDIENCE="$audience" BIND_ADDR=127.0.0.1:0 \
    TOKENGATE_TOKEN_CACHE_SIZE="$2" RUST_LOG=warn TOKIO_WORKER_THREADS=1 \
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" \
    "target/release/examples/$1" > "$log" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  for _ in $(seq 1 600); do grep -q '^listening on ' "$log" 2>/dev/null && break; sleep 0.1; done
  api_url=$(sed -n 's/^listening on //p' "$log" | head -n 1)
  [ -n "$api_url" ] || { echo "$1 did not start:" >&2; cat "$log" >&2; exit 1; }
}

echo "instructions per request (callgrind, $REQUESTS requests each, pool of $POOL tokens)"
for example in ${EXAMPLES:-axum_api actix_api}; do
  start_api "$example" $((POOL * 2))
  measure "$example /health" /health "$work/one.txt" in-order
  for route in $ROUTES; do
    measure "$example $route reuse" "$route" "$work/one.txt" in-order
    measure "$example $route pool" "$route" "$work/tokens.txt" random
  done
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  start_api "$example" 0
  for route in $ROUTES; do measure "$example $route no-cache" "$route" "$work/one.txt" in-order; done
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
done
