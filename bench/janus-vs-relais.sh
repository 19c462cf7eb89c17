#!/usr/bin/env bash
# Relais against Janus 1.1.2 (`videocall` plugin), side by side, with the same synthetic calls
# (relais-loadgen), the same media and the same measurements.
#
#   bench/janus-vs-relais.sh                    # 1, 4 and 8 calls, 10 s of media each
#   bench/janus-vs-relais.sh --calls "2 16" --seconds 5
#   bench/janus-vs-relais.sh --sweep            # raise N until loss > 0.5 %, per server
#
# Options: --calls "N ...", --seconds S, --ramp R (calls/s), --sweep, --sweep-steps "N ...",
#          --loss-limit PCT, --out DIR (default bench/results/<date>), --no-build,
#          --no-pin (let the servers and the load generator share every core),
#          --shards N (Relais's media shards; default: its own default, one per core it may use).
#
# By default each server is pinned to the last core and the load generator to the others
# (taskset), so a server is measured on one core of its own, as "calls per core" means, and
# the load generator cannot starve it.
#
# Needs root (a network namespace) and `janus` (apt-get install --no-install-recommends janus).
# Janus never offers loopback ICE candidates, so the script makes two network namespaces joined
# by a veth pair in 198.18.0.0/15: the servers on 198.18.0.1 in one, the synthetic browsers on
# 198.18.0.2 in the other. Each server runs alone while it is measured.
# Writes per-run JSON, a summary (summary.txt, results.json) and plot.svg (CPU and delay
# against N) to the output directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-/var/tmp/relais-target}"

calls="1 4 8"
seconds=10
ramp=10
sweep=0
sweep_steps="4 8 12 16 24 32 48 64 96 128"
loss_limit=0.5
out=""
build=1
pin=1
shards=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --calls) calls="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --ramp) ramp="$2"; shift 2 ;;
        --sweep) sweep=1; shift ;;
        --sweep-steps) sweep_steps="$2"; shift 2 ;;
        --loss-limit) loss_limit="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-pin) pin=0; shift ;;
        --shards) shards="$2"; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
out="${out:-$root/bench/results/$(date +%Y-%m-%d-%H%M%S)}"

server_ip=198.18.0.1
client_ip=198.18.0.2
relais_port=18090
janus_port=8088
secret="bench-secret-0123456789abcdef0123"

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
command -v janus >/dev/null || { echo "janus is not installed (apt-get install -y --no-install-recommends janus)" >&2; exit 1; }
if [[ $build -eq 1 ]]; then
    (cd "$root" && CARGO_TARGET_DIR="$target_dir" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" \
        cargo build --release -p relais -p relais-loadgen)
fi
relais_bin="$target_dir/release/relais"
loadgen_bin="$target_dir/release/relais-loadgen"
mkdir -p "$out"

# Two namespaces joined by a veth pair: the servers in one, the synthetic browsers in the
# other, so every packet crosses a link as it would between machines. (With both ends in one
# namespace, Janus's sockets, pinned to their interface with IP_UNICAST_IF, send to an address
# the kernel will not resolve on that link, and ICE never completes.)
srv_ns="relais-bench-srv-$$"
cli_ns="relais-bench-cli-$$"
pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
cleanup() {
    stop_all
    $sudo ip netns del "$srv_ns" 2>/dev/null || true
    $sudo ip netns del "$cli_ns" 2>/dev/null || true
}
trap cleanup EXIT
$sudo ip netns add "$srv_ns"
$sudo ip netns add "$cli_ns"
$sudo ip netns exec "$srv_ns" ip link set lo up
$sudo ip netns exec "$cli_ns" ip link set lo up
$sudo ip netns exec "$srv_ns" ip link add rb0 type veth peer name rb1 netns "$cli_ns"
$sudo ip netns exec "$srv_ns" ip addr add "$server_ip/24" dev rb0
$sudo ip netns exec "$cli_ns" ip addr add "$client_ip/24" dev rb1
$sudo ip netns exec "$srv_ns" ip link set rb0 up
$sudo ip netns exec "$cli_ns" ip link set rb1 up
$sudo ip netns exec "$srv_ns" ip route add default dev rb0
$sudo ip netns exec "$cli_ns" ip route add default dev rb1
in_srv=($sudo ip netns exec "$srv_ns")
in_cli=($sudo ip netns exec "$cli_ns")
cores="$(nproc)"
if [[ $pin -eq 1 && $cores -ge 2 ]]; then
    server_core=$((cores - 1))
    in_srv+=(taskset -c "$server_core")
    in_cli+=(taskset -c "0-$((server_core - 1))")
    placement="servers pinned to core $server_core, load generator to cores 0-$((server_core - 1))"
else
    placement="servers and load generator share all $cores cores"
fi

wait_http() { # url
    for _ in $(seq 1 100); do
        # Any HTTP answer (even 404) means the server is up.
        if "${in_cli[@]}" python3 -c "
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

# Janus: its own configuration, only the videocall plugin and the HTTP transport.
janus_dir="$out/janus"
mkdir -p "$janus_dir/conf" "$janus_dir/plugins" "$janus_dir/transports" "$janus_dir/events" "$janus_dir/loggers"
janus_lib="$(dirname "$(dpkg -L janus 2>/dev/null | grep '/plugins/libjanus_videocall.so$' | head -1)")"
janus_lib="${janus_lib%/plugins}"
[[ -n "$janus_lib" ]] || janus_lib=/usr/lib/x86_64-linux-gnu/janus
ln -sf "$janus_lib/plugins/libjanus_videocall.so" "$janus_dir/plugins/"
ln -sf "$janus_lib/transports/libjanus_http.so" "$janus_dir/transports/"
cat >"$janus_dir/conf/janus.jcfg" <<EOF
general: {
	configs_folder = "$janus_dir/conf"
	plugins_folder = "$janus_dir/plugins"
	transports_folder = "$janus_dir/transports"
	events_folder = "$janus_dir/events"
	loggers_folder = "$janus_dir/loggers"
	debug_level = 4
	session_timeout = 60
	server_name = "relais-bench"
}
certificates: {
}
media: {
	rtp_port_range = "20000-29999"
}
nat: {
	nice_debug = false
	ice_enforce_list = "$server_ip"
	ignore_mdns = true
	full_trickle = false
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
	broadcast = false
}
EOF
cat >"$janus_dir/conf/janus.transport.http.jcfg" <<EOF
general: {
	json = "compact"
	base_path = "/janus"
	http = true
	port = $janus_port
	ip = "$server_ip"
	https = false
}
admin: {
	admin_http = false
	admin_https = false
}
cors: {
}
EOF
cat >"$janus_dir/conf/janus.plugin.videocall.jcfg" <<EOF
general: {
	events = false
}
EOF

# Relais: one media shard, as in docs/benchmarks.md.
relais_dir="$out/relais"
mkdir -p "$relais_dir"
cat >"$relais_dir/relais.toml" <<EOF
data_dir = "$relais_dir/data"
[http]
listen = "$server_ip:$relais_port"
[auth]
secret = "$secret"
development = false
[media]
$([[ -n "$shards" ]] && echo "shards = $shards" || echo "# shards: the default, one per core the process may use (one when pinned).")
bind = "$server_ip"
port = 40000
[[services]]
id = "caf"
name = "CAF"
wrap_up_secs = 1
[[services.skills]]
skill = "caf"
EOF

start_janus() {
    "${in_srv[@]}" janus -F "$janus_dir/conf" -L "$janus_dir/janus.log" >"$janus_dir/stdout.log" 2>&1 &
    janus_pid=$!
    pids+=("$janus_pid")
    wait_http "http://$server_ip:$janus_port/janus/info"
    # A config file that fails to parse makes Janus start on defaults with every plugin.
    if grep -qiE "error.*(pars|config)|couldn't|can't parse" "$janus_dir/janus.log"; then
        echo "Janus reported a configuration problem:" >&2
        grep -iE "error.*(pars|config)|couldn't|can't parse" "$janus_dir/janus.log" >&2
        exit 1
    fi
    local info
    info="$("${in_cli[@]}" python3 -c "import json,sys,urllib.request; d=json.load(urllib.request.urlopen(sys.argv[1])); print(','.join(sorted(d['plugins'])), ','.join(sorted(d['transports'])), sep=' ')" "http://$server_ip:$janus_port/janus/info")"
    if [[ "$info" != "janus.plugin.videocall janus.transport.http" ]]; then
        echo "Janus loaded more than it should: $info" >&2
        exit 1
    fi
}
start_relais() {
    (cd "$relais_dir" && exec "${in_srv[@]}" "$relais_bin" serve --config "$relais_dir/relais.toml") >"$relais_dir/relais.log" 2>&1 &
    relais_pid=$!
    pids+=("$relais_pid")
    wait_http "http://$server_ip:$relais_port/"
}

run_one() { # server calls -> prints json path
    local server="$1" n="$2" json="$out/$1-$2.json" log="$out/$1-$2.log"
    if [[ "$server" == direct ]]; then
        "${in_cli[@]}" "$loadgen_bin" --target direct --calls "$n" --seconds "$seconds" \
            --bind "$client_ip" --json "$json" >"$log" 2>&1 || true
    elif [[ "$server" == relais ]]; then
        "${in_cli[@]}" "$loadgen_bin" --target relais --server "http://$server_ip:$relais_port" --secret "$secret" \
            --calls "$n" --ramp "$ramp" --seconds "$seconds" --bind "$client_ip" \
            --server-pid "$relais_pid" --json "$json" >"$log" 2>&1 || true
    else
        "${in_cli[@]}" "$loadgen_bin" --target janus --janus-url "http://$server_ip:$janus_port/janus" \
            --calls "$n" --ramp "$ramp" --seconds "$seconds" --bind "$client_ip" \
            --server-pid "$janus_pid" --json "$json" >"$log" 2>&1 || true
    fi
    if [[ ! -s "$json" ]]; then
        echo "{\"calls_requested\": $n, \"calls_established\": 0, \"failed\": true}" >"$json"
        echo "  $server $n calls: run failed, see $log" >&2
    fi
}

# Whether a run carried its load: every call up, loss within the limit, and the load generator
# able to offer what was asked (else it, not the server, was the bottleneck).
carried() { # json -> exit 0 when carried; prints a one-line verdict
    python3 - "$1" "$loss_limit" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
limit = float(sys.argv[2])
up = d.get("calls_established", 0) >= d["calls_requested"]
loss = d.get("loss_percent", 100.0)
offered = d.get("offered_percent", 0.0)
print(f"  calls up {d.get('calls_established', 0)}/{d['calls_requested']}, loss {loss:.3f} %, offered {offered:.1f} %")
sys.exit(0 if up and loss <= limit and offered >= 95.0 else 1)
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "janus: $(janus --version 2>/dev/null | head -1); results in $out"
echo "placement: $placement; Relais media shards: ${shards:-default}" | tee "$out/placement.txt"

# The clients alone first (each kiosk peer straight to its agent peer): the delay their own
# stacks add, a baseline for both servers' rows.
for n in $calls; do
    echo "direct (no server): $n calls, ${seconds} s of media"
    run_one direct "$n"
done

# The runs of one server: each N of --calls, then (with --sweep) the sweep steps until a run
# does not carry its load.
measure_server() { # server
    local server="$1" n
    for n in $calls; do
        echo "$server: $n calls, ${seconds} s of media"
        run_one "$server" "$n"
    done
    if [[ $sweep -eq 1 ]]; then
        for n in $sweep_steps; do
            echo "$server sweep: $n calls"
            run_one "$server" "$n"
            carried "$out/$server-$n.json" || break
        done
    fi
}

# Each server alone while measured: Relais first, then Janus.
start_relais
measure_server relais
stop_all

start_janus
measure_server janus
if grep -qiE "error.*(pars|config)" "$janus_dir/janus.log"; then
    echo "warning: Janus log mentions a configuration error" >&2
fi
stop_all

python3 "$here/summarise.py" "$out" --loss-limit "$loss_limit" | tee "$out/summary.txt"
python3 "$here/plot.py" "$out" "$out/plot.svg" && echo "plot: $out/plot.svg"
