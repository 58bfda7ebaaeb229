#!/usr/bin/env bash
# Starts and stops a throwaway single-node Slurm cluster from Debian 12's
# packages. Config, state, spool, logs, pid files and the munge socket all
# live under DIR, so nothing in /etc/slurm or /run is needed. It uses neither
# systemd nor cgroups, so it also works in containers. Must run as root.
#
#   scripts/slurm-cluster.sh install      # apt-get the packages (idempotent)
#   scripts/slurm-cluster.sh start DIR    # (re)start; waits for the node to be idle
#   scripts/slurm-cluster.sh stop DIR     # stop what start started
#
# Clients need SLURM_CONF=DIR/slurm.conf; start prints the export line.
set -euo pipefail

# Non-default ports so a system Slurm (6817/6818) cannot clash with us.
CTLD_PORT=${SLURM_CLUSTER_CTLD_PORT:-16817}
SLURMD_PORT=${SLURM_CLUSTER_SLURMD_PORT:-16818}
START_TIMEOUT=${SLURM_CLUSTER_TIMEOUT:-60}

die() { echo "slurm-cluster: $*" >&2; exit 1; }

usage() {
	echo "usage: $0 install | start DIR | stop DIR" >&2
	exit 2
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root"; }

cmd_install() {
	need_root
	local packages=(slurmctld slurmd slurm-client munge) missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "slurm-cluster: installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	fi
	# The munge postinst normally makes the key; make sure it exists anyway.
	if [ ! -s /etc/munge/munge.key ]; then
		mungekey --create --keyfile=/etc/munge/munge.key
		chown munge:munge /etc/munge/munge.key
		chmod 600 /etc/munge/munge.key
	fi
	echo "slurm-cluster: $(slurmctld -V) installed"
}

# abs_dir DIR: DIR as an absolute path (created if needed).
abs_dir() {
	mkdir -p "$1"
	(cd "$1" && pwd -P)
}

# our_pid DIR NAME: pid of the NAME daemon started for DIR, if it is still
# running. Checks the command line mentions DIR so a recycled pid or another
# cluster's daemon is never signalled.
our_pid() {
	local dir=$1 name=$2 pidfile pid
	pidfile="$dir/run/$name.pid"
	[ -s "$pidfile" ] || return 1
	pid=$(tr -dc '0-9' <"$pidfile")
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/" || return 1
	echo "$pid"
}

# stop_daemons DIR NAME...: TERM them together (each takes about 2s to
# exit), then KILL whatever is still there after 15s.
stop_daemons() {
	local dir=$1 name pid pids=() i alive
	shift
	for name in "$@"; do
		if pid=$(our_pid "$dir" "$name"); then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for i in $(seq 150); do
		alive=""
		for pid in "${pids[@]}"; do
			[ -d "/proc/$pid" ] && alive=1
		done
		[ -n "$alive" ] || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do
		if [ -d "/proc/$pid" ]; then
			echo "slurm-cluster: pid $pid ignored TERM, killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for name in "$@"; do
		rm -f "$dir/run/$name.pid"
	done
}

# step_pids DIR: slurmstepd processes of this cluster. slurmd detaches
# them, but they inherit SLURM_CONF from start and keep slurmd.log open.
step_pids() {
	local dir=$1 p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
		if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "SLURM_CONF=$dir/slurm.conf" ||
			ls -l "$p/fd" 2>/dev/null | grep -qF -- "$dir/"; then
			echo "${p#/proc/}"
		fi
	done
}

cmd_stop() {
	need_root
	[ -d "$1" ] || return 0
	local dir pid sid i
	dir=$(abs_dir "$1")
	# Cancel jobs first so slurmd can still end their steps cleanly.
	if our_pid "$dir" slurmctld >/dev/null && [ -f "$dir/slurm.conf" ]; then
		SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --quiet --full --partition=main 2>/dev/null || true
		for i in $(seq 100); do
			[ -z "$(step_pids "$dir")" ] && break
			sleep 0.1
		done
	fi
	stop_daemons "$dir" slurmd slurmctld
	# A step that outlived slurmd would leave its job running: kill the
	# step's whole session, which holds the job's processes too.
	for pid in $(step_pids "$dir"); do
		sid=$(ps -o sid= -p "$pid" | tr -d ' ') || continue
		# Never our own session (or init's), whatever happens.
		if [ "$sid" -le 1 ] || [ "$sid" = "$(ps -o sid= -p $$ | tr -d ' ')" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			continue
		fi
		echo "slurm-cluster: killing leftover job step $pid (session $sid)" >&2
		ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s { print $1 }' | xargs -r kill -KILL 2>/dev/null || true
	done
	stop_daemons "$dir" munged
}

# wait_daemon DIR NAME: the daemons fork and write their pid file from the
# child, so give the file a few seconds to appear.
wait_daemon() {
	local i
	for i in $(seq 100); do
		our_pid "$1" "$2" >/dev/null && return 0
		sleep 0.1
	done
	fail_start "$1" "$2 did not stay up"
}

# port_busy PORT: something on this machine is listening on PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tails() {
	local dir=$1 f
	for f in "$dir/log/munged.log" "$dir/log/slurmctld.log" "$dir/log/slurmd.log"; do
		[ -f "$f" ] || continue
		echo "---- tail of $f" >&2
		tail -n 25 "$f" >&2
	done
}

# fail_start DIR MSG: show why, then stop whatever did start.
fail_start() {
	echo "slurm-cluster: $2" >&2
	log_tails "$1"
	cmd_stop "$1"
	exit 1
}

write_conf() {
	local dir=$1 node=$2 cpus=$3 mem_mb=$4
	cat >"$dir/slurm.conf" <<EOF
# Written by slurm-cluster.sh; rewritten on every start.
ClusterName=kmodgrade
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
# Root everywhere: this cluster only exists for the local root user.
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits to run again (120s).
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: track job processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
# Start queued jobs and array tasks within about a second, not 3s or more,
# and rescan pending jobs often: jobs that only wait for time to pass (e.g.
# requeued ones) are otherwise left for up to a minute.
SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=2
# Hand out CPUs only, so memory requests never block jobs.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Trust the numbers below rather than drain the node over hardware details.
SlurmdParameters=config_overrides
# A node that registers with a good config goes back to idle on its own.
ReturnToService=2
KillWait=5
MaxArraySize=10001
MaxJobCount=100000
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=main Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
}

cmd_start() {
	need_root
	local dir node cpus mem_kb mem_mb key sock state t0 i probe
	dir=$(abs_dir "$1")
	# start wipes DIR's subdirectories, so only use an empty DIR or ours.
	if [ ! -e "$dir/.slurm-cluster" ] && [ -n "$(ls -A "$dir")" ]; then
		die "$dir is not empty and was not made by $0; use a new DIR"
	fi
	touch "$dir/.slurm-cluster"
	node=$(hostname -s)
	sock="$dir/munge/munge.socket"
	# Unix socket paths are limited to 108 bytes; slurmd puts one per job
	# step in its spool dir, named after the node and the step.
	probe="$dir/spool/${node}_4294967295.4294967295"
	[ ${#probe} -lt 108 ] || die "DIR path too long for unix sockets: $dir"

	# A previous instance in DIR goes first, so start can be run repeatedly.
	cmd_stop "$dir"
	for i in "$CTLD_PORT" "$SLURMD_PORT"; do
		port_busy "$i" && die "port $i is in use (another cluster? set SLURM_CLUSTER_CTLD_PORT / SLURM_CLUSTER_SLURMD_PORT)"
	done
	t0=$(date +%s.%N)

	# Fresh state on every start: no jobs or node states carried over.
	rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
	mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
	# munged insists its socket dir and every parent be searchable by all,
	# and writable by nobody but the owner.
	chmod go+x "$dir"
	chmod 755 "$dir/munge"

	cpus=$(nproc)
	mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	# Stay below the real size, or slurmd would drain the node as too small.
	mem_mb=$((mem_kb / 1024 * 95 / 100))
	write_conf "$dir" "$node" "$cpus" "$mem_mb"

	# munged refuses a key not owned by the uid it runs as (root here), and
	# the packaged key belongs to munge, so run with a private root copy.
	key="$dir/munge/munge.key"
	if [ -s /etc/munge/munge.key ]; then
		install -m 600 -o root -g root /etc/munge/munge.key "$key"
	else
		dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
		chmod 600 "$key"
	fi
	munged --socket="$sock" --key-file="$key" --pid-file="$dir/run/munged.pid" \
		--log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" ||
		fail_start "$dir" "munged did not start"
	wait_daemon "$dir" munged
	munge -n -S "$sock" | unmunge -S "$sock" >/dev/null 2>&1 ||
		fail_start "$dir" "munge credentials do not round-trip"

	export SLURM_CONF="$dir/slurm.conf"
	# -c: ignore any saved state; the daemons fork into the background.
	slurmctld -c -f "$SLURM_CONF" || fail_start "$dir" "slurmctld did not start"
	wait_daemon "$dir" slurmctld
	slurmd -N "$node" -f "$SLURM_CONF" || fail_start "$dir" "slurmd did not start"
	wait_daemon "$dir" slurmd

	local deadline state resumed=""
	deadline=$(($(date +%s) + START_TIMEOUT))
	while :; do
		state=$(sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
		case $state in
		idle) break ;;
		down | drained | draining)
			# Should not happen with ReturnToService=2, but cheap to fix.
			if [ -z "$resumed" ]; then
				echo "slurm-cluster: node $node is $state, resuming it" >&2
				scontrol update nodename="$node" state=resume || true
				resumed=1
			fi
			;;
		esac
		our_pid "$dir" slurmctld >/dev/null || fail_start "$dir" "slurmctld exited"
		our_pid "$dir" slurmd >/dev/null || fail_start "$dir" "slurmd exited"
		[ "$(date +%s)" -lt "$deadline" ] ||
			fail_start "$dir" "node $node not idle after ${START_TIMEOUT}s (state: ${state:-none})"
		sleep 0.5
	done
	awk -v n="$node" -v c="$cpus" -v m="$mem_mb" -v a="$t0" -v b="$(date +%s.%N)" \
		'BEGIN { printf "slurm-cluster: node %s idle (%s CPUs, %s MB) after %.1fs\n", n, c, m, b - a }'
	echo "export SLURM_CONF=$SLURM_CONF"
}

[ $# -ge 1 ] || usage
case $1 in
install) [ $# -eq 1 ] || usage; cmd_install ;;
start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
*) usage ;;
esac
