#!/usr/bin/env bash
# Slurm smoke test (`make test-slurm`): a real single-node Slurm cluster on localhost runs a 2-cell grid as a job
# array through igr_slurm.sbatch (--direct: the repository's Python, no image), and both run folders are checked.
#
#   sudo bash Tests/slurm/run_slurm_smoke.sh
#
# Needs root and apt (it installs Debian's slurm-wlm and munge when missing). Everything else is private to a
# temporary folder: its own munge key and socket, slurm.conf, state, spool, logs and run folders, and non-default
# ports, so a system Slurm or munge is left alone. The daemons it starts are stopped at exit.
#
# Environment:
#   SMOKE_GRID      grid script (default: vae_experiments/discrete_grid.py when present, else
#                   Tests/slurm/smoke_grid.py, a stand-in without TensorFlow)
#   SMOKE_ARGS      arguments for the grid script (default for discrete_grid.py: --smoke --set epochs=1; else --smoke)
#   SMOKE_TIMEOUT   seconds to wait for the array job (default 600)
#   IGR_PYTHON      Python for the tasks (default .venv/bin/python)
#   KEEP=1          keep the temporary folder (logs, run folders) for inspection
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
timeout_s="${SMOKE_TIMEOUT:-600}"
python="${IGR_PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="$(command -v python3)"
export IGR_PYTHON="$python"

if [ -z "${SMOKE_GRID:-}" ]; then
    if [ -f vae_experiments/discrete_grid.py ]; then SMOKE_GRID=vae_experiments/discrete_grid.py; \
    else SMOKE_GRID=Tests/slurm/smoke_grid.py; fi
fi
if [ -z "${SMOKE_ARGS+x}" ]; then
    if [ "$SMOKE_GRID" = vae_experiments/discrete_grid.py ]; then SMOKE_ARGS="--smoke --set epochs=1"; \
    else SMOKE_ARGS="--smoke"; fi
fi

say() { echo "[slurm-smoke $(date +%H:%M:%S)] $*"; }
fail() { echo "[slurm-smoke] FAILED: $*" >&2; exit 1; }

if [ "$(id -u)" != 0 ]; then
    fail "needs root (it installs slurm-wlm and munge and starts slurmctld/slurmd): sudo make test-slurm"
fi

# 1. Packages -----------------------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
        || ! command -v sbatch >/dev/null; then
    say "installing slurm-wlm and munge with apt-get"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then   # keep the packages from starting their system services
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# 2. Private cluster configuration ---------------------------------------------------------------------------
work="$(mktemp -d /tmp/igr-slurm-smoke.XXXXXX)"
chmod 755 "$work"
mkdir -p "$work"/{munge,run,state,spool,log,slurm,Log,dev}
chmod 700 "$work/munge"
pids=()
cleanup() {
    local rc=$?
    say "stopping the daemons"
    local pidfile pid
    for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
        [ -s "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do   # up to 10 s; a zombie (state Z) has exited
            if ! [ -e "/proc/$pid" ] || grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then break; fi
            sleep 0.2
        done
    done
    if [ "$rc" != 0 ]; then
        for f in "$work"/log/*.log "$work"/slurm/*.out; do
            [ -f "$f" ] && { echo "----- $f (last lines)"; tail -n 25 "$f"; }
        done
    fi
    if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
socket="$work/run/munge.socket"
munged --force --key-file="$work/munge/munge.key" --socket="$socket" --pid-file="$work/munge/munged.pid" \
    --log-file="$work/log/munged.log" --seed-file="$work/munge/munged.seed"
say "munged started (socket $socket)"

# igr_slurm.sbatch asks for --gres=gpu:1. Slurm only counts GPUs that have a device file, so the node gets two
# stand-in "GPUs": character devices equal to /dev/null in the private folder. Both tasks then run at once with
# the script's own GPU request (TensorFlow sees no GPU and runs on the CPU).
gpus=2
for i in 0 1; do mknod -m 666 "$work/dev/fakegpu$i" c 1 3; done
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)"
conf="$work/slurm.conf"
cat > "$conf" <<EOF
ClusterName=igrsmoke
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$gpus State=UNKNOWN
PartitionName=smoke Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
echo "NodeName=$host Name=gpu File=$work/dev/fakegpu[0-1]" > "$work/gres.conf"
export SLURM_CONF="$conf"
say "$(sbatch --version), $(munged --version 2>&1 | awk '{print $1; exit}')"

slurmctld -c
slurmd
say "slurmctld and slurmd started on $host ($cpus CPUs, ${mem_mb} MB)"

deadline=$((SECONDS + 60))
until sinfo -h -n "$host" -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; do
    [ "$SECONDS" -lt "$deadline" ] || fail "node $host did not become idle: $(sinfo -h -o '%t %E' 2>&1)"
    sleep 1
done
say "node ready: $(sinfo -h -o '%P %a %D %t %c %G')"

# 3. Submit the 2-cell array --------------------------------------------------------------------------------
export IGR_LOG_DIR="$work/Log"
expected="$("$python" "$SMOKE_GRID" --list $SMOKE_ARGS | awk 'NR > 1 && ($1 == "0" || $1 == "1") {$1 = ""; print substr($0, 2)}')"
[ "$(printf '%s\n' "$expected" | grep -c .)" = 2 ] || fail "$SMOKE_GRID --list does not show cells 0 and 1"
say "grid $SMOKE_GRID $SMOKE_ARGS, cells 0-1:"
printf '%s\n' "$expected" | sed 's/^/    /'
# The test machine is small: one CPU and 1 GB per task instead of the script's defaults for a GPU node.
# shellcheck disable=SC2086  # SMOKE_ARGS is split into words on purpose
job="$(sbatch --parsable --array=0-1 --cpus-per-task=1 --mem=1G --time=15 \
    --output="$work/slurm/%x_%A_%a.out" --error="$work/slurm/%x_%A_%a.out" \
    igr_slurm.sbatch --direct "$SMOKE_GRID" $SMOKE_ARGS)"
job="${job%%;*}"
say "submitted array job $job"

start=$SECONDS
while squeue -h -j "$job" -o '%i' 2>/dev/null | grep -q .; do
    if [ $((SECONDS - start)) -ge "$timeout_s" ]; then
        scancel "$job" || true
        fail "job $job still queued/running after ${timeout_s}s: $(squeue -h -j "$job" -o '%i %T %R')"
    fi
    sleep 2
done
say "array job finished after $((SECONDS - start)) s"

# 4. Checks --------------------------------------------------------------------------------------------------
states="$(scontrol -o show job "$job" | grep -o 'JobState=[A-Z_]* .*ExitCode=[0-9:]*' \
    | sed -E 's/JobState=([A-Z_]+).*ExitCode=([0-9:]+)/\1 \2/')"
[ "$(printf '%s\n' "$states" | grep -c '^COMPLETED 0:0$')" = 2 ] \
    || fail "array tasks did not both complete with exit code 0: $(echo $states)"
for task in 0 1; do
    out="$work/slurm/igr-grid_${job}_${task}.out"
    [ -s "$out" ] || fail "no per-task log $out"
    grep -q "exit status 0" "$out" || fail "task $task did not report exit status 0 (see $out)"
    grep -q -- "--cell $task" "$out" || fail "task $task did not run --cell $task"
done
IGR_EXPECTED="$expected" "$python" - "$work/Log" <<'EOF'
import os
import sys
from pathlib import Path

sys.path.insert(0, os.getcwd())
from Utils.runs.grid import cell_label
from Utils.results.results_io import collect_runs, load_metrics

log = Path(sys.argv[1])
expected = sorted(os.environ['IGR_EXPECTED'].splitlines())
runs = collect_runs(log, include_smoke=True)
problems = []
if len(runs) != 2:
    problems.append(f'expected 2 run folders in {log}, found {len(runs)}: {list(runs.get("run_name", []))}')
for _, run in runs.iterrows():
    folder = Path(run['run_dir'])
    for name in ('config.json', 'metrics.csv'):
        if not (folder / name).is_file():
            problems.append(f'{folder.name}: no {name}')
    if load_metrics(folder).empty:
        problems.append(f'{folder.name}: metrics.csv has no rows')
labels = sorted(cell_label(dict(run.dropna())) for _, run in runs.iterrows())
if labels != expected:
    problems.append(f'run folders are for {labels}, expected cells {expected}')
if problems:
    sys.exit('run folder check failed:\n  ' + '\n  '.join(problems))
for _, run in runs.iterrows():
    print(f"    {run['run_name']}: finished={run['finished']} epochs_done={run['epochs_done']} "
          f"TeELBO={run.get('TeELBO')}")
EOF
say "2 array tasks ran cells 0 and 1 through igr_slurm.sbatch; both run folders have config.json and metrics.csv"

wait_job() {  # wait_job JOB SECONDS: until the job (all its tasks, requeues included) has left the queue
    local start=$SECONDS
    while squeue -h -j "$1" -o '%i' 2>/dev/null | grep -q .; do
        if [ $((SECONDS - start)) -ge "$2" ]; then
            scancel "$1" || true
            fail "job $1 still queued/running after ${2}s: $(squeue -h -j "$1" -o '%i %T %R')"
        fi
        sleep 2
    done
    echo $((SECONDS - start))
}

# 5. Resubmitting the finished array trains nothing ----------------------------------------------------------
folders_before="$(ls "$work/Log" | sort)"
# shellcheck disable=SC2086
job2="$(sbatch --parsable --array=0-1 --cpus-per-task=1 --mem=1G --time=15 \
    --output="$work/slurm/%x_%A_%a.out" --error="$work/slurm/%x_%A_%a.out" \
    igr_slurm.sbatch --direct "$SMOKE_GRID" $SMOKE_ARGS)"
job2="${job2%%;*}"
took="$(wait_job "$job2" "$timeout_s")"
if [ "$SMOKE_GRID" = vae_experiments/discrete_grid.py ]; then
    for task in 0 1; do
        grep -q "skipped" "$work/slurm/igr-grid_${job2}_${task}.out" \
            || fail "resubmitted task $task did not skip its cell (see $work/slurm/igr-grid_${job2}_${task}.out)"
    done
    [ "$(ls "$work/Log" | sort)" = "$folders_before" ] || fail "resubmission made new run folders"
    say "resubmitted array $job2: both cells skipped, no new folder (${took} s)"
fi

# 6. A task that reaches its time limit is warned, requeued, resumes and finishes ----------------------------
if [ "${SMOKE_TIMELIMIT:-1}" = 1 ] && [ "$SMOKE_GRID" = vae_experiments/discrete_grid.py ]; then
    # 2-minute limit, SIGUSR1 30 s before it (Slurm may send it up to 60 s earlier: 30-90 s after the start); the
    # run needs about two attempts (smoke mode on 4,000 images: 800 steps per epoch, 8 epochs), so it is
    # interrupted at least once. Slurm holds a requeued job for about 2 minutes (BeginTime) before it restarts.
    export IGR_SMOKE_TRAIN_N="${SMOKE_TIMELIMIT_IMAGES:-4000}"
    job3="$(sbatch --parsable --array=2 --cpus-per-task=1 --mem=2G --time=2 --signal=B:USR1@30 \
        --output="$work/slurm/%x_%A_%a.out" --error="$work/slurm/%x_%A_%a.out" \
        igr_slurm.sbatch --direct "$SMOKE_GRID" --smoke --set epochs=8)"
    job3="${job3%%;*}"
    took="$(wait_job "$job3" "${SMOKE_TIMELIMIT_TIMEOUT:-1500}")"
    unset IGR_SMOKE_TRAIN_N
    out="$work/slurm/igr-grid_${job3}_2.out"
    grep -q "got SIGUSR1" "$out" || fail "the time-limited task never got the warning signal (see $out)"
    grep -q "requeueing job" "$out" || fail "the time-limited task was not requeued (see $out)"
    grep -q "exit status 0" "$out" || fail "the requeued task did not finish (see $out)"
    requeues="$(grep -c 'requeueing job' "$out")"
    "$python" - "$work/Log" <<'EOF'
import csv
import json
import sys
from pathlib import Path

folders = [p for p in Path(sys.argv[1]).iterdir() if p.is_dir() and (p / 'config.json').exists()
           and json.loads((p / 'config.json').read_text())['hyper']['seed'] == 2]
assert len(folders) == 1, f'expected one run folder of cell 2, found {folders}'
with open(folders[0] / 'metrics.csv') as handle:
    epochs = [int(row['epoch']) for row in csv.DictReader(handle)]
assert epochs == list(range(1, 9)), f'{folders[0].name}: epochs {epochs}, expected each of 1-8 once'
status = json.loads((folders[0] / 'status.json').read_text())
assert status['finished'] and status['epochs_done'] == 8, status
print(f'    {folders[0].name}: epochs {epochs}, finished')
EOF
    say "time-limited task $job3: warned, requeued $requeues time(s), resumed and finished (${took} s)"
fi
say "PASSED"
