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
#   WORKLOADS="reuse dpop dpop-redis" bash bench/instructions.sh   # /health and these rows
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
#
# Then /me dpop: a DPoP-bound token of the same shape (cache on) with a fresh ES256 proof
# per request (DPOP_ALG=EdDSA: Ed25519), TOKENGATE_DPOP=allowed and the in-memory replay
# store; and /me dpop-redis, the same with the jtis in a redis-server this script starts
# on a free 127.0.0.1 port (skipped when redis-server is missing). Only the server is
# counted: the Redis row's extra is the client side of the round trip (encoding, the
# driver task, waking), not Redis's own work nor the kernel's. The proofs are pre-signed
# by bench_issuer in batches just before they are sent, each once (bench_load --lines;
# see bench/http.sh for why).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-3000}
ROUTES=${ROUTES:-/me}
WORKLOADS=${WORKLOADS:-reuse pool no-cache dpop dpop-redis}
# DPoP proofs signed at a time: sent within seconds under callgrind, well inside the
# 60-second iat window even on a busy machine.
DPOP_BATCH=${DPOP_BATCH:-500}
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
DPOP_ORIGIN=http://api.bench
target/release/examples/bench_issuer "$POOL" "$work/tokens.txt" --dpop "$DPOP_ORIGIN" \
  < "$work/issuer.in" > "$work/issuer.out" &
pids+=($!)
exec 3>"$work/issuer.in"
for _ in $(seq 1 600); do grep -q '^issuer ' "$work/issuer.out" 2>/dev/null && break; sleep 0.1; done
read -r _ issuer _ audience < "$work/issuer.out" || { echo "the bench issuer did not start" >&2; exit 1; }
head -n 1 "$work/tokens.txt" > "$work/one.txt"
dpop_token=$(sed -n 's/^dpop //p' "$work/issuer.out")

# mint_proofs count path -> $work/proofs.txt: `count` fresh proofs for GET path.
mint_proofs() {
  local count=$1 path=$2 batch
  batch=$(mktemp "$work/proofs.XXXXXX")
  echo "proofs $count $batch $path" >&3
  for _ in $(seq 1 1200); do grep -qx "proofs $count $batch" "$work/issuer.out" && break; sleep 0.1; done
  grep -qx "proofs $count $batch" "$work/issuer.out" || { echo "bench_issuer minted no proofs" >&2; exit 1; }
  mv "$batch" "$work/proofs.txt"
}

# load path tokens-file in-order|random count -> the number of answered requests
load() {
  local order=()
  [ "$3" = in-order ] && order=(--in-order)
  target/release/examples/bench_load "$api_url$1" 4 600 --tokens "$2" "${order[@]}" --requests "$4" \
    | awk '{print $2}'
}

# load_dpop path count -> the number of answered requests, each with a proof of its own
load_dpop() {
  target/release/examples/bench_load "$api_url$1" 4 600 --header "Authorization: DPoP $dpop_token" \
    --lines "$work/proofs.txt" --requests "$2" | awk '{print $2}'
}

measure() { # label path tokens-file mode -> prints "label instructions-per-request"
  local label=$1 path=$2 file=$3 mode=$4 n
  load "$path" "$file" in-order "$(wc -l < "$file")" > /dev/null     # warm: every token once
  load "$path" "$file" "$mode" 400 > /dev/null                       # warm: the code paths
  callgrind_control -z "$api_pid" > /dev/null 2>&1
  n=$(load "$path" "$file" "$mode" "$REQUESTS")
  report "$label" "$n"
}

measure_dpop() { # label path -> prints "label instructions-per-request"
  local label=$1 path=$2 n=0 got
  mint_proofs 500 "$path"
  load_dpop "$path" 400 > /dev/null                                  # warm: the code paths
  callgrind_control -z "$api_pid" > /dev/null 2>&1
  # In batches, each signed just before it is sent: under callgrind a request takes
  # milliseconds, and a proof is stale a minute after it was signed. The server idles
  # while a batch is signed (a few thousand instructions of timers, against millions).
  while [ "$n" -lt "$REQUESTS" ]; do
    # Every request and the ones in flight when a batch stops take a proof.
    mint_proofs $((DPOP_BATCH + 10)) "$path"
    got=$(load_dpop "$path" $((REQUESTS - n < DPOP_BATCH ? REQUESTS - n : DPOP_BATCH)))
    [ -n "$got" ] || { echo "$label: the load failed (proofs stale? a lower DPOP_BATCH)" >&2; exit 1; }
    n=$((n + got))
  done
  report "$label" "$n"
}

report() { # label requests: dumps the counters, prints "label instructions-per-request"
  local label=$1 n=$2
  callgrind_control -d "$label" "$api_pid" > /dev/null 2>&1
  local dump
  dump=$(ls -t "$out"/callgrind.out."$api_pid".* | head -n 1)
  awk -v n="$n" -v label="$label" '/^summary:|^totals:/ {t = $2} END {printf "%-24s %10.0f\n", label, t / n}' "$dump"
}

start_api() { # example cache-size [Redis URL for the DPoP replay store]
  local log="$work/$1-$2.log"
  TOKENGATE_ISSUER="$issuer" TOKENGATE_AUDIENCE="$audience" BIND_ADDR=127.0.0.1:0 \
    TOKENGATE_TOKEN_CACHE_SIZE="$2" RUST_LOG=warn TOKIO_WORKER_THREADS=1 \
    TOKENGATE_DPOP=allowed TOKENGATE_PUBLIC_URL="$DPOP_ORIGIN" TOKENGATE_DPOP_REDIS_URL="${3:-}" \
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out.%p" \
    "target/release/examples/$1" > "$log" 2>&1 &
  api_pid=$!
  pids+=("$api_pid")
  for _ in $(seq 1 600); do grep -q '^listening on ' "$log" 2>/dev/null && break; sleep 0.1; done
  api_url=$(sed -n 's/^listening on //p' "$log" | head -n 1)
  [ -n "$api_url" ] || { echo "$1 did not start:" >&2; cat "$log" >&2; exit 1; }
}

redis_url=
if command -v redis-server >/dev/null; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no --daemonize no \
    > "$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do (exec 4<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  redis_url="redis://127.0.0.1:$port/"
fi

wants() { [[ " $WORKLOADS " == *" $1 "* ]]; }

echo "instructions per request (callgrind, $REQUESTS requests each, pool of $POOL tokens)"
for example in ${EXAMPLES:-axum_api actix_api}; do
  start_api "$example" $((POOL * 2))
  measure "$example /health" /health "$work/one.txt" in-order
  for route in $ROUTES; do
    ! wants reuse || measure "$example $route reuse" "$route" "$work/one.txt" in-order
    ! wants pool || measure "$example $route pool" "$route" "$work/tokens.txt" random
  done
  ! wants dpop || measure_dpop "$example /me dpop" /me
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  if wants no-cache; then
    start_api "$example" 0
    for route in $ROUTES; do measure "$example $route no-cache" "$route" "$work/one.txt" in-order; done
    kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
  fi
  wants dpop-redis || continue
  if [ -z "$redis_url" ]; then echo "($example /me dpop-redis: skipped, no redis-server)"; continue; fi
  start_api "$example" $((POOL * 2)) "$redis_url"
  measure_dpop "$example /me dpop-redis" /me
  kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
done
