#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (slurmctld + slurmd + munged on loopback), for
# the `slurm` tests and for trying the job scripts without a real cluster.
#   bash tools/slurm-local.sh start    # idempotent: does nothing if it already answers
#   bash tools/slurm-local.sh stop     # idempotent: stops what start started
#   bash tools/slurm-local.sh status
#   eval "$(bash tools/slurm-local.sh env)"   # SLURM_CONF for sbatch, squeue, ... in this shell
# Needs root (slurmd runs jobs as their owner) and Debian's slurm-wlm and munge
# (tools/install-deps.sh installs them). State, logs and the configuration live in
# $PERTURBFIT_SLURM_DIR (default /tmp/perturbfit-slurm); nothing under /etc is written.
# Exit status 77 means "cannot run here" (not root, or SLURM not installed); CTest reports
# the slurm tests as skipped then, never as passed.
set -euo pipefail

dir="${PERTURBFIT_SLURM_DIR:-/tmp/perturbfit-slurm}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

cannot_run() { echo "slurm-local: $*" >&2; exit 77; }

check_prerequisites() {
  [[ "$(id -u)" -eq 0 ]] || cannot_run "needs root (slurmd starts jobs as their owner); run as root or skip the slurm tests"
  for exe in slurmctld slurmd munged sbatch scontrol; do
    command -v "$exe" >/dev/null || cannot_run "'$exe' not found: install slurm-wlm and munge (bash tools/install-deps.sh)"
  done
}

# The node line is what slurmd detects on this machine (CPUs, cores, memory), so the
# configuration is right on any machine this runs on.
write_config() {
  mkdir -p "$dir/ctld" "$dir/spool" "$dir/log"
  local node_line host
  host="$(hostname -s)"
  node_line="$(slurmd -C | head -n 1 | sed -e "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/")"
  cat >"$conf" <<EOF
# Written by tools/slurm-local.sh: a one-node cluster on loopback.
ClusterName=perturbfit-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
KillWait=20
MinJobAge=600
SchedulerType=sched/backfill
$node_line State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

start_munge() {
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  chmod 0755 /run/munge
  [[ -f /etc/munge/munge.key ]] || cannot_run "/etc/munge/munge.key is missing (reinstall munge)"
  runuser -u munge -- /usr/sbin/munged
  touch "$dir/munged-started-here"
  for _ in $(seq 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "slurm-local: munged did not answer; see /var/log/munge/munged.log" >&2
  exit 1
}

node_ready() {
  local state
  state="$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1)"
  [[ "$state" == idle* || "$state" == mixed* || "$state" == allocated* ]]
}

start() {
  check_prerequisites
  if scontrol ping 2>/dev/null | grep -q UP && node_ready; then
    echo "slurm-local: already running ($conf)"
    return
  fi
  mkdir -p "$dir"
  write_config
  start_munge
  pgrep -F "$dir/slurmctld.pid" >/dev/null 2>&1 || slurmctld -f "$conf"
  pgrep -F "$dir/slurmd.pid" >/dev/null 2>&1 || slurmd -f "$conf"
  for _ in $(seq 100); do
    if node_ready; then
      echo "slurm-local: up, node $(hostname -s) $(sinfo -h -N -o '%c CPUs, %T'); export SLURM_CONF=$conf"
      return
    fi
    sleep 0.2
  done
  echo "slurm-local: the node did not become idle in 20 s; logs in $dir/log" >&2
  sinfo -N -l >&2 || true
  exit 1
}

stop_daemon() {
  local pidfile="$1"
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$pidfile"
}

stop() {
  if [[ -f "$conf" ]]; then scancel --user="$(id -un)" 2>/dev/null || true; fi
  stop_daemon "$dir/slurmd.pid"
  stop_daemon "$dir/slurmctld.pid"
  if [[ -f "$dir/munged-started-here" ]]; then
    pkill -u munge -x munged 2>/dev/null || true
    rm -f "$dir/munged-started-here"
  fi
  echo "slurm-local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) scontrol ping && sinfo -N -l ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
