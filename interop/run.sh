#!/usr/bin/env bash
# Interoperability suite: both example APIs (axum_api, actix_api) against a real
# authorization server, oidc-provider (interop/provider.mjs), issuing RFC 9068 JWT access
# tokens by the client_credentials grant. Everything runs on 127.0.0.1; every wait is
# bounded; every process started here is stopped on exit.
#
#   bash interop/run.sh            # needs node >= 20, npm, curl, redis-server and Rust
#
# For each example: real tokens are accepted (/me, claims), scope is enforced (/admin 403
# then 200), a tampered, wrong-audience or opaque token is refused (401), and a key
# rotation at the provider (restart on the same issuer with a new signing key) is followed:
# the new key's tokens are accepted after a refetch, and keys the provider stops
# publishing stop verifying. Then each example runs again with RFC 7662 introspection on
# (TOKENGATE_CLIENT_ID/SECRET, TokenFormat::JwtOrOpaque) for the provider's opaque resource:
# opaque tokens are introspected (/me 200, /admin 403 then 200), a made-up one is 401, a
# JWT is still verified locally, a revoked token is 401 once the answer cache expires, and
# refused client credentials are 503. Then the DPoP cases (RFC 9449), with proofs made by
# the npm `dpop` package (interop/dpop.mjs) and tokens the provider binds to their key:
# two replicas of the example sharing one redis-server (started here on a free port) as
# their replay store take a bound JWT with its proof (200) and refuse a wrong htm, htu,
# stale iat, wrong ath, another key's proof, a missing proof and a replayed jti, on the
# same replica or the other one (401 with `DPoP error="invalid_dpop_proof"`); the bound
# token as Bearer is 401 invalid_token; Redis down is 503 and Redis back is 200; bound
# opaque tokens are checked against their introspection answer's cnf.jkt; and the
# server-nonce round trip (TOKENGATE_DPOP_NONCE=1: use_dpop_nonce, DPoP-Nonce, 200).
# Ends with `interop: N passed, M failed`; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENT_ID=interop-client
CLIENT_SECRET=interop-secret
AUDIENCE=https://api.interop.test        # provider.mjs: scopes "read admin"
OTHER_AUDIENCE=https://other.interop.test # provider.mjs: another API's audience
OPAQUE_AUDIENCE=https://opaque.interop.test # provider.mjs: opaque tokens, "read admin"
INTROSPECTION_CACHE_MS=1000                # TOKENGATE_INTROSPECTION_CACHE_MS when introspecting
EXAMPLES=(axum_api actix_api)
CURL=(curl -sS --noproxy '*' --max-time 10)

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokengate-interop.XXXXXX")
PROVIDER_PID=""
API_PID=""
API2_PID=""  # a second replica of the example (the DPoP cases)
REDIS_PID=""
EXAMPLE=setup

# A process still running (a child that exited but was not reaped yet counts as gone).
alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 1
    [ "$state" != Z ]
}

# Stops one process started here: TERM, up to 5 s, then KILL.
stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop "$API_PID"
    stop "$API2_PID"
    stop "$REDIS_PID"
    stop "$PROVIDER_PID"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

summary() {
    echo "interop: $passed passed, $failed failed"
}

# A setup step failed: no point going on.
die() {
    echo "FAIL - $EXAMPLE: $*"
    failed=$((failed + 1))
    summary
    exit 1
}

# Prints the first line of FILE matching REGEX once it appears, within SECONDS, while PID
# runs.
wait_for_line() {
    local file=$1 regex=$2 pid=$3 seconds=$4 line
    for _ in $(seq $((seconds * 10))); do
        line=$(grep -m1 -E "$regex" "$file" 2>/dev/null || true)
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        alive "$pid" || return 1
        sleep 0.1
    done
    return 1
}

# Starts provider.mjs on PORT (0: any) publishing KEYS (the first signs). Sets ISSUER, KID.
start_provider() {
    local port=$1 keys=$2 line n=$((${N_PROVIDER:-0} + 1))
    N_PROVIDER=$n
    node interop/provider.mjs --port "$port" --keys "$keys" \
        --keys-file "$WORK/$EXAMPLE-keys.json" --lifetime 600 \
        >"$WORK/$EXAMPLE-provider-$n.out" 2>"$WORK/$EXAMPLE-provider-$n.err" </dev/null &
    PROVIDER_PID=$!
    if ! line=$(wait_for_line "$WORK/$EXAMPLE-provider-$n.out" '^ready ' "$PROVIDER_PID" 30); then
        cat "$WORK/$EXAMPLE-provider-$n.err" >&2
        return 1
    fi
    ISSUER=$(awk '{print $2}' <<<"$line")
    KID=$(sed -n 's/.* kid=\([^ ]*\).*/\1/p' <<<"$line")
    echo "     provider $ISSUER signing with $KID (publishes ${line##*published=})"
}

# Starts target/debug/examples/NAME against $ISSUER, with any further VAR=VALUE settings
# (they override the defaults here). Sets API (its base URL). Its output goes to
# $WORK/$API_LOG.{out,err} ($API_LOG: NAME unless set).
start_api() {
    local name=$1 line log=${API_LOG:-$1}
    shift
    env -u TOKENGATE_JWKS_URL -u TOKENGATE_MIN_CACHE_TTL_MS -u TOKENGATE_TOKEN_CACHE_SIZE \
        -u TOKENGATE_CLIENT_ID -u TOKENGATE_CLIENT_SECRET -u TOKENGATE_INTROSPECTION_URL \
        -u TOKENGATE_INTROSPECTION_CACHE_MS -u TOKENGATE_RESOURCE -u TOKENGATE_DPOP \
        -u TOKENGATE_PUBLIC_URL -u TOKENGATE_DPOP_NONCE -u TOKENGATE_DPOP_REDIS_URL \
        TOKENGATE_ISSUER="$ISSUER" \
        TOKENGATE_AUDIENCE="$AUDIENCE" \
        TOKENGATE_REFRESH_COOLDOWN_MS=200 \
        BIND_ADDR=127.0.0.1:0 \
        NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" \
        no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}" \
        RUST_LOG="${RUST_LOG:-info,tokengate=debug}" NO_COLOR=1 \
        "$@" \
        "${CARGO_TARGET_DIR:-target}/debug/examples/$name" >"$WORK/$log.out" 2>"$WORK/$log.err" </dev/null &
    API_PID=$!
    if ! line=$(wait_for_line "$WORK/$log.out" '^listening on http://' "$API_PID" 30); then
        tail -n 20 "$WORK/$log.err" >&2
        return 1
    fi
    API=${line#listening on }
    echo "     $name listening on $API"
}

# One field of a JSON file (strings raw, other values as JSON); fails when absent.
json_get() {
    node -e '
        const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
        if (v === undefined) process.exit(1);
        process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
    ' "$1" "$2"
}

# A token from the provider's token endpoint: client_credentials, SCOPE, optional RESOURCE.
token() {
    local args=(-u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials
        --data-urlencode "scope=$1")
    if [ -n "${2:-}" ]; then
        args+=(--data-urlencode "resource=$2")
    fi
    "${CURL[@]}" "${args[@]}" "$ISSUER/token" >"$WORK/token.json" || return 1
    json_get "$WORK/token.json" access_token || {
        echo "     no access_token from the provider: $(cat "$WORK/token.json")" >&2
        return 1
    }
}

# Revokes TOKEN at the provider (RFC 7009; 200 whatever the token was).
revoke() {
    local status
    status=$("${CURL[@]}" -o "$WORK/revocation" -w '%{http_code}' -u "$CLIENT_ID:$CLIENT_SECRET" \
        --data-urlencode "token=$1" -d token_type_hint=access_token "$ISSUER/token/revocation") ||
        status=000
    if [ "$status" != 200 ]; then
        echo "     revocation answered HTTP $status: $(head -c 300 "$WORK/revocation")" >&2
        return 1
    fi
}

# An opaque token: not a JWS (no two dots).
expect_opaque() {
    if [[ $1 == *.*.* ]]; then
        echo "     token $1 looks like a JWT"
        return 1
    fi
}

# The last body is the introspected claims of an opaque token for this client, issuer and
# audience, with SCOPE. oidc-provider's introspection answer for a client_credentials token
# names the client in `client_id` only (no `sub`: there is no end-user), so `sub` may be
# absent, and tokengate must not invent one; if present it must be the client.
expect_introspected_claims() {
    node -e '
        const [file, clientId, issuer, audience, scope] = process.argv.slice(1);
        const c = JSON.parse(require("fs").readFileSync(file, "utf8"));
        const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
        const bad = [];
        if (c.sub !== undefined && c.sub !== clientId) bad.push(`sub ${JSON.stringify(c.sub)}`);
        if (c.client_id !== clientId) bad.push(`client_id ${JSON.stringify(c.client_id)}`);
        if (c.iss !== issuer) bad.push(`iss ${JSON.stringify(c.iss)}`);
        if (!aud.includes(audience)) bad.push(`aud ${JSON.stringify(c.aud)}`);
        if (c.scope !== scope) bad.push(`scope ${JSON.stringify(c.scope)}`);
        if (bad.length) { console.log(`     unexpected claims: ${bad.join(", ")}`); process.exit(1); }
    ' "$WORK/body" "$CLIENT_ID" "$ISSUER" "$OPAQUE_AUDIENCE" "$1"
}

# The decoded JOSE header field of a JWT.
jwt_header() {
    node -e '
        const h = JSON.parse(Buffer.from(process.argv[1].split(".")[0], "base64url"));
        process.stdout.write(String(h[process.argv[2]] ?? ""));
    ' "$1" "$2"
}

# The same token with one character in the middle of its signature changed.
tamper() {
    local head=${1%.*} sig=${1##*.} i c r
    i=$((${#sig} / 2))
    c=${sig:i:1}
    r=A
    [ "$c" != A ] || r=B
    echo "$head.${sig:0:i}$r${sig:i+1}"
}

# GET API PATH, with TOKEN as bearer if given. Sets STATUS; body and headers in $WORK.
request() {
    local auth=()
    if [ -n "${2:-}" ]; then
        auth=(-H "Authorization: Bearer $2")
    fi
    STATUS=$("${CURL[@]}" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        "${auth[@]}" "$API$1") || STATUS=000
}

www_authenticate() {
    grep -i '^www-authenticate:' "$WORK/headers" 2>/dev/null | head -n 1 | cut -d' ' -f2- | tr -d '\r'
}

# expect STATUS [TEXT...]: the last response had STATUS and a WWW-Authenticate containing
# every TEXT.
expect() {
    local want=$1 header
    shift
    header=$(www_authenticate)
    if [ "$STATUS" != "$want" ]; then
        echo "     expected HTTP $want, got $STATUS; WWW-Authenticate: $header; body: $(head -c 300 "$WORK/body" 2>/dev/null)"
        return 1
    fi
    for text in "$@"; do
        if [[ $header != *"$text"* ]]; then
            echo "     WWW-Authenticate \"$header\" lacks $text"
            return 1
        fi
    done
}

# expect_logged STATUS TEXT: the last response had STATUS, and the example's log says TEXT.
expect_logged() {
    expect "$1" || return 1
    if ! grep -qF "$2" "$WORK/$EXAMPLE.err"; then
        echo "     the log of $EXAMPLE does not say \"$2\""
        return 1
    fi
}

# A 401 that asks for credentials without naming an error (RFC 6750 section 3.1).
expect_bare_challenge() {
    expect 401 Bearer || return 1
    if [[ $(www_authenticate) == *error=* ]]; then
        echo "     WWW-Authenticate \"$(www_authenticate)\" names an error"
        return 1
    fi
}

# The last body is the verified claims of a token for this client, issuer and audience,
# with SCOPE.
expect_claims() {
    node -e '
        const [file, clientId, issuer, audience, scope] = process.argv.slice(1);
        const c = JSON.parse(require("fs").readFileSync(file, "utf8"));
        const aud = Array.isArray(c.aud) ? c.aud : [c.aud];
        const bad = [];
        if (c.sub !== clientId) bad.push(`sub ${JSON.stringify(c.sub)}`);
        if (c.client_id !== clientId) bad.push(`client_id ${JSON.stringify(c.client_id)}`);
        if (c.iss !== issuer) bad.push(`iss ${JSON.stringify(c.iss)}`);
        if (!aud.includes(audience)) bad.push(`aud ${JSON.stringify(c.aud)}`);
        if (c.scope !== scope) bad.push(`scope ${JSON.stringify(c.scope)}`);
        if (bad.length) { console.log(`     unexpected claims: ${bad.join(", ")}`); process.exit(1); }
    ' "$WORK/body" "$CLIENT_ID" "$ISSUER" "$AUDIENCE" "$1"
}

# The token is an RFC 9068 access token signed with RS256 by the key KID.
expect_jwt() {
    local typ alg kid
    typ=$(jwt_header "$1" typ) alg=$(jwt_header "$1" alg) kid=$(jwt_header "$1" kid)
    if [ "$typ" != at+jwt ] || [ "$alg" != RS256 ] || [ "$kid" != "$2" ]; then
        echo "     token header typ=$typ alg=$alg kid=$kid, expected at+jwt RS256 $2"
        return 1
    fi
}

# GET PATH with TOKEN until STATUS (at most 40 tries, 0.25 s apart: the API refetches keys
# at most once per cooldown, and backs off after a failed fetch).
eventually() {
    local path=$1 tok=$2 want=$3 tries
    for tries in $(seq 40); do
        request "$path" "$tok"
        if [ "$STATUS" = "$want" ]; then
            [ "$tries" = 1 ] || echo "     (HTTP $want after $tries tries)"
            return 0
        fi
        sleep 0.25
    done
    expect "$want"
}

# check DESCRIPTION COMMAND...: runs the command and counts it.
check() {
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   - $EXAMPLE: $what"
    else
        failed=$((failed + 1))
        echo "FAIL - $EXAMPLE: $what"
        if [ -s "$WORK/$EXAMPLE.err" ]; then
            echo "     last lines of $EXAMPLE's log:"
            tail -n 8 "$WORK/$EXAMPLE.err" | sed 's/^/       /'
        fi
    fi
}

run_example() {
    local name=$1 port read admin other opaque old_read new_read newest
    EXAMPLE=$name
    N_PROVIDER=0
    start_provider 0 k1 || die "oidc-provider did not start"
    port=${ISSUER##*:}
    local k1=$KID
    start_api "$name" || die "$name did not start"

    request /health
    check "GET /health is 200" expect 200

    request /me
    check "GET /me without a token is 401 with a bare Bearer challenge" expect_bare_challenge

    read=$(token read "$AUDIENCE") || die "no token for scope read"
    check "the provider issues an RFC 9068 JWT (typ at+jwt, RS256, kid $k1)" expect_jwt "$read" "$k1"

    request /me "$read"
    check "GET /me with a real token (scope read) is 200" expect 200
    check "/me returns the verified claims: sub = client_id = $CLIENT_ID, iss, aud, scope" \
        expect_claims read

    request /admin "$read"
    check "GET /admin with scope read is 403 insufficient_scope" \
        expect 403 'error="insufficient_scope"' 'scope="admin"'

    admin=$(token "read admin" "$AUDIENCE") || die "no token for scope read admin"
    request /admin "$admin"
    check "GET /admin with scope \"read admin\" is 200" expect 200

    request /me "$(tamper "$read")"
    check "a token with a tampered signature is 401 invalid_token" expect 401 'error="invalid_token"'

    other=$(token read "$OTHER_AUDIENCE") || die "no token for $OTHER_AUDIENCE"
    request /me "$other"
    check "a real token for another audience ($OTHER_AUDIENCE) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    opaque=$(token read) || die "no opaque token"
    request /me "$opaque"
    check "a real opaque (non-JWT) token is 401 invalid_token" expect 401 'error="invalid_token"'

    # Rotation: the same issuer restarts signing with a new key k2, still publishing k1.
    old_read=$read
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
    start_provider "$port" k2,k1 || die "oidc-provider did not restart on port $port"
    local k2=$KID
    [ "$k2" != "$k1" ] || die "the provider did not rotate its signing key"
    new_read=$(token read "$AUDIENCE") || die "no token after rotation"
    check "after rotation the provider signs with the new key $k2" expect_jwt "$new_read" "$k2"
    eventually /me "$new_read" 200
    check "a token signed with the new key is accepted (JWKS refetched): /me 200" expect 200
    request /me "$old_read"
    check "a token signed with the old key, still published, is still accepted" expect 200

    # Retirement: the provider now publishes only a third key, k3.
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
    start_provider "$port" k3 || die "oidc-provider did not restart on port $port"
    local k3=$KID
    newest=$(token read "$AUDIENCE") || die "no token after the second rotation"
    eventually /me "$newest" 200
    check "after a second rotation a token signed with $k3 is accepted" expect 200
    request /me "$old_read"
    check "a token signed with a key no longer published ($k1) is 401 invalid_token" \
        expect 401 'error="invalid_token"'
    request /me "$new_read"
    check "a token signed with a key no longer published ($k2) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    run_introspection "$name"
    run_dpop "$name"

    stop "$API_PID"
    API_PID=""
    stop "$PROVIDER_PID"
    PROVIDER_PID=""
}

# A random opaque-looking token the provider never issued.
made_up_token() {
    node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))'
}

# A loopback port nothing listens on (bound, then released).
closed_port() {
    node -e '
        const s = require("net").createServer().listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => process.stdout.write(String(port)));
        });
    '
}

# The example again, with introspection on (JwtOrOpaque), against the running provider.
# oidc-provider issues one format per resource: JWTs for $AUDIENCE, opaque tokens (whose
# introspection answer has aud = the resource) for $OPAQUE_AUDIENCE. So the API is started
# as the opaque resource, TOKENGATE_AUDIENCE=$OPAQUE_AUDIENCE, and once more as $AUDIENCE
# to see a JWT accepted with introspection on.
run_introspection() {
    local name=$1 opaque_read opaque_admin jwt revoked
    local introspect=(TOKENGATE_CLIENT_ID="$CLIENT_ID" TOKENGATE_CLIENT_SECRET="$CLIENT_SECRET"
        TOKENGATE_INTROSPECTION_CACHE_MS="$INTROSPECTION_CACHE_MS")
    stop "$API_PID"
    API_PID=""
    # Endpoint from discovery (introspection_endpoint in the provider's metadata).
    start_api "$name" TOKENGATE_AUDIENCE="$OPAQUE_AUDIENCE" "${introspect[@]}" ||
        die "$name did not start with introspection"

    opaque_read=$(token read "$OPAQUE_AUDIENCE") || die "no opaque token for $OPAQUE_AUDIENCE"
    check "the provider issues an opaque token (not a JWT) for $OPAQUE_AUDIENCE" \
        expect_opaque "$opaque_read"
    request /me "$opaque_read"
    check "introspecting: GET /me with an opaque token (scope read) is 200" expect 200
    check "/me returns the introspected claims: client_id = $CLIENT_ID, iss, aud, scope" \
        expect_introspected_claims read
    request /admin "$opaque_read"
    check "introspecting: GET /admin with an opaque token of scope read is 403 insufficient_scope" \
        expect 403 'error="insufficient_scope"' 'scope="admin"'
    opaque_admin=$(token "read admin" "$OPAQUE_AUDIENCE") || die "no opaque token for read admin"
    expect_opaque "$opaque_admin" || die "the provider issued a JWT for $OPAQUE_AUDIENCE"
    request /admin "$opaque_admin"
    check "introspecting: GET /admin with an opaque token of scope \"read admin\" is 200" expect 200

    request /me "$(made_up_token)"
    check "introspecting: a made-up opaque token (active: false) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    # The audiences differ here: a JWT for $AUDIENCE presented to the API that is
    # $OPAQUE_AUDIENCE. It is verified locally and refused for its audience (had tokengate
    # introspected it instead, oidc-provider answers 400 unsupported_token_type for a JWT,
    # a refusal of that one token: 401 too, but for the wrong reason).
    jwt=$(token read "$AUDIENCE") || die "no token for $AUDIENCE"
    request /me "$jwt"
    check "introspecting: a JWT for $AUDIENCE (another audience here) is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    # Revocation (RFC 7009): answers are remembered for at most the cache bound.
    revoked=$(token read "$OPAQUE_AUDIENCE") || die "no opaque token to revoke"
    request /me "$revoked"
    check "introspecting: a fresh opaque token is 200 before it is revoked" expect 200
    revoke "$revoked" || die "the provider did not revoke the token"
    sleep "$(awk -v ms="$INTROSPECTION_CACHE_MS" 'BEGIN { printf "%.3f", ms / 1000 + 0.5 }')"
    request /me "$revoked"
    check "introspecting: a revoked opaque token is 401 invalid_token after the cache bound (${INTROSPECTION_CACHE_MS} ms)" \
        expect 401 'error="invalid_token"'

    # The API as $AUDIENCE, with the endpoint given explicitly.
    stop "$API_PID"
    API_PID=""
    start_api "$name" "${introspect[@]}" TOKENGATE_INTROSPECTION_URL="$ISSUER/token/introspection" ||
        die "$name did not start with TOKENGATE_INTROSPECTION_URL"
    request /me "$jwt"
    check "introspecting as $AUDIENCE: a JWT for $AUDIENCE is still verified locally: /me 200" \
        expect 200
    # The endpoint answers (401, not 503), and its aud is another resource.
    request /me "$opaque_read"
    check "introspecting as $AUDIENCE (TOKENGATE_INTROSPECTION_URL): an opaque token for $OPAQUE_AUDIENCE is 401 invalid_token" \
        expect 401 'error="invalid_token"'

    # Client credentials the provider refuses (401 invalid_client at its endpoint).
    stop "$API_PID"
    API_PID=""
    start_api "$name" TOKENGATE_AUDIENCE="$OPAQUE_AUDIENCE" "${introspect[@]}" \
        TOKENGATE_CLIENT_SECRET=wrong-secret || die "$name did not start with a wrong secret"
    request /me "$opaque_admin"
    check "introspecting with a wrong TOKENGATE_CLIENT_SECRET: an opaque token is 503 (credentials refused)" \
        expect_logged 503 "the introspection endpoint refused our client credentials"

    # An endpoint nobody answers at.
    stop "$API_PID"
    API_PID=""
    start_api "$name" TOKENGATE_AUDIENCE="$OPAQUE_AUDIENCE" "${introspect[@]}" \
        TOKENGATE_INTROSPECTION_URL="http://127.0.0.1:$(closed_port)/token/introspection" ||
        die "$name did not start with an unreachable introspection endpoint"
    request /me "$opaque_admin"
    check "introspecting at an unreachable endpoint: an opaque token is 503" expect 503
}

# --- DPoP (RFC 9449) ---------------------------------------------------------------------
# Proofs come from interop/dpop.mjs, which makes them with the npm `dpop` package (a real
# client implementation); tokens are DPoP-bound by oidc-provider (features.dPoP): their
# cnf.jkt is what the provider computed from the proof key of the token request.

# Starts redis-server on 127.0.0.1:PORT (a free port unless given), nothing persisted. Sets
# REDIS_PORT and REDIS_URL.
start_redis() {
    local port=${1:-$(closed_port)}
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        >>"$WORK/redis.out" 2>&1 </dev/null &
    REDIS_PID=$!
    if ! wait_for_ready_redis "$port"; then
        tail -n 5 "$WORK/redis.out" >&2
        return 1
    fi
    REDIS_PORT=$port
    REDIS_URL=redis://127.0.0.1:$port/
    echo "     redis-server on $REDIS_URL"
}

# Redis on PORT answers PING (RESP over bash's /dev/tcp: no redis-cli needed), within 10 s.
wait_for_ready_redis() {
    local answer
    for _ in $(seq 100); do
        alive "$REDIS_PID" || return 1
        answer=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf 'PING\r\n' >&3 && head -c 5 <&3" 2>/dev/null || true)
        [ "$answer" != "+PONG" ] || return 0
        sleep 0.1
    done
    return 1
}

# `node interop/dpop.mjs proof KEY HTM HTU [--token=T] [--nonce=N] [--clock-skew=S]`.
proof() {
    node interop/dpop.mjs proof "$@"
}

# A DPoP-bound token for KEY: SCOPE, RESOURCE.
dpop_token() {
    node interop/dpop.mjs token "$1" "$ISSUER" "$2" "$3"
}

# GET BASE PATH with `Authorization: DPoP TOKEN` and, when given, `DPoP: PROOF`. Sets STATUS;
# body and headers in $WORK.
dpop_request() {
    local base=$1 path=$2 tok=$3 proof=${4:-} headers
    headers=(-H "Authorization: DPoP $tok")
    [ -z "$proof" ] || headers+=(-H "DPoP: $proof")
    STATUS=$("${CURL[@]}" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        "${headers[@]}" "$base$path") || STATUS=000
}

# The value of response header NAME of the last request (empty if absent).
response_header() {
    grep -i "^$1:" "$WORK/headers" 2>/dev/null | head -n 1 | cut -d' ' -f2- | tr -d '\r'
}

# expect_dpop_error STATUS ERROR: the last response had STATUS, and its WWW-Authenticate
# puts `error="ERROR"` on the DPoP challenge (RFC 9449 section 7.1: the scheme the client
# used), with the algs we accept, and no error on the Bearer one.
expect_dpop_error() {
    local header dpop bearer
    expect "$1" || return 1
    header=$(www_authenticate)
    dpop=${header#*DPoP }
    bearer=${header%%DPoP *}
    if [[ $header != *"DPoP "* || $dpop != *'algs="'*ES256* || $dpop != *"error=\"$2\""* ]]; then
        echo "     WWW-Authenticate \"$header\": no DPoP challenge with algs and error=\"$2\""
        return 1
    fi
    if [[ $bearer == *error=* ]]; then
        echo "     WWW-Authenticate \"$header\": the Bearer challenge names an error"
        return 1
    fi
}

# The JWT's `cnf.jkt` is the RFC 7638 thumbprint of the public key in KEY (an EC JWK file).
expect_bound_to() {
    node -e '
        const crypto = require("crypto");
        const [token, file] = process.argv.slice(1);
        const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
        const { crv, kty, x, y } = JSON.parse(require("fs").readFileSync(file, "utf8"));
        const jkt = crypto.createHash("sha256")
            .update(JSON.stringify({ crv, kty, x, y })).digest("base64url");
        if (claims.cnf?.jkt !== jkt) {
            console.log(`     cnf ${JSON.stringify(claims.cnf)}, expected jkt ${jkt}`);
            process.exit(1);
        }
    ' "$1" "$2"
}

# Starts two replicas of NAME sharing $REDIS_URL as their DPoP replay store, both public at
# $PUBLIC (what clients sign in htu), with any further settings. Sets API/API_PID (the
# first) and API2/API2_PID.
start_replicas() {
    local name=$1 first first_pid
    shift
    start_api "$name" TOKENGATE_PUBLIC_URL="$PUBLIC" TOKENGATE_DPOP_REDIS_URL="$REDIS_URL" "$@" ||
        return 1
    first=$API first_pid=$API_PID
    API_PID=""
    API_LOG=$name-2 start_api "$name" TOKENGATE_PUBLIC_URL="$PUBLIC" \
        TOKENGATE_DPOP_REDIS_URL="$REDIS_URL" "$@" || {
        API_PID=$first_pid
        return 1
    }
    API2=$API API2_PID=$API_PID
    API=$first API_PID=$first_pid
}

stop_replicas() {
    stop "$API_PID"
    stop "$API2_PID"
    API_PID="" API2_PID=""
}

# The DPoP cases of one example, against the running provider: two replicas sharing Redis,
# then introspected (opaque) bound tokens, then server nonces.
run_dpop() {
    local name=$1 key=$WORK/dpop-key.json other=$WORK/dpop-other-key.json
    local bound other_bound unbound p q tries opaque nonce
    PUBLIC=$AUDIENCE # the API's public origin: https://api.interop.test
    node interop/dpop.mjs key "$key" && node interop/dpop.mjs key "$other" ||
        die "cannot make DPoP keys"
    stop "$API_PID"
    API_PID=""
    start_replicas "$name" || die "two replicas of $name sharing Redis did not start"

    bound=$(dpop_token "$key" read "$AUDIENCE") || die "no DPoP-bound token from the provider"
    check "DPoP: the provider binds its JWT to the client's key (token_type DPoP, cnf.jkt)" \
        expect_bound_to "$bound" "$key"
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound")"
    check "DPoP: GET /me with a bound JWT and its proof (htu $PUBLIC/me) is 200" expect 200
    check "DPoP: /me returns the verified claims" expect_claims read

    dpop_request "$API" /me "$bound" "$(proof "$key" POST "$PUBLIC/me" --token="$bound")"
    check "DPoP: a proof for another method (htm POST) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/admin" --token="$bound")"
    check "DPoP: a proof for another path (htu $PUBLIC/admin) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$API/me" --token="$bound")"
    check "DPoP: a proof for the listening address ($API/me), not the public URL, is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound" --clock-skew=-300)"
    check "DPoP: a proof from a clock 5 minutes behind (stale iat) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    other_bound=$(dpop_token "$key" read "$AUDIENCE") || die "no second DPoP-bound token"
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$other_bound")"
    check "DPoP: a proof for another access token (ath) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$bound" "$(proof "$other" GET "$PUBLIC/me" --token="$bound")"
    check "DPoP: a valid proof by another key than the token's cnf.jkt is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$bound"
    check "DPoP: a bound token without a proof is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof

    request /me "$bound"
    check "DPoP: the bound token presented as Bearer is 401 invalid_token" \
        expect 401 'Bearer error="invalid_token"'
    unbound=$(token read "$AUDIENCE") || die "no unbound token"
    dpop_request "$API" /me "$unbound" "$(proof "$key" GET "$PUBLIC/me" --token="$unbound")"
    check "DPoP: an unbound token presented as DPoP, with a proof, is 401 invalid_token" \
        expect 401 'error="invalid_token"'
    request /me "$unbound"
    check "DPoP: an unbound token as Bearer still works beside DPoP: /me 200" expect 200

    # Replays: one proof, once, on either replica.
    p=$(proof "$key" GET "$PUBLIC/me" --token="$bound")
    dpop_request "$API" /me "$bound" "$p"
    check "DPoP: a fresh proof is 200 on replica 1" expect 200
    dpop_request "$API" /me "$bound" "$p"
    check "DPoP: the same proof again (replayed jti) on replica 1 is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API2" /me "$bound" "$p"
    check "DPoP: the same proof replayed on replica 2 (sharing Redis) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    q=$(proof "$key" GET "$PUBLIC/me" --token="$bound")
    dpop_request "$API2" /me "$bound" "$q"
    check "DPoP: a fresh proof is 200 on replica 2" expect 200
    dpop_request "$API" /me "$bound" "$q"
    check "DPoP: that proof replayed on replica 1 is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof

    # Redis down: refused (503), never accepted unchecked; back on the same port: accepted,
    # without restarting the API.
    stop "$REDIS_PID"
    REDIS_PID=""
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound")"
    check "DPoP: with Redis down a valid proof is 503, not accepted unchecked" expect 503
    start_redis "$REDIS_PORT" || die "redis-server did not restart on port $REDIS_PORT"
    for tries in $(seq 40); do
        dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound")"
        [ "$STATUS" != 200 ] || break
        sleep 0.25
    done
    [ "$tries" = 1 ] || echo "     (HTTP $STATUS after $tries tries)"
    check "DPoP: once Redis is back, a valid proof is 200 again (the API was not restarted)" \
        expect 200
    stop_replicas

    # Opaque bound tokens: cnf.jkt from the introspection answer (RFC 7662, RFC 9449 6.2).
    PUBLIC=$OPAQUE_AUDIENCE
    start_replicas "$name" TOKENGATE_AUDIENCE="$OPAQUE_AUDIENCE" TOKENGATE_CLIENT_ID="$CLIENT_ID" \
        TOKENGATE_CLIENT_SECRET="$CLIENT_SECRET" ||
        die "two introspecting replicas of $name did not start"
    opaque=$(dpop_token "$key" read "$OPAQUE_AUDIENCE") || die "no DPoP-bound opaque token"
    check "DPoP: the provider issues a bound opaque token for $OPAQUE_AUDIENCE" \
        expect_opaque "$opaque"
    p=$(proof "$key" GET "$PUBLIC/me" --token="$opaque")
    dpop_request "$API" /me "$opaque" "$p"
    check "DPoP, introspecting: GET /me with a bound opaque token and its proof is 200" expect 200
    check "DPoP, introspecting: /me returns the introspected claims" \
        expect_introspected_claims read
    dpop_request "$API2" /me "$opaque" "$p"
    check "DPoP, introspecting: its proof replayed on replica 2 is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$opaque" "$(proof "$other" GET "$PUBLIC/me" --token="$opaque")"
    check "DPoP, introspecting: a proof by another key than the answer's cnf.jkt is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    dpop_request "$API" /me "$opaque" "$(proof "$key" GET "$PUBLIC/me" --token="$other_bound")"
    check "DPoP, introspecting: a proof for another access token (ath) is 401 invalid_dpop_proof" \
        expect_dpop_error 401 invalid_dpop_proof
    request /me "$opaque"
    check "DPoP, introspecting: the bound opaque token presented as Bearer is 401 invalid_token" \
        expect 401 'Bearer error="invalid_token"'
    stop_replicas

    # Server nonces (RFC 9449 section 9): refused with a nonce to use, then accepted with it.
    PUBLIC=$AUDIENCE
    start_api "$name" TOKENGATE_PUBLIC_URL="$PUBLIC" TOKENGATE_DPOP_NONCE=1 ||
        die "$name did not start with TOKENGATE_DPOP_NONCE=1"
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound")"
    check "DPoP nonce: a proof without a nonce is 401 use_dpop_nonce" \
        expect_dpop_error 401 use_dpop_nonce
    nonce=$(response_header dpop-nonce)
    check "DPoP nonce: that refusal carries a DPoP-Nonce header" test -n "$nonce"
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound" --nonce="$nonce")"
    check "DPoP nonce: the client's retry with that nonce is 200" expect 200
    check "DPoP nonce: the 200 hands out the current nonce (DPoP-Nonce)" \
        test -n "$(response_header dpop-nonce)"
    dpop_request "$API" /me "$bound" "$(proof "$key" GET "$PUBLIC/me" --token="$bound" --nonce="$(made_up_token)")"
    check "DPoP nonce: a made-up nonce is 401 use_dpop_nonce" expect_dpop_error 401 use_dpop_nonce
}

command -v node >/dev/null || die "node is not installed"
command -v curl >/dev/null || die "curl is not installed"
command -v redis-server >/dev/null ||
    die "redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)"
if [ ! -d interop/node_modules/oidc-provider ]; then
    (cd interop && timeout 600 npm ci --no-audit --no-fund) || die "npm ci failed"
fi
# --workspace: the same feature set as `cargo test --workspace`, so after the test suite this
# reuses its build instead of compiling a second copy of tokengate, axum and reqwest.
timeout 1800 cargo build --workspace --examples || die "cargo build --workspace --examples failed"

# One Redis for the whole run: the DPoP replicas' shared replay store.
start_redis || die "redis-server did not start"

for name in "${EXAMPLES[@]}"; do
    echo "# $name against oidc-provider $(json_get interop/node_modules/oidc-provider/package.json version)"
    run_example "$name"
done

summary
[ "$failed" = 0 ]
