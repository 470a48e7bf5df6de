#!/usr/bin/env bash
# HTTP throughput of a protected route as a fraction of the same server's /health, for
# both examples, in one run. The server is pinned to core 0, wrk to core 1; all traffic
# stays on 127.0.0.1.
#
#   bash bench/http.sh            # 10 s per workload
#   DURATION=5s bash bench/http.sh
#   EXAMPLES=actix_api MEMORY=0 bash bench/http.sh    # one adapter, no memory run
#
# Workloads (protected route: GET /admin, which needs scope admin):
#   reuse     every request carries the same token (token cache on, the default)
#   pool      tokens drawn at random from 10,000 distinct ones (cache on)
#   no-cache  the same token, TOKENGATE_TOKEN_CACHE_SIZE=0: every request verified (RS256)
# Then memory: RSS of axum_api before and after 100,000 distinct tokens enter its cache.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
POOL=10000
MEMORY_TOKENS=100000
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is needed (util-linux)"; exit 1; }

cargo build --release --examples -q
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The issuer mints the tokens, then serves discovery and the JWKS (core 1).
mkfifo "$work/issuer.in"
taskset -c 1 target/release/examples/bench_issuer "$MEMORY_TOKENS" "$work/tokens.txt" \
  < "$work/issuer.in" > "$work/issuer.out" &
pids+=($!)
exec 3>"$work/issuer.in"
for _ in $(seq 1 600); do grep -q '^issuer ' "$work/issuer.out" 2>/dev/null && break; sleep 0.1; done
read -r _ issuer _ audience < "$work/issuer.out"
head -n "$POOL" "$work/tokens.txt" > "$work/pool.txt"
token=$(head -n 1 "$work/tokens.txt")

start_api() { # example, cache size -> sets api_pid, api_url
  local log="$work/$1-$2.log"
  TOKENGATE_ISSUER="$issuer" TOKENGATE_AUDIENCE="$audience" BIND_ADDR=127.0.0.1:0 \
    TOKENGATE_TOKEN_CACHE_SIZE="$2" RUST_LOG=warn \
    taskset -c 0 "target/release/examples/$1" > "$log" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  for _ in $(seq 1 300); do grep -q '^listening on ' "$log" 2>/dev/null && break; sleep 0.1; done
  api_url=$(sed -n 's/^listening on //p' "$log" | head -n 1)
  # Warm up: the first request fetches the keys.
  curl -s --max-time 10 -o /dev/null -H "Authorization: Bearer $token" "$api_url/admin"
}

rps() { # path, extra wrk args... -> requests/s
  local path=$1; shift
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$@" "$api_url$path" \
    | awk '/^Requests\/sec/ {print $2}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

printf '%-10s %-9s %12s %12s %7s\n' adapter workload "health rps" "route rps" ratio
for example in ${EXAMPLES:-axum_api actix_api}; do
  start_api "$example" 20000
  health=$(rps /health)
  reuse=$(rps /admin -H "Authorization: Bearer $token")
  # The pool needs wrk's Lua per request: its baseline is /health through the same script.
  health_lua=$(TOKENS_FILE="$work/pool.txt" MODE=random BENCH_PATH=/health rps /health -s bench/pool.lua)
  pool=$(TOKENS_FILE="$work/pool.txt" MODE=random rps /admin -s bench/pool.lua)
  printf '%-10s %-9s %12s %12s %7s\n' "${example%_api}" reuse "$health" "$reuse" "$(ratio "$reuse" "$health")"
  printf '%-10s %-9s %12s %12s %7s\n' "${example%_api}" pool "$health_lua" "$pool" "$(ratio "$pool" "$health_lua")"
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true

  start_api "$example" 0
  health=$(rps /health)
  verified=$(rps /admin -H "Authorization: Bearer $token")
  printf '%-10s %-9s %12s %12s %7s\n' "${example%_api}" no-cache "$health" "$verified" "$(ratio "$verified" "$health")"
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
done

[ "${MEMORY:-1}" = 1 ] || exit 0
# Memory: 100,000 distinct live tokens into the cache of one server.
start_api axum_api "$MEMORY_TOKENS"
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$api_pid/status")
# One connection, tokens in order: 100,000 requests take a few seconds; 20 s leaves room
# on a slow machine (the order wraps around afterwards, adding nothing new).
TOKENS_FILE="$work/tokens.txt" MODE=sequential taskset -c 1 \
  wrk -t1 -c1 -d"${MEMORY_DURATION:-20s}" -s bench/pool.lua "$api_url/admin" > /dev/null
rss_after=$(awk '/VmRSS/ {print $2}' "/proc/$api_pid/status")
echo
echo "memory: RSS $((rss_before / 1024)) MiB before, $((rss_after / 1024)) MiB after up to $MEMORY_TOKENS distinct tokens;" \
  "$(( (rss_after - rss_before) * 1024 / MEMORY_TOKENS )) bytes per cached token"
