#!/usr/bin/env bash
# Builds the libFuzzer targets (Tests/Fuzz, a separate SwiftPM package that compiles the library
# targets itself from symlinks to Sources/, so the harnesses can `@testable import` them) with the
# fuzzer and AddressSanitizer, and runs each for SECONDS on a scratch copy of its seed corpus.
#
#   scripts/fuzz.sh TARGET|all SECONDS
#
# Targets: safetensors config shard-index vocab-merges tokenizer-json tokenizer-encode.
# Prints, per target, executions, exec/s, coverage (cov/ft) and findings. Exits 1 if any target
# crashed (or leaked, ran out of memory or timed out on an input); the input that did it is left
# under the printed scratch directory (<scratch>/<target>/artifacts/). The seed corpus in the
# repository is never written to, unless FUZZ_UPDATE_CORPUS=1, which merges the new inputs that
# add coverage back into Tests/Fuzz/Corpus/<target>/ (keep it small).
#
# Environment: FUZZ_WORK=DIR (scratch directory; default a new one under /tmp), FUZZ_ARGS="..."
# (extra libFuzzer flags). One fuzzing process at a time; on a shared machine run it as
# `nice -n 19 scripts/fuzz.sh all 600`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
all_targets=(safetensors config shard-index vocab-merges tokenizer-json tokenizer-encode)

usage() {
    echo "usage: scripts/fuzz.sh TARGET|all SECONDS" >&2
    echo "targets: ${all_targets[*]}" >&2
    exit 64
}
[[ $# -eq 2 ]] || usage
[[ "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || usage
seconds="$2"
if [[ "$1" == all ]]; then
    targets=("${all_targets[@]}")
else
    [[ " ${all_targets[*]} " == *" $1 "* ]] || usage
    targets=("$1")
fi

"$root/scripts/ensure-openblas.sh"

# Longest input libFuzzer may generate, per target (the encoder's piece cache starts at 2 KB;
# tokenizer files need room for 256 byte tokens).
max_len() {
    case "$1" in
        vocab-merges|tokenizer-json) echo 16384 ;;
        tokenizer-encode) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# Per-target libFuzzer flags. tokenizer-encode: without -len_control=0 libFuzzer grows the input
# length so slowly that ten minutes stay under the 2 KB at which the encoder's piece cache starts.
extra_flags() {
    case "$1" in
        tokenizer-encode) echo "-len_control=0" ;;
        *) echo "" ;;
    esac
}

work="${FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/gpt2-fuzz.XXXXXX")}"
mkdir -p "$work"
echo "== scratch directory: $work"

echo "== building the fuzz targets (debug, -sanitize=fuzzer,address; log: $work/build.log)"
build=(swift build --package-path "$root/Tests/Fuzz" -c debug -Xswiftc -sanitize=fuzzer,address)
set +e
"${build[@]}" >"$work/build.log" 2>&1
status=$?
set -e
# ld.gold warns "Cannot export local symbol '__asan_...'" for every ASan runtime symbol: toolchain
# noise, filtered out; everything else is shown.
grep -v "Cannot export local symbol '__asan" "$work/build.log" | grep -vE '^\[[0-9]+/[0-9]+\] ' || true
[[ $status -eq 0 ]] || { echo "fuzz build failed" >&2; exit 2; }
bin="$("${build[@]}" --show-bin-path)"

# The Swift runtime's crash backtracer reads the stack in a way AddressSanitizer reports as a
# stack-buffer-underflow, hiding the real failure: libFuzzer reports crashes itself.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}abort_on_error=0:symbolize=1"

summary=()
failed=0
for target in "${targets[@]}"; do
    dir="$work/$target"
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$root/Tests/Fuzz/Corpus/$target/"* "$dir/corpus/"
    dict=()
    [[ -f "$root/Tests/Fuzz/Dictionaries/$target.dict" ]] && dict=(-dict="$root/Tests/Fuzz/Dictionaries/$target.dict")
    echo "== fuzzing $target for ${seconds}s (log: $dir/fuzz.log)"
    set +e
    # shellcheck disable=SC2086
    "$bin/fuzz-$target" "$dir/corpus" "${dict[@]}" \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" $(extra_flags "$target") ${FUZZ_ARGS:-} >"$dir/fuzz.log" 2>&1
    status=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/fuzz.log" | tail -1)
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[kKmM]?b' "$dir/fuzz.log" | tail -1)
    findings=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | sort)
    slow=$(find "$dir/artifacts" -type f -name 'slow-unit-*' | wc -l)
    line="$target: ${seconds}s, ${runs:-?} executions, ${rate:-?} exec/s, ${cov:-cov: ?}, ${corpus:-corp: ?}, slow units: $slow"
    if [[ -n "$findings" || $status -ne 0 ]]; then
        failed=1
        line="$line, FINDING (exit $status): ${findings:-see the log}"
        echo "-- $target found a problem; libFuzzer said:"
        grep -E 'ERROR|Fatal error|fuzz invariant|SUMMARY|deadly signal|Test unit written' "$dir/fuzz.log" | head -20 || true
    else
        line="$line, no findings"
    fi
    echo "$line"
    summary+=("$line")
    if [[ "${FUZZ_UPDATE_CORPUS:-0}" == 1 && $status -eq 0 ]]; then
        echo "== merging new coverage into Tests/Fuzz/Corpus/$target"
        "$bin/fuzz-$target" -merge=1 -max_len="$(max_len "$target")" \
            "$root/Tests/Fuzz/Corpus/$target" "$dir/corpus" >"$dir/merge.log" 2>&1
    fi
done

echo
echo "== summary (scratch: $work)"
printf '%s\n' "${summary[@]}"
exit $failed
