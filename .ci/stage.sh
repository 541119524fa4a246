# shellcheck shell=bash
# Stage runner for .ci/run: `stage NAME CMD...` runs CMD with errexit, prints timing,
# records the result, and stops the run on the first failure. The summary table is
# printed on exit (see stage_summary, installed as an EXIT trap by .ci/run).

STAGE_NAMES=()
STAGE_RESULTS=()
STAGE_SECONDS=()
STAGE_CURRENT=""
STAGE_STARTED=""

_stage_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }

_stage_elapsed() { # START -> seconds with one decimal
    awk -v a="$1" -v b="$(_stage_now)" 'BEGIN { printf "%.1f", b - a }'
}

_stage_record() { # RESULT SECONDS
    STAGE_NAMES+=("$STAGE_CURRENT")
    STAGE_RESULTS+=("$1")
    STAGE_SECONDS+=("$2")
    STAGE_CURRENT=""
}

stage() {
    local name="$1"
    shift
    STAGE_CURRENT="$name"
    STAGE_STARTED="$(_stage_now)"
    printf '\n==> %s\n' "$name"
    local rc=0
    set +e
    # A subshell outside any `if`/`||` context, so errexit stays active for multi-command stages.
    (
        set -euo pipefail
        "$@"
    )
    rc=$?
    set -e
    local secs
    secs="$(_stage_elapsed "$STAGE_STARTED")"
    if [[ $rc -eq 0 ]]; then
        printf '<== %s: OK in %ss\n' "$name" "$secs"
        _stage_record OK "$secs"
    else
        printf '<== %s: FAILED (exit code %d) in %ss\n' "$name" "$rc" "$secs"
        _stage_record FAILED "$secs"
        exit "$rc"
    fi
}

stage_summary() {
    local rc=$?
    if [[ -n "$STAGE_CURRENT" ]]; then # interrupted or killed in the middle of a stage
        _stage_record INTERRUPTED "$(_stage_elapsed "$STAGE_STARTED")"
        [[ $rc -eq 0 ]] && rc=1
    fi
    local total="0" i
    printf '\n%-40s %-12s %10s\n' "STAGE" "RESULT" "SECONDS"
    printf '%-40s %-12s %10s\n' "-----" "------" "-------"
    for i in "${!STAGE_NAMES[@]}"; do
        printf '%-40s %-12s %10s\n' "${STAGE_NAMES[$i]}" "${STAGE_RESULTS[$i]}" "${STAGE_SECONDS[$i]}"
        total="$(awk -v a="$total" -v b="${STAGE_SECONDS[$i]}" 'BEGIN { printf "%.1f", a + b }')"
    done
    printf '%-40s %-12s %10s\n' "total" "$([[ $rc -eq 0 ]] && echo OK || echo FAILED)" "$total"
    exit "$rc"
}
