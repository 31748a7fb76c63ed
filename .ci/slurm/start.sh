#!/bin/bash
# Install (if missing) and start a one-node SLURM for tests/test_slurm.py: munged, slurmctld
# and slurmd, started by hand (no systemd), all state, logs and sockets in $MPICG_SLURM_DIR.
# Needs root and apt (Debian/Ubuntu: slurmctld slurmd slurm-client munge). Idempotent.
# Prints the SLURM_CONF to use on its last line. Stop with .ci/slurm/stop.sh.
#
#   MPICG_SLURM_DIR     where everything lives      (default /tmp/mpicg-ci-slurm)
#   MPICG_SLURM_PORTS   slurmctld and slurmd ports  (default "6917 6918")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${MPICG_SLURM_DIR:-/tmp/mpicg-ci-slurm}
read -r ctld_port slurmd_port <<< "${MPICG_SLURM_PORTS:-6917 6918}"
host=$(hostname -s)
conf=$dir/etc/slurm.conf
socket=$dir/munge/munge.socket
export SLURM_CONF=$conf
t0=$SECONDS

die() { echo "start.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (it installs packages and runs the daemons)"

alive() {  # alive NAME PIDFILE: that process runs (a zombie does not: PID 1 may reap late)
    local pid stat
    [ -s "$2" ] || return 1
    pid=$(cat "$2")
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }  # the fields after "(comm)": the state first
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && [ "${stat%% *}" != Z ]
}

# ---- install ----------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || die "no apt-get: install slurmctld, slurmd, slurm-client and munge yourself"
    echo "start.sh: installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' scripts from starting the system daemons (we start our own).
    policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy=1
    fi
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
    [ "$policy" -eq 0 ] || rm -f /usr/sbin/policy-rc.d
    echo "start.sh: installed in $((SECONDS - t0)) s"
fi

# ---- configuration and munge key ----------------------------------------------------------
mkdir -p "$dir"/{etc,state,spool,run,log,munge}
chmod 0755 "$dir" "$dir/munge"  # munged wants its socket's directory open to all
if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$dir/munge/munge.key"
fi
sed -e "s|@SCRATCH@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" "$here/slurm.conf.in" > "$conf"

# ---- daemons -------------------------------------------------------------------------------
if ! alive munged "$dir/munge/munged.pid" || ! munge -S "$socket" -n >/dev/null 2>&1; then
    munged --socket="$socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" --force
    for _ in $(seq 50); do munge -S "$socket" -n >/dev/null 2>&1 && break; sleep 0.1; done
    munge -S "$socket" -n | unmunge -S "$socket" >/dev/null \
        || die "munged does not work: $dir/munge/munged.log"
fi
alive slurmctld "$dir/run/slurmctld.pid" || slurmctld -f "$conf"
for _ in $(seq 150); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping | grep -q 'is UP' || die "slurmctld is not up: $dir/log/slurmctld.log"
alive slurmd "$dir/run/slurmd.pid" || slurmd -f "$conf"

# ---- wait until the node takes jobs ----------------------------------------------------------
state=
for _ in $(seq 300); do
    state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
    case $state in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|fail*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
    esac
    sleep 0.2
done
case $state in
    idle|mixed|allocated|completing) ;;
    *) die "node $host is '$state' after 60 s: $dir/log/slurmd.log" ;;
esac
echo "start.sh: SLURM up in $((SECONDS - t0)) s (node $host $state)"
echo "$conf"
