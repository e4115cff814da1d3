#!/usr/bin/env bash
# Runs the whole test suite under a sanitizer:
#
#   scripts/sanitize.sh address|thread|all [extra swift test arguments]
#
# address: `swift test --sanitize=address` (AddressSanitizer, with LeakSanitizer), built in
# .build-asan; thread: `swift test --sanitize=thread` (ThreadSanitizer), built in .build-tsan.
# Both in a release build with testing enabled, as scripts/test runs the suite: the kernels as they
# ship (unoptimised, they make the end-to-end tests several times slower).
# Separate scratch paths keep the sanitized builds from invalidating the normal .build.
# Fails if a test fails or the sanitizer reports anything. Prints how long each run took.
# Installs libopenblas-dev first if it is missing. On a shared machine: `nice -n 19 scripts/sanitize.sh all`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() { echo "usage: scripts/sanitize.sh address|thread|all [swift test arguments]" >&2; exit 64; }
[[ $# -ge 1 ]] || usage
case "$1" in
    address) kinds=(address) ;;
    thread) kinds=(thread) ;;
    all) kinds=(address thread) ;;
    *) usage ;;
esac
shift

"$root/scripts/ensure-openblas.sh"
cd "$root"

# The Swift runtime's crash backtracer reads other threads' stacks in a way AddressSanitizer
# reports as a stack-buffer-underflow, which would hide the real failure if a test crashed.
export SWIFT_BACKTRACE=enable=no

status=0
for kind in "${kinds[@]}"; do
    case "$kind" in
        address)
            scratch=.build-asan
            # halt_on_error stays at its default (stop at the first report, non-zero exit).
            # allocator_may_return_null: a failed allocation returns null, as without the
            # sanitizer, so the tests of allocations too large for the machine (a request's KV
            # cache) see the error the engine turns it into, rather than ASan's abort.
            export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
            # LeakSanitizer runs at exit. These leaks are the toolchain's, not this project's
            # (Swift 6.3.1 on Linux), and are suppressed by the narrowest stack frame that names them:
            # - FoundationEssentials' readBytesFromFile leaks its 4 KB read buffer whenever
            #   Data(contentsOf:) reads an empty file (reproduced without this project: three reads
            #   of an empty file leak 3 x 4096 bytes); the tests read empty tokenizer files on purpose.
            # - Foundation's Process.run leaves a weak-reference side table behind per process run
            #   (the end-to-end tests run the generate CLI with Process).
            # - XCTest's harness (swift test runs it, with no XCTest tests) keeps its suite-run
            #   objects at exit.
            # - FoundationNetworking's URLSession (the server tests' HTTP client) leaves libcurl's
            #   per-request allocations and a weak-reference side table behind, and
            #   Process.waitUntilExit a side table per process waited on.
            mkdir -p "$scratch"
            suppressions="$root/$scratch/lsan-suppressions.txt"
            cat >"$suppressions" <<'EOF_SUPPRESSIONS'
leak:FoundationEssentials17readBytesFromFile
leak:Foundation7ProcessC3run
leak:libXCTest.so
leak:libcurl.so
leak:FoundationNetworking10URLSession
leak:Foundation7ProcessC13waitUntilExit
EOF_SUPPRESSIONS
            export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$suppressions:print_suppressions=1}"
            ;;
        thread)
            scratch=.build-tsan
            # TSan exits 66 after the run when it reported a race; make that a failure here too.
            # Allocations too large for any machine fail as they do unsanitized (the tests of
            # cacheTooLarge ask for them), instead of ending the run.
            export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:exitcode=66:allocator_may_return_null=1}"
            ;;
    esac
    echo "== swift test --sanitize=$kind (scratch: $scratch)"
    start=$(date +%s)
    set +e
    # a hung test stops the run after an hour, with every thread's backtrace (scripts/watchdog)
    # one test at a time, as scripts/test runs them (why: there)
    "$root/scripts/watchdog" 3600 swift test -c release -Xswiftc -enable-testing --no-parallel --sanitize="$kind" --scratch-path "$scratch" "$@"
    result=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    printf '== %s sanitizer: exit %d after %dm%02ds (build included)\n' "$kind" "$result" $((elapsed / 60)) $((elapsed % 60))
    [[ $result -eq 0 ]] || status=1
done
exit $status
