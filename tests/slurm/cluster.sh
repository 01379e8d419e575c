#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for the SLURM test or to try profiles/slurm by hand:
#   tests/slurm/cluster.sh up DIR     install the Debian packages if missing, then start munged,
#                                     slurmctld and slurmd (partition `main`, the default)
#   tests/slurm/cluster.sh down DIR   stop them
# Everything stays under DIR: the configuration, state, logs, munge's key and socket; nothing is
# written under /etc or /run. SLURM commands find the cluster through
#   export SLURM_CONF=DIR/slurm.conf
# The executor plugin's job steps drop SLURM_CONF from their environment before they call srun,
# and srun then reads /etc/slurm/slurm.conf (Slurm's compiled-in path; next would come
# /run/slurm/conf, which only configless mode writes). So slurmd runs in a mount namespace of its
# own (unshare) in which DIR is bound over /etc/slurm: its jobs, and the srun calls in them,
# inherit that view, while the rest of the machine, another SLURM installation's /etc/slurm
# included, never sees it. That needs root (CAP_SYS_ADMIN) and an /etc/slurm folder to bind over
# (the Debian packages make one). The scheduler records every job in DIR/jobs.txt
# (jobcomp/filetxt).
set -euo pipefail
action=${1:?usage: cluster.sh up|down DIR}
dir=$(realpath -m "${2:?usage: cluster.sh up|down DIR}")
export SLURM_CONF=$dir/slurm.conf

stop() {
    for daemon in slurmd slurmctld munged; do
        if [[ -f $dir/$daemon.pid ]]; then
            pid=$(cat "$dir/$daemon.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$dir/$daemon.pid"
        fi
    done
}

if [[ $action == down ]]; then
    stop
    exit 0
fi
[[ $action == up ]] || { echo "usage: cluster.sh up|down DIR" >&2; exit 2; }

packages=(slurmctld slurmd slurm-client munge)
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
    || ! command -v munged >/dev/null; then
    [[ $(id -u) == 0 ]] || { echo "cluster.sh: the SLURM packages are missing and only root can install them" >&2; exit 3; }
    echo "installing ${packages[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${packages[@]}" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q "${packages[@]}" >/dev/null; }
fi

host=$(hostname -s)
user=$(id -un)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 9 / 10 / 1024 ))
mkdir -p "$dir/state" "$dir/spool"
chmod 700 "$dir"
# munge refuses keys and sockets that other users could touch
[[ -f $dir/munge.key ]] || { head -c 1024 /dev/urandom > "$dir/munge.key"; chmod 600 "$dir/munge.key"; }

cat > "$dir/slurm.conf" <<CONF
# written by multihop cluster.sh: a one-node cluster for tests, state in $dir
ClusterName=multihop
SlurmctldHost=$host
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobs.txt
MinJobAge=600
DefMemPerCPU=1000
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

[[ -d /etc/slurm ]] || { echo "cluster.sh: no /etc/slurm to bind $dir over for the jobs" >&2; exit 3; }
if ! unshare --mount --propagation private true 2>/dev/null; then
    echo "cluster.sh: cannot make a mount namespace for slurmd (root with CAP_SYS_ADMIN needed)" >&2
    exit 3
fi

stop
munged --force --socket="$dir/munge.socket" --key-file="$dir/munge.key" --pid-file="$dir/munged.pid" \
    --log-file="$dir/munged.log" --seed-file="$dir/munged.seed"
slurmctld -i  # -i: no state from an earlier cluster in DIR
# --no-mtab: or mount(8) would make /run/mount for its table of mounts
# shellcheck disable=SC2016  # $1 is expanded by the inner shell
unshare --mount --propagation private sh -c 'mount --no-mtab --bind "$1" /etc/slurm && exec slurmd' sh "$dir"
for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        echo "cluster.sh: one node, $cpus CPUs, up (SLURM_CONF=$SLURM_CONF)" >&2
        exit 0
    fi
    sleep 0.3
done
echo "cluster.sh: the node did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
sinfo >&2 || true
stop
exit 1
