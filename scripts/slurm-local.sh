#!/usr/bin/env bash
# slurm-local.sh: a real single-node Slurm cluster on loopback, for tests and CI.
#
#   scripts/slurm-local.sh up DIR     install Slurm/MUNGE when missing (setup.sh), start munged,
#                                     slurmctld and slurmd with all state under DIR,
#                                     wait for the node to be idle, and print the
#                                     client environment:
#                                       eval "$(scripts/slurm-local.sh up "$DIR")"
#   scripts/slurm-local.sh check DIR  submit a 4-task job array, poll squeue until it
#                                     has left the queue, verify all 4 outputs (exit 0/1)
#   scripts/slurm-local.sh down DIR   stop everything `up` started (idempotent)
#
# No systemd and nothing in /etc: munged gets its own key, socket, pid, log and seed
# files, and the Slurm daemons their own slurm.conf, all under DIR. Clients need only
# SLURM_CONF (the munge socket path travels in slurm.conf's AuthInfo). Must run as
# root (slurmd has to start job steps as the submitting user). Environment knobs:
# SLURM_LOCAL_TIMEOUT (seconds `up` waits for an idle node, default 60) and
# SLURM_LOCAL_CHECK_TIMEOUT (seconds `check` waits for the array, default 120).
#
# slurm.conf settings that differ from the defaults, and why:
#   ClusterName=mimlab-local       required by Slurm 22.05; any name will do
#   SlurmctldHost=localhost(127.0.0.1)
#                                  the name `localhost` passes slurmctld's "is this host
#                                  a controller" check on any machine, and loopback only
#   NodeName=localhost NodeAddr=127.0.0.1 CPUs=<nproc> RealMemory=<90% of RAM>
#                                  one node on loopback, started as `slurmd -N localhost`;
#                                  RealMemory is below the real figure, so the node is
#                                  never drained for "Low RealMemory"
#   PartitionName=debug Default=YES MaxTime=INFINITE State=UP
#                                  jobs need no -p and no --time
#   SlurmctldPort/SlurmdPort       free ports picked at `up`, so several clusters (or a
#                                  system Slurm on 6817/6818) can coexist
#   SlurmUser/SlurmdUser=<whoami>  we run the daemons as ourselves (root), not `slurm`
#   AuthType/CredType=.../munge, AuthInfo=socket=DIR/munge/munge.socket
#                                  our private munged instead of /run/munge
#   StateSaveLocation, SlurmdSpoolDir, *PidFile, *LogFile, JobCompLoc
#                                  everything under DIR, nothing in /var
#   ProctrackType=proctrack/linuxproc, TaskPlugin=task/none,
#   JobAcctGatherType=jobacct_gather/none
#                                  no cgroups: containers and CI machines often lack a
#                                  usable cgroup hierarchy, and the cgroup plugins would
#                                  make slurmd fail to start there
#   AccountingStorageType=accounting_storage/none
#                                  no slurmdbd/MySQL
#   JobCompType=jobcomp/filetxt    a plain log of finished jobs (DIR/log/jobcomp.log)
#                                  with their exit states, handy when a test fails
#   SelectType=select/cons_tres, SelectTypeParameters=CR_CPU
#                                  allocate single CPUs, not whole nodes, and do not
#                                  treat memory as consumable (otherwise each job would
#                                  get all the node's memory and array tasks would run
#                                  one at a time)
#   ReturnToService=2              a node that was DOWN comes back as soon as slurmd
#                                  registers, no `scontrol update` needed
#   MpiDefault=none                no PMI plugin needed
#   MailProg=/bin/true             no mail(1) on these machines
#   SchedulerParameters=sched_min_interval=0, batch_sched_delay=0
#                                  start queued array tasks as soon as CPUs free up
#   MinJobAge=30                   forget finished jobs after 30 s instead of 300
#   SlurmctldDebug/SlurmdDebug=info
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
PROG="slurm-local"

die() { echo "$PROG: error: $*" >&2; exit 1; }
say() { echo "$PROG: $*" >&2; }

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
[ -n "$2" ] || die "DIR must not be empty"
case "$cmd" in
  up) mkdir -p -- "$2" || die "cannot create $2" ;;
  down|check) ;;
  *) usage ;;
esac
DIR=$(realpath -m -- "$2")
CONF="$DIR/slurm.conf"
SOCK="$DIR/munge/munge.socket"
# Every daemon is started with this variable in its environment, so `down` can tell
# our processes (and the slurmstepd processes slurmd spawns) from anybody else's.
MARK="SLURM_LOCAL_DIR=$DIR"

# --- helpers ---------------------------------------------------------------------

# The pid in DIR/run/NAME.pid if that process is alive and is ours.
our_pid() {
  local f="$DIR/run/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  is_ours "$pid" || return 1
  echo "$pid"
}

is_ours() {
  local env
  env=$( { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null) && grep -qxF "$MARK" <<<"$env"
}

# All live processes of this cluster: the daemons (our mark in their environment),
# processes holding one of our log files open (slurmstepd and slurmscriptd, which
# overwrite their environment with their process titles and are re-parented to
# init), and job processes (SLURM_JOB_ID plus our SLURM_CONF in their environment).
cluster_pids() {
  local p env pat
  pat=$(printf '%s' "$DIR/log/" | sed 's/[][*?\\]/\\&/g')
  {
    for p in /proc/[0-9]*; do
      p=${p#/proc/}
      env=$( { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null) || continue
      if grep -qxF "$MARK" <<<"$env" ||
         { grep -q '^SLURM_JOB_ID=' <<<"$env" && grep -qxF "SLURM_CONF=$CONF" <<<"$env"; }; then
        echo "$p"
      fi
    done
    find /proc/[0-9]*/fd -maxdepth 1 -lname "$pat*" 2>/dev/null | cut -d/ -f3
  } | { grep -vx -e "$$" -e "${BASHPID:-$$}" || true; } | sort -un
}

free_port() {
  local exclude=${1:-0} p
  if command -v python3 >/dev/null 2>&1; then
    for _ in 1 2 3 4 5; do
      p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      [ "$p" != "$exclude" ] && { echo "$p"; return; }
    done
  fi
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    [ "$p" = "$exclude" ] && continue
    # A refused connection means nobody listens there.
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

show_logs() {
  local name f
  for name in munged slurmctld slurmd; do
    # Daemons in the foreground log to stderr (DIR/log/NAME.out) until they have
    # opened their log file, and munged --foreground only there.
    for f in "$DIR/log/$name.log" "$DIR/log/$name.out"; do
      [ -s "$f" ] || continue
      echo "----- tail of $f -----" >&2
      tail -n 20 "$f" >&2
      break
    done
  done
}

ensure_packages() {
  local missing=() b
  for b in munged slurmctld slurmd slurmstepd sbatch squeue sinfo scancel; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  ((${#missing[@]})) || return 0
  say "missing ${missing[*]}; running scripts/setup.sh"
  "$(dirname "$(realpath "$0")")/setup.sh" >&2 || die "scripts/setup.sh failed"
  for b in munged slurmctld slurmd slurmstepd sbatch squeue sinfo scancel; do
    command -v "$b" >/dev/null 2>&1 || die "$b still missing after installing the packages"
  done
}

# Start "$@" in the background as a daemon of ours: own session, our mark in its
# environment, stdin/stdout/stderr away from the caller and every other inherited
# descriptor closed (a caller waiting for EOF on a pipe or socket it gave us, as
# $(...) or Foundation's Process do, must not wait on the daemons), pid recorded in
# DIR/run/NAME.pid.
start_daemon() {
  local name=$1; shift
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
    done
    exec env "$MARK" SLURM_CONF="$CONF" setsid "$@" </dev/null >"$DIR/log/$name.out" 2>&1
  ) &
  echo $! >"$DIR/run/$name.pid"
}

wait_for() { # seconds command...: poll the command until it succeeds
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then return 1; fi
    sleep 0.25
  done
}

slurm() { SLURM_CONF="$CONF" "$@"; }

# True when none of the pids is alive (zombies count as dead: their parent, not we,
# has to reap them).
none_alive() {
  local p st
  for p in "$@"; do
    st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -c1) || continue
    [ -z "$st" ] || [ "$st" = Z ] || return 1
  done
  return 0
}

queue_empty() {
  local q
  q=$(slurm squeue -h -o '%A' 2>/dev/null) && [ -z "$q" ]
}

fail_up() {
  echo "$PROG: error: $*" >&2
  show_logs
  say "stopping what was started"
  do_down >&2 || true
  exit 1
}

# --- up --------------------------------------------------------------------------

do_up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root: slurmd needs it to launch job steps"
  ensure_packages
  local running=()
  mapfile -t running < <(cluster_pids)
  ((${#running[@]} == 0)) ||
    die "a cluster is already running in $DIR (pids: ${running[*]}); run '$0 down $DIR' first"

  local t0=$SECONDS
  # A fresh cluster each time: drop state from an earlier `up` in the same DIR.
  rm -rf "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/munge"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run" "$DIR/munge"
  chmod 755 "$DIR/munge"   # the socket must be reachable; the key is 0400

  # munged refuses group- or world-accessible keys.
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$DIR/munge/munge.key"

  local ctld_port slurmd_port cpus mem user
  ctld_port=$(free_port)
  slurmd_port=$(free_port "$ctld_port")
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ { m = int($2 / 1024 * 0.9); print (m < 1 ? 1 : m) }' /proc/meminfo)
  user=$(id -un)

  cat >"$CONF" <<EOF
# Written by scripts/slurm-local.sh; see the comment at the top of that script.
ClusterName=mimlab-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld-own.pid
SlurmdPidFile=$DIR/run/slurmd-own.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
MinJobAge=30
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

  say "$(slurmctld -V) on 127.0.0.1, ports $ctld_port/$slurmd_port, $cpus CPUs, state in $DIR"

  start_daemon munged munged --foreground --force \
    --key-file="$DIR/munge/munge.key" --socket="$SOCK" \
    --pid-file="$DIR/run/munged-own.pid" --log-file="$DIR/log/munged.log" \
    --seed-file="$DIR/munge/munged.seed"
  wait_for 15 test -S "$SOCK" || fail_up "munged did not create $SOCK"

  start_daemon slurmctld slurmctld -D -i -f "$CONF"
  wait_for 30 slurm scontrol ping ||
    fail_up "slurmctld does not answer 'scontrol ping'"
  # scontrol ping can succeed while a daemon is exiting; make sure it is alive.
  our_pid slurmctld >/dev/null || fail_up "slurmctld exited"

  start_daemon slurmd slurmd -D -N localhost -f "$CONF"

  local limit=${SLURM_LOCAL_TIMEOUT:-60} end state=""
  end=$((SECONDS + limit))
  while :; do
    state=$(slurm sinfo -h -n localhost -o '%T' 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    our_pid slurmd >/dev/null || fail_up "slurmd exited (node state '${state:-?}')"
    our_pid slurmctld >/dev/null || fail_up "slurmctld exited"
    ((SECONDS < end)) || fail_up "node not idle after ${limit}s (state '${state:-?}')"
    sleep 0.3
  done
  say "up in $((SECONDS - t0))s; stop with: $0 down $DIR"
  echo "export SLURM_CONF=$(printf '%q' "$CONF")"
}

# --- down ------------------------------------------------------------------------

do_down() {
  [ -d "$DIR" ] || return 0
  # Cancel jobs first, so slurmstepd kills the job processes it tracks.
  if our_pid slurmctld >/dev/null; then
    local jobs=()
    mapfile -t jobs < <(slurm squeue -h -o '%A' 2>/dev/null || true)
    if ((${#jobs[@]})); then
      slurm scancel --quiet "${jobs[@]}" 2>/dev/null || true
      if our_pid slurmd >/dev/null; then
        wait_for 10 queue_empty || say "jobs still queued after scancel; killing them"
      fi
    fi
  fi
  local name pid pids=()
  for name in slurmd slurmctld munged; do
    pid=$(our_pid "$name") || continue
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  if ((${#pids[@]})); then
    wait_for 15 none_alive "${pids[@]}" ||
      { say "daemons ignored SIGTERM for 15s; sending SIGKILL"; kill -KILL "${pids[@]}" 2>/dev/null || true; }
  fi
  # What the daemons did not take down with them: slurmstepd (which ignores SIGTERM
  # and outlives slurmd) and its job processes, when slurmctld or slurmd had died
  # before the jobs could be cancelled.
  local left=()
  mapfile -t left < <(cluster_pids)
  if ((${#left[@]})); then
    say "stopping leftover processes: ${left[*]}"
    kill -TERM "${left[@]}" 2>/dev/null || true
    wait_for 3 none_alive "${left[@]}" || kill -KILL "${left[@]}" 2>/dev/null || true
    wait_for 5 none_alive "${left[@]}" || true
    mapfile -t left < <(cluster_pids)
    ((${#left[@]} == 0)) || die "could not stop pids ${left[*]}"
  fi
  rm -f "$DIR"/run/*.pid "$SOCK"
  say "down ($DIR)"
}

# --- check -----------------------------------------------------------------------

do_check() {
  [ -f "$CONF" ] || die "no $CONF; run '$0 up $DIR' first"
  our_pid slurmctld >/dev/null || die "slurmctld of $DIR is not running"
  local out="$DIR/check" job t0=$SECONDS
  rm -rf "$out"
  mkdir -p "$out"
  # shellcheck disable=SC2016 # the job's shell expands $SLURM_ARRAY_TASK_ID
  job=$(slurm sbatch --parsable --array=0-3 --job-name=slurm-local-check \
          --chdir="$out" --output="$out/slurm-%A_%a.out" \
          --wrap 'echo "task $SLURM_ARRAY_TASK_ID on $(hostname)" > "task-$SLURM_ARRAY_TASK_ID.txt"') ||
    die "sbatch failed"
  job=${job%%;*}
  say "submitted job array $job"
  local limit=${SLURM_LOCAL_CHECK_TIMEOUT:-120} end q
  end=$((SECONDS + limit))
  while :; do
    if ! q=$(slurm squeue -h -j "$job" -o '%i %T' 2>&1); then
      # Once a job has been purged (MinJobAge), squeue -j errors out: it is gone.
      case "$q" in *"Invalid job id"*) q="" ;; *) die "squeue failed: $q" ;; esac
    fi
    [ -z "$q" ] && break
    if ((SECONDS >= end)); then
      echo "$q" >&2
      show_logs
      die "job array $job still queued after ${limit}s"
    fi
    sleep 0.5
  done
  local i ok=1
  for i in 0 1 2 3; do
    if [ -s "$out/task-$i.txt" ]; then
      say "  $(cat "$out/task-$i.txt")"
    else
      say "  task $i: no output ($out/task-$i.txt)"
      ok=0
    fi
  done
  if [ "$ok" -ne 1 ]; then
    [ -f "$DIR/log/jobcomp.log" ] && tail -n 8 "$DIR/log/jobcomp.log" >&2
    cat "$out"/slurm-*.out >&2 2>/dev/null || true
    show_logs
    echo "$PROG: check FAILED" >&2
    exit 1
  fi
  say "check passed: 4 array tasks ran in $((SECONDS - t0))s"
}

case "$cmd" in
  up) do_up ;;
  down) do_down ;;
  check) do_check ;;
esac
