#!/usr/bin/env bash
# bench/compare.sh: zk-node against Apache ZooKeeper 3.8 on this machine, in one run, with the
# same configuration file (zoo.cfg, forceSync=yes) for both. Workloads alternate A B A B so that
# drift of the machine cancels out; the table at the end gives zk-node / Apache per measure.
# See bench/README-section.md for what each row means.
#
# Every server is started here by PID and killed by PID when the script exits (trap EXIT).
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: bench/compare.sh [--quick] [--rounds N] [--duration SECONDS] [--znodes N] [--out DIR]
                        [--no-build] [--keep]

Builds release binaries of zk-node and zksh, starts Apache ZooKeeper 3.8 (Debian package, the
JVM directly) and zk-node on free loopback ports with the same zoo.cfg (forceSync=yes), and
compares them with `zksh bench`:
  - throughput of create, set and get with 1 KiB values, enough sessions to saturate
  - set p99 latency at a fixed rate: RATE_FRACTION (0.8) of Apache's saturated set throughput
  - watch notification p99 latency
  - resident memory per znode after loading N znodes of 100 bytes (and after a restart)
  - time from process start to serving (empty, standalone; median of 5)
  - time to recover the N znodes from disk after kill -9
A 3-node ensemble of each runs too, with a leader-kill measurement.

Options:
  --quick          small numbers for a smoke run (2 s per measurement, 20000 znodes, 2 rounds)
  --rounds N       rounds of A B per measurement (default 3; --quick 2)
  --duration S     seconds per measurement (default 10; --quick 2)
  --znodes N       znodes for the memory and recovery measurements (default 1000000)
  --out DIR        keep results here (default: a new directory under /var/tmp)
  --no-build       use the binaries already built (ZK_NODE, ZKSH or the release target dir)
  --keep           leave the servers' data directories and logs behind

Environment: CARGO_TARGET_DIR, ZK_NODE, ZKSH (binaries), APACHE_JVM_OPTS (default -Xmx2g),
BENCH_CLIENTS (16) and BENCH_INFLIGHT (16) for the saturating workloads, RATE_FRACTION (0.8).
Needs: java and the zookeeper package (apt-get install -y zookeeper zookeeper-bin), python3,
cargo.
EOF
}

QUICK=0 ROUNDS="" DURATION="" ZNODES="" OUT="" BUILD=1 KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--rounds) ROUNDS=$2 && shift ;;
	--duration) DURATION=$2 && shift ;;
	--znodes) ZNODES=$2 && shift ;;
	--out) OUT=$2 && shift ;;
	--no-build) BUILD=0 ;;
	--keep) KEEP=1 ;;
	-h | --help) usage && exit 0 ;;
	*) echo "compare.sh: unknown argument $1" >&2 && usage >&2 && exit 2 ;;
	esac
	shift
done
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-2} DURATION=${DURATION:-2} ZNODES=${ZNODES:-20000} STARTS=3 WARMUP=2
else
	ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} ZNODES=${ZNODES:-1000000} STARTS=5 WARMUP=10
fi
CLIENTS=${BENCH_CLIENTS:-16}
INFLIGHT=${BENCH_INFLIGHT:-16}
RATE_FRACTION=${RATE_FRACTION:-0.8}
APACHE_JVM_OPTS=${APACHE_JVM_OPTS:--Xmx2g}
ZK_JAR=/usr/share/java/zookeeper.jar
ZK_CLASSPATH=$ZK_JAR:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
# How long a server may take to serve: a JVM loading a million znodes on a busy machine.
SERVE_TIMEOUT_S=600

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY="python3 $ROOT/bench/compare.py"

say() { printf '%s\n' "$*" >&2; }
die() { say "compare.sh: $*" && exit 1; }

# ---- prerequisites and binaries ----------------------------------------------------------

command -v java >/dev/null || die "java not found (apt-get install -y zookeeper zookeeper-bin)"
[ -f "$ZK_JAR" ] || die "$ZK_JAR not found (apt-get install -y zookeeper zookeeper-bin)"
command -v python3 >/dev/null || die "python3 not found"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$BUILD" = 1 ]; then
	say "== building release binaries (cargo build --release -p zk-node -p zk-shell)"
	(cd "$ROOT" && cargo build --release -p zk-node --bin zk-node -p zk-shell --bin zksh)
fi
ZK_NODE=${ZK_NODE:-$TARGET_DIR/release/zk-node}
ZKSH=${ZKSH:-$TARGET_DIR/release/zksh}
[ -x "$ZK_NODE" ] || die "$ZK_NODE not found (build it, or set ZK_NODE)"
[ -x "$ZKSH" ] || die "$ZKSH not found (build it, or set ZKSH)"

# /var/tmp rather than /tmp: /tmp is often a tmpfs, where fsync costs nothing.
WORK=${OUT:-$(mktemp -d /var/tmp/zkfleet-compare.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# Saturating writes fill a disk fast: every server keeps its logs and snapshots (each snapshot
# holds the whole tree) until they are purged after each measurement (purge_all).
free_gb=$(df -Pk "$WORK" | awk 'NR == 2 { printf "%d", $4 / 1048576 }')
if [ "${free_gb:-0}" -lt 20 ]; then
	echo "compare.sh: only ${free_gb} GB free under $WORK; a full run may need 20 GB or more (use --out on a bigger disk)" >&2
fi
RESULTS=$WORK/results.jsonl
MACHINE=$WORK/machine.json
: >"$RESULTS"
TOPO=standalone

# ---- processes -----------------------------------------------------------------------------

declare -A PID_OF PORT_OF DIR_OF KIND_OF T0_OF
SERVERS=()
# The servers a measurement of each kind goes to (names), for their CPU time.
declare -A MEASURED
CLK_TCK=$(getconf CLK_TCK)

cleanup() {
	local name
	for name in "${SERVERS[@]}"; do
		[ -n "${PID_OF[$name]:-}" ] && kill -9 "${PID_OF[$name]}" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ "$KEEP" = 0 ]; then
		rm -rf "$WORK"/servers
	fi
	say "results: $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A descriptor that never has data: `read -t` on it is a sleep without a fork.
exec {NAP}<> <(:)
nap() { read -r -t "$1" -u "$NAP" || true; }

# A port nobody listens on (nothing answers a connect to it).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# four PORT WORD [TIMEOUT]: the answer to a four-letter word in $FOUR (empty when nothing
# answers within TIMEOUT seconds, default 5). No fork, so that polling for a server that is
# starting costs nothing.
FOUR=""
four() {
	local fd line
	FOUR=""
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
	printf '%s' "$2" >&"$fd"
	while IFS= read -r -t "${3:-5}" line <&"$fd"; do FOUR+="$line"$'\n'; done
	FOUR+="$line"
	exec {fd}>&-
}

mode_of() { four "${PORT_OF[$1]}" srvr && printf '%s\n' "$FOUR" | sed -n 's/^Mode: //p'; }
node_count() { four "${PORT_OF[$1]}" srvr && printf '%s\n' "$FOUR" | sed -n 's/^Node count: //p'; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/${PID_OF[$1]}/status"; }

# zoo.cfg for both servers. $4: extra lines (an ensemble's server.N lines).
write_zoo_cfg() {
	local dir=$1 port=$2 id=$3 extra=${4:-}
	mkdir -p "$dir/data"
	cat >"$dir/zoo.cfg" <<-EOF
		tickTime=2000
		dataDir=$dir/data
		clientPort=$port
		clientPortAddress=127.0.0.1
		maxClientCnxns=0
		forceSync=yes
		4lw.commands.whitelist=*
		admin.enableServer=false
	EOF
	if [ -n "$extra" ]; then
		printf 'initLimit=10\nsyncLimit=5\n%s\n' "$extra" >>"$dir/zoo.cfg"
		echo "$id" >"$dir/data/myid"
	fi
	cat >"$dir/log4j.properties" <<-EOF
		log4j.rootLogger=INFO, F
		log4j.appender.F=org.apache.log4j.FileAppender
		log4j.appender.F.File=$dir/zookeeper.log
		log4j.appender.F.layout=org.apache.log4j.PatternLayout
		log4j.appender.F.layout.ConversionPattern=%d %p [%t] %c{1}: %m%n
	EOF
}

# spawn NAME: starts the server whose directory and zoo.cfg exist; notes the start time.
spawn() {
	local name=$1 dir=${DIR_OF[$1]}
	T0_OF[$name]=$EPOCHREALTIME
	case ${KIND_OF[$name]} in
	apache)
		# shellcheck disable=SC2086
		java $APACHE_JVM_OPTS -Djava.net.preferIPv4Stack=true \
			-Dlog4j.configuration="file:$dir/log4j.properties" -Dzookeeper.log.dir="$dir" \
			-cp "$ZK_CLASSPATH" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
			</dev/null >>"$dir/server.out" 2>&1 &
		;;
	zk-node)
		RUST_LOG=${RUST_LOG:-info} "$ZK_NODE" run --zoo-cfg "$dir/zoo.cfg" \
			</dev/null >>"$dir/server.out" 2>&1 &
		;;
	esac
	PID_OF[$name]=$!
}

# new_server KIND NAME [ID EXTRA]: a fresh directory and config, started.
new_server() {
	local kind=$1 name=$2 id=${3:-1} extra=${4:-} port=${5:-}
	[ -n "$port" ] || port=$(free_port)
	DIR_OF[$name]=$WORK/servers/$name
	rm -rf "${DIR_OF[$name]}"
	PORT_OF[$name]=$port
	KIND_OF[$name]=$kind
	SERVERS+=("$name")
	write_zoo_cfg "${DIR_OF[$name]}" "$port" "$id" "$extra"
	spawn "$name"
}

kill_server() {
	local name=$1 pid=${PID_OF[$1]:-}
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	PID_OF[$name]=""
}

# wait_serving NAME: until srvr shows a Mode; prints the milliseconds since spawn.
wait_serving() {
	local name=$1 t0=${T0_OF[$1]} port=${PORT_OF[$1]} deadline
	deadline=$((${EPOCHSECONDS} + SERVE_TIMEOUT_S))
	while :; do
		# A JVM that is starting can accept a connection and never answer on it: ask again.
		four "$port" srvr 0.25
		case $FOUR in *"Mode: "*) break ;; esac
		if ! kill -0 "${PID_OF[$name]}" 2>/dev/null; then
			tail -30 "${DIR_OF[$name]}/server.out" "${DIR_OF[$name]}/zookeeper.log" 2>/dev/null >&2
			die "$name exited before serving (logs in ${DIR_OF[$name]})"
		fi
		[ "$EPOCHSECONDS" -lt "$deadline" ] || die "$name did not serve within ${SERVE_TIMEOUT_S}s"
		nap 0.002
	done
	local t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

connect_of() {
	local name hosts=""
	for name in "$@"; do hosts+="${hosts:+,}127.0.0.1:${PORT_OF[$name]}"; done
	echo "$hosts"
}

record_value() { # server measure round value
	echo "{\"topology\":\"$TOPO\",\"server\":\"$1\",\"measure\":\"$2\",\"round\":$3,\"value\":$4}" >>"$RESULTS"
}

# CPU ticks (user + system) used so far by the servers MEASURED[KIND].
server_ticks() {
	local name total=0 stat
	for name in ${MEASURED[$1]:-}; do
		read -r -a stat <"/proc/${PID_OF[$name]}/stat"
		# Fields 14 and 15 (utime, stime); the command name in field 2 has no spaces here.
		total=$((total + stat[13] + stat[14]))
	done
	echo "$total"
}

# CPU ticks of this shell's waited-for children (zksh bench runs among them).
child_ticks() {
	local stat
	read -r -a stat </proc/$$/stat
	echo $((stat[15] + stat[16]))
}

# bench SERVER-KIND MEASURE ROUND CONNECT ARGS...: one `zksh bench --json`, recorded with the
# CPU time the servers and zksh used meanwhile.
bench() {
	local kind=$1 measure=$2 round=$3 connect=$4 json rc=0 s0 s1 c0 c1
	shift 4
	s0=$(server_ticks "$kind")
	c0=$(child_ticks)
	json=$("$ZKSH" bench "$@" -s "$connect" --json) || rc=$?
	s1=$(server_ticks "$kind")
	c1=$(child_ticks)
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		die "zksh bench $* against $kind failed (exit $rc)"
	fi
	local cpu
	cpu=$(awk -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v t="$CLK_TCK" 'BEGIN { printf "\"server_cpu_s\":%.2f,\"client_cpu_s\":%.2f", s / t, c / t }')
	echo "{\"topology\":\"$TOPO\",\"server\":\"$kind\",\"measure\":\"$measure\",\"round\":$round,$cpu,\"report\":$json}" >>"$RESULTS"
	printf '  %-8s %-12s round %s  %s\n' "$kind" "$measure" "$round" "$(printf '%s' "$json" | $PY brief)" >&2
	purge_all
}

# purge_all: keep the 3 newest snapshots (and the logs they need) of every running server,
# as zkCleanup.sh would (the format is the same for both servers), so that a long run does
# not fill the disk. Between measurements, never during one.
purge_all() {
	local name
	for name in "${SERVERS[@]}"; do
		[ -n "${PID_OF[$name]:-}" ] || continue
		"$ZK_NODE" purge --data-dir "${DIR_OF[$name]}/data" -n 3 >/dev/null 2>&1 || true
	done
}

# ---- the machine -----------------------------------------------------------------------------

describe_machine() {
	local dev fs rot="?" fsync
	read -r dev fs < <(df -PT "$WORK" | awk 'NR==2 {print $1, $2}')
	local base
	base=$(basename "$dev" | sed 's/[0-9]*$//')
	[ -r "/sys/block/$base/queue/rotational" ] && rot=$(cat "/sys/block/$base/queue/rotational")
	[ "$fs" = tmpfs ] && say "WARNING: $WORK is on tmpfs: fsync costs nothing there; use --out DIR on a disk"
	say "== probing fsync latency in $WORK"
	fsync=$($PY fsync-probe "$WORK" 200)
	$PY machine "$MACHINE" \
		cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
		cores="$(nproc) (nproc)" \
		memory="$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
		disk="$fs on $dev (rotational: $rot), $WORK" \
		fsync_json="$fsync" \
		kernel="$(uname -sr)" \
		load="load average $(cut -d' ' -f1-3 /proc/loadavg) at the start" \
		apache="$(dpkg-query -W -f '${Version}' zookeeper 2>/dev/null || echo '?'), $(java -version 2>&1 | head -1), $APACHE_JVM_OPTS" \
		zk_node="$("$ZK_NODE" --version) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))" \
		settings="rounds $ROUNDS, ${DURATION}s per measurement, $CLIENTS sessions x $INFLIGHT in flight" \
		rounds="$ROUNDS" znodes_label="$ZNODES"
	$PY show-machine "$MACHINE" >&2
}

# ---- measurements ----------------------------------------------------------------------------

# Start to serving, empty data directory: STARTS times each, alternating.
measure_starts() {
	say "== start to serving, empty, $STARTS times each"
	local i kind name ms
	for i in $(seq 1 "$STARTS"); do
		for kind in apache zk-node; do
			name=start-$kind-$i
			new_server "$kind" "$name"
			ms=$(wait_serving "$name")
			kill_server "$name"
			rm -rf "${DIR_OF[$name]}"
			record_value "$kind" start_ms "$i" "$ms"
			say "  $kind start $i: $ms ms"
		done
	done
}

# The workloads, A B A B, against CONNECT-A and CONNECT-B.
measure_workloads() {
	local ca=$1 cb=$2 round measure rate
	local sat=(--clients "$CLIENTS" --inflight "$INFLIGHT" --value-size 1024 --keys 10000)
	local d=(--duration "${DURATION}s")
	say "== warm-up (JIT, caches): mixed for ${WARMUP}s on each"
	"$ZKSH" bench mixed -s "$ca" --duration "${WARMUP}s" "${sat[@]}" --read-ratio 0.5 >/dev/null || true
	"$ZKSH" bench mixed -s "$cb" --duration "${WARMUP}s" "${sat[@]}" --read-ratio 0.5 >/dev/null || true
	for measure in create set get; do
		say "== $measure throughput, 1 KiB, $CLIENTS sessions x $INFLIGHT in flight"
		for round in $(seq 1 "$ROUNDS"); do
			bench apache "$measure" "$round" "$ca" "$measure" "${sat[@]}" "${d[@]}"
			bench zk-node "$measure" "$round" "$cb" "$measure" "${sat[@]}" "${d[@]}"
		done
	done
	rate=$($PY value "$RESULTS" apache set throughput "$TOPO")
	rate=$(awk -v r="$rate" -v f="$RATE_FRACTION" 'BEGIN { printf "%.0f", r * f }')
	$PY machine-set "$MACHINE" "rate_label_$TOPO=${rate}/s (${RATE_FRACTION} x Apache set max)"
	say "== set latency at $rate ops/s ($RATE_FRACTION of Apache's saturated set throughput)"
	for round in $(seq 1 "$ROUNDS"); do
		bench apache set_at_rate "$round" "$ca" set "${sat[@]}" "${d[@]}" --rate "$rate"
		bench zk-node set_at_rate "$round" "$cb" set "${sat[@]}" "${d[@]}" --rate "$rate"
	done
	say "== watch notification latency, $CLIENTS watchers"
	for round in $(seq 1 "$ROUNDS"); do
		bench apache watch "$round" "$ca" watch --clients "$CLIENTS" --value-size 1024 "${d[@]}"
		bench zk-node watch "$round" "$cb" watch --clients "$CLIENTS" --value-size 1024 "${d[@]}"
	done
}

measure_standalone_workloads() {
	new_server apache wl-apache
	new_server zk-node wl-zk-node
	wait_serving wl-apache >/dev/null
	wait_serving wl-zk-node >/dev/null
	MEASURED[apache]=wl-apache
	MEASURED[zk-node]=wl-zk-node
	measure_workloads "$(connect_of wl-apache)" "$(connect_of wl-zk-node)"
	kill_server wl-apache
	kill_server wl-zk-node
	rm -rf "$WORK/servers"
}

# Memory per znode after loading ZNODES of 100 bytes, then kill -9 and recovery, alternating.
measure_memory_and_recovery() {
	say "== memory: load $ZNODES znodes of 100 bytes into each"
	local kind name rss0 rss1 ms count round
	declare -A base
	for kind in apache zk-node; do
		name=mem-$kind
		new_server "$kind" "$name"
		wait_serving "$name" >/dev/null
		MEASURED[$kind]=$name
		nap 2
		rss0=$(rss_kb "$name")
		base[$kind]=$rss0
		bench "$kind" load 1 "$(connect_of "$name")" create --ops "$ZNODES" --value-size 100 \
			--clients 8 --inflight 64 --prefix /load --keep
		nap 2
		rss1=$(rss_kb "$name")
		count=$(node_count "$name")
		say "  $kind: RSS $rss0 kB empty, $rss1 kB with $count nodes"
		record_value "$kind" rss_per_znode_load 1 "$(awk -v a="$rss0" -v b="$rss1" -v n="$ZNODES" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')"
		record_value "$kind" rss_empty_kb 1 "$rss0"
	done
	say "== recovery: kill -9, restart, time to serving with $ZNODES znodes"
	for round in $(seq 1 "$ROUNDS"); do
		for kind in apache zk-node; do
			name=mem-$kind
			kill_server "$name"
			spawn "$name"
			ms=$(wait_serving "$name")
			count=$(node_count "$name")
			[ "${count:-0}" -ge "$ZNODES" ] || die "$kind recovered only ${count:-?} nodes"
			record_value "$kind" recover_ms "$round" "$ms"
			say "  $kind recovery $round: $ms ms, $count nodes"
		done
	done
	for kind in apache zk-node; do
		name=mem-$kind
		nap 2
		rss1=$(rss_kb "$name")
		record_value "$kind" rss_per_znode_restart 1 "$(awk -v a="${base[$kind]}" -v b="$rss1" -v n="$ZNODES" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')"
		kill_server "$name"
	done
	rm -rf "$WORK/servers"
}

# True when zk-node serves as a 3-node ensemble: `zk-node dev --nodes 3` prints a connect
# string of three servers.
zk_node_has_ensembles() {
	local log=$WORK/ensemble-probe.log pid hosts="" i
	mkdir -p "$WORK/servers"
	"$ZK_NODE" dev --nodes 3 --data "$WORK/servers/probe" </dev/null >"$log" 2>&1 &
	pid=$!
	for i in $(seq 1 300); do
		hosts=$(sed -n 's/^connect string: //p' "$log")
		[ -n "$hosts" ] && break
		kill -0 "$pid" 2>/dev/null || break
		nap 0.1
	done
	# SIGINT: `dev` shuts its servers down; SIGKILL if it does not within 10 s.
	kill -INT "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null && nap 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -rf "$WORK/servers/probe"
	[ "$(echo "$hosts" | tr ',' '\n' | grep -c .)" -ge 3 ]
}

# A 3-node ensemble of KIND named PREFIX-1..3, with the same zoo.cfg lines for both kinds.
new_ensemble() {
	local kind=$1 prefix=$2 i lines="" ports=()
	for i in 1 2 3; do
		ports+=("$(free_port)")
		lines+="server.$i=127.0.0.1:$(free_port):$(free_port)"$'\n'
	done
	for i in 1 2 3; do
		new_server "$kind" "$prefix-$i" "$i" "$lines" "${ports[$((i - 1))]}"
	done
	for i in 1 2 3; do wait_serving "$prefix-$i" >/dev/null; done
}

leader_of() {
	local name
	for name in "$@"; do
		[ "$(mode_of "$name")" = leader ] && echo "$name" && return
	done
}

# Kill the leader; time until a write succeeds through the two others.
measure_failover() {
	local kind=$1 prefix=$2 round=$3 leader others=() name t0 ms
	leader=$(leader_of "$prefix-1" "$prefix-2" "$prefix-3")
	[ -n "$leader" ] || die "$kind ensemble has no leader"
	for name in "$prefix-1" "$prefix-2" "$prefix-3"; do
		[ "$name" = "$leader" ] || others+=("$name")
	done
	t0=$EPOCHREALTIME
	kill_server "$leader"
	until "$ZKSH" bench create --ops 1 --clients 1 --value-size 10 --timeout 4000 \
		-s "$(connect_of "${others[@]}")" >/dev/null 2>&1; do
		nap 0.01
	done
	ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
	record_value "$kind" failover_ms "$round" "$ms"
	say "  $kind leader kill to writes served, round $round: $ms ms"
	spawn "$leader"
	wait_serving "$leader" >/dev/null
}

measure_ensembles() {
	if ! zk_node_has_ensembles; then
		say "ensemble: skipped, zk-node ensembles not available yet"
		$PY machine-set "$MACHINE" ensemble="skipped, zk-node ensembles not available yet"
		return
	fi
	TOPO=ensemble
	say "== 3-node ensembles"
	new_ensemble apache ens-apache
	new_ensemble zk-node ens-zk-node
	MEASURED[apache]="ens-apache-1 ens-apache-2 ens-apache-3"
	MEASURED[zk-node]="ens-zk-node-1 ens-zk-node-2 ens-zk-node-3"
	measure_workloads "$(connect_of ens-apache-{1,2,3})" "$(connect_of ens-zk-node-{1,2,3})"
	say "== leader kill to writes served again"
	local round
	for round in $(seq 1 "$ROUNDS"); do
		measure_failover apache ens-apache "$round"
		measure_failover zk-node ens-zk-node "$round"
	done
	for name in ens-apache-{1,2,3} ens-zk-node-{1,2,3}; do kill_server "$name"; done
	rm -rf "$WORK/servers"
	TOPO=standalone
}

# ---- main ------------------------------------------------------------------------------------

say "== zk-node vs Apache ZooKeeper 3.8: results in $WORK"
describe_machine
measure_starts
measure_standalone_workloads
measure_memory_and_recovery
measure_ensembles
say "== probing fsync latency again"
$PY machine-set "$MACHINE" fsync_end_json="$($PY fsync-probe "$WORK" 200)" \
	load_end="load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
$PY table "$RESULTS" "$MACHINE" | tee "$WORK/table.txt"
