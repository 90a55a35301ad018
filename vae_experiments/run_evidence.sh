#!/usr/bin/env bash
# The reduced-budget runs behind Results/REPLICATION.md, one cell after the other, seed-major (every model's seed 0
# first), each run's records copied to Results/runs as soon as it finishes. Resumable: run it again and finished
# cells are skipped, an interrupted one continues from its checkpoint.
#
#   IGR_LOG_DIR=/scratch/igr_evidence bash vae_experiments/run_evidence.sh [part ...]
#
# Parts (default: all, in this order): mnist (Table 1 MNIST and Figures 3-5: both temperature sets, the "20" ones
# with the gradient monitor), fmnist (Table 1 FMNIST, cross-validated temperatures), jv (Table 2, MNIST), sop
# (Table 3). The budget is vae_experiments/discrete_grid.py's EVIDENCE (10 epochs, seeds 0-2) for every part.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
py="${IGR_PYTHON:-$repo/.venv/bin/python}"
parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(mnist fmnist jv sop)

# run_cells SCRIPT PRESET_ARGS... -- CELL...
run_cells() {
    local script="$1"; shift
    local args=()
    while [ "$1" != "--" ]; do args+=("$1"); shift; done
    shift
    local cell code
    for cell in "$@"; do
        "$py" "$script" "${args[@]}" --cell "$cell"
        code=$?
        if [ "$code" = 3 ]; then echo "run_evidence: interrupted; run again to resume" >&2; exit 3; fi
        [ "$code" = 0 ] || echo "run_evidence: $script ${args[*]} --cell $cell exited with $code" >&2
        "$py" -m Utils.ship_runs
    done
}

# 4 models x 3 seeds, model-major cell numbers m * 3 + s: visit them seed-major
seed_major=(0 3 6 9 1 4 7 10 2 5 8 11)
for part in "${parts[@]}"; do
    case "$part" in
        mnist)
            for i in 0 1 2; do
                run_cells vae_experiments/discrete_grid.py --preset evidence_mnist_cv -- \
                    "${seed_major[@]:$((i * 4)):4}"
                run_cells vae_experiments/discrete_grid.py --preset evidence_mnist_20 -- \
                    "${seed_major[@]:$((i * 4)):4}"
            done ;;
        fmnist)
            run_cells vae_experiments/discrete_grid.py --preset evidence_fmnist_cv -- "${seed_major[@]}" ;;
        jv)
            run_cells vae_experiments/jv_grid.py --preset evidence_mnist -- "${seed_major[@]}" ;;
        sop)
            IGR_SOP_PRESET=evidence run_cells structure_output_prediction/sop.py -- "${seed_major[@]}" ;;
        *)
            echo "run_evidence: unknown part '$part'; valid parts are: mnist fmnist jv sop" >&2
            exit 2 ;;
    esac
done
