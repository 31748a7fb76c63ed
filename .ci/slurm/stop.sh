#!/bin/bash
# Stop what .ci/slurm/start.sh started: cancel every job, stop slurmd, slurmctld, munged.
# Idempotent. State and logs stay in $MPICG_SLURM_DIR (default /tmp/mpicg-ci-slurm).
set -uo pipefail

dir=${MPICG_SLURM_DIR:-/tmp/mpicg-ci-slurm}
export SLURM_CONF=$dir/etc/slurm.conf

pid_of() {  # pid_of NAME PIDFILE: the pid of that live (not zombie) process
    local pid stat
    [ -s "$2" ] || return 1
    pid=$(cat "$2")
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }  # the fields after "(comm)": the state first
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && [ "${stat%% *}" != Z ] \
        && echo "$pid"
}

stop_daemon() {  # stop_daemon NAME PIDFILE: SIGTERM, up to 15 s, then SIGKILL
    local pid
    pid=$(pid_of "$1" "$2") || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 75); do pid_of "$1" "$2" >/dev/null || break; sleep 0.2; done
    pid_of "$1" "$2" >/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$2"
}

if pid_of slurmctld "$dir/run/slurmctld.pid" >/dev/null; then
    # Cancel every job (one by one: scancel without ids does nothing), and wait for them.
    for _ in $(seq 75); do
        jobs=$(squeue -h -t all -o '%i %T' 2>/dev/null | awk '$2 ~ /PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED/ {print $1}')
        [ -z "$jobs" ] && break
        # shellcheck disable=SC2086  # one word per job id
        scancel $jobs 2>/dev/null
        sleep 0.2
    done
fi
stop_daemon slurmd "$dir/run/slurmd.pid"
stop_daemon slurmctld "$dir/run/slurmctld.pid"
# A job step the cancel did not end: its slurmstepd still has our SLURM_CONF.
for proc in /proc/[0-9]*; do
    [ "$(cat "$proc/comm" 2>/dev/null)" = slurmstepd ] || continue
    if tr '\0' '\n' < "$proc/environ" 2>/dev/null | grep -qx "SLURM_CONF=$SLURM_CONF"; then
        kill -KILL "${proc#/proc/}" 2>/dev/null
    fi
done
stop_daemon munged "$dir/munge/munged.pid"
echo "stop.sh: SLURM stopped"
