#!/usr/bin/env bash
# Lint benchmark: `pgrehearse lint` (discovery, statement splitting, other-dialect detection; no database)
# vs squawk (`squawk-cli` on PyPI, pinned in .ci/python-tools.sh) on the same corpus, in the same run;
# plus the time of one file, the pre-commit case.
#
#   bash bench/lint.sh [N_FILES] [SEED] [RUNS]       # default: 2000 42 5
#
# Each command runs RUNS times after one warm-up; the median wall time and the largest max RSS are
# reported. The corpus comes from ../shared/bench/gen_corpus.py (or PGREHEARSE_CORPUS_GEN).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
SEED="${2:-42}"
RUNS="${3:-5}"
GEN="${PGREHEARSE_CORPUS_GEN:-../shared/bench/gen_corpus.py}"
OUT="bench/out"
CORPUS="$OUT/corpus-$N-$SEED"
ONE="$OUT/one-file"
mkdir -p "$OUT"
[ -f "$CORPUS/manifest.json" ] || python3 "$GEN" "$CORPUS" "$N" "$SEED" >/dev/null
STATEMENTS=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['statements'])" "$CORPUS/manifest.json")
rm -rf "$ONE" && mkdir -p "$ONE" && cp "$(ls "$CORPUS"/*.sql | sort | sed -n 2p)" "$ONE/"

cargo build --release --quiet --bin pgrehearse
PGR="target/release/pgrehearse"
TOOLS="$(bash .ci/python-tools.sh)"
SQUAWK="$TOOLS/squawk"

echo "corpus: $CORPUS ($N files, $STATEMENTS statements); $(nproc) cores; $("$SQUAWK" --version); $("$PGR" --version)"
python3 - "$RUNS" "$STATEMENTS" \
  "pgrehearse lint|$PGR lint $CORPUS -q --fail-on never" \
  "squawk|$SQUAWK $CORPUS/*.sql" \
  "pgrehearse lint, one file|$PGR lint $ONE -q --fail-on never" \
  "squawk, one file|$SQUAWK $ONE/*.sql" <<'PY'
import glob, os, statistics, subprocess, sys, time

runs, statements = int(sys.argv[1]), int(sys.argv[2])

def run_once(argv):
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{argv[0]} exited with {code}")
    return elapsed, usage.ru_maxrss  # KiB on Linux

def measure(cmd):
    argv = []
    for part in cmd.split():
        argv.extend(sorted(glob.glob(part)) if "*" in part else [part])
    run_once(argv)  # warm-up
    samples = [run_once(argv) for _ in range(runs)]
    return statistics.median(t for t, _ in samples), max(r for _, r in samples)

results = {}
for spec in sys.argv[3:]:
    name, cmd = spec.split("|", 1)
    results[name] = measure(cmd)
    t, rss = results[name]
    rate = f"{statements / t:,.0f} statements/s" if "one file" not in name else ""
    print(f"{name:28} {t * 1000:9.1f} ms  max RSS {rss / 1024:6.1f} MB  {rate}")
ratio = results["squawk"][0] / results["pgrehearse lint"][0]
print(f"pgrehearse lint is {ratio:.1f}x {'faster' if ratio >= 1 else 'slower'} than squawk on the corpus")
PY
