#!/usr/bin/env bash
# Replay cache benchmark (local engine): a check of N migrations plus one new one, from the cached
# prefix of N ("warm +1"), against the same check from scratch ("cold", --no-cache) and against
# `pgrehearse lint` of the same repository, in one run; plus a check with every migration cached
# ("warm, all cached": a commit that changes no migration) and the pre-commit hook's command.
#
#   bash bench/cache.sh [N_FILES] [SEED] [ROUNDS] [HOOK_ROUNDS]   # default: 2000 42 3 9
#
# The repository is a git repository with the N migrations committed and the new one staged, as the
# pre-commit hook sees it. The checks compared with each other run with `--all-history` (every finding
# of every migration, the most work); the hook runs as the hook does (findings of the committed
# migrations' risks held back). Each round's warm +1 adds a different new migration, so that every
# round starts from the prefix of N (and not from the snapshot the previous round kept). After a check,
# a background process makes spare copies of the prefixes it used (docs/cache.md); every timed command
# starts once it has finished (a developer commits seconds apart, not milliseconds), and how long it
# took after the check answered is reported apart. The cache's cluster keeps running between checks
# (PGREHEARSE_CACHE_LINGER, default 300 s), so the hook is measured both reusing it and, with
# PGREHEARSE_CACHE_LINGER=0, starting it. Medians are reported. The cache lives in a
# directory of the benchmark's own (XDG_CACHE_HOME), cleared at the end. PGREHEARSE_BENCH_BIN names a
# binary to measure instead of building target/release/pgrehearse.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
SEED="${2:-42}"
ROUNDS="${3:-3}"
HOOK_ROUNDS="${4:-9}"
GEN="${PGREHEARSE_CORPUS_GEN:-../shared/bench/gen_corpus.py}"
OUT="bench/out"
CORPUS="$OUT/corpus-$N-$SEED"
mkdir -p "$OUT"
[ -f "$CORPUS/manifest.json" ] || python3 "$GEN" "$CORPUS" "$N" "$SEED" >/dev/null

[ -n "${PGREHEARSE_BENCH_BIN:-}" ] || cargo build --release --quiet --bin pgrehearse
BIN="${PGREHEARSE_BENCH_BIN:-$PWD/target/release/pgrehearse}"

WORK="$(mktemp -d)"
# The default cache location (the cluster on /dev/shm when present), under a home of the benchmark's.
unset PGREHEARSE_CACHE_DIR
export XDG_CACHE_HOME="$WORK/cache"
cleanup() { "$BIN" cache clear >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
REPO="$WORK/repo"
mkdir -p "$REPO/migrations"
cp "$CORPUS"/*.sql "$REPO/migrations/"
git -C "$REPO" init -q
git -C "$REPO" add -A
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qm "$N migrations"
NEXT=$(printf '%04d' $((N + 1)))
LOCK="$XDG_CACHE_HOME/pgrehearse/replay/lock"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
check() { "$BIN" check "$REPO" --engine local --fail-on never --format json --all-history "$@"; }
# Waits for the background copy of spares a check left; prints how long it ran after the check.
REFILL_T=()
settle() { local t0 t1; t0=$(now); mkdir -p "$(dirname "$LOCK")"; flock "$LOCK" true; t1=$(now); REFILL_T+=("$(elapsed "$t0" "$t1")"); }

# The prefix of N, cached once (a cold replay plus keeping the snapshot).
t0=$(now); check -v >/dev/null 2>"$WORK/fill.err"; t1=$(now)
FILL=$(elapsed "$t0" "$t1")
settle; REFILL_T=()
grep -q "no cached prefix of its $N migrations" "$WORK/fill.err"

COLD_T=(); WARM_T=(); HIT_T=(); LINT_T=()
for round in $(seq "$ROUNDS"); do
  rm -f "$REPO"/migrations/"$NEXT"_*.sql
  printf -- '-- round %s\nCREATE TABLE bench_new_%s (id bigint PRIMARY KEY, note text);\nCREATE INDEX bench_new_%s_note_idx ON bench_new_%s (note);\n' \
    "$round" "$round" "$round" "$round" > "$REPO/migrations/${NEXT}_bench_new.sql"
  git -C "$REPO" add migrations
  t0=$(now); check -v >"$WORK/warm.json" 2>"$WORK/warm.err"; t1=$(now)
  grep -q "$N of $((N + 1)) migrations cached" "$WORK/warm.err" || { cat "$WORK/warm.err"; exit 1; }
  settle
  t2=$(now); check -v >"$WORK/hit.json" 2>"$WORK/hit.err"; t3=$(now)
  grep -q "$((N + 1)) of $((N + 1)) migrations cached" "$WORK/hit.err" || { cat "$WORK/hit.err"; exit 1; }
  settle
  t4=$(now); check --no-cache >"$WORK/cold.json"; t5=$(now)
  t6=$(now); "$BIN" lint "$REPO" -q --fail-on never >/dev/null; t7=$(now)
  cmp -s "$WORK/hit.json" "$WORK/warm.json" || { echo "all-cached and warm +1 reports differ" >&2; exit 1; }
  # Cold and warm agree but for the `scan` evidence of some validation findings: lock tracing reads
  # per-backend scan counters that PostgreSQL flushes when the session has been idle for a second, at
  # moments that differ from one replay to the next (two cold replays of this corpus differ the same
  # way). Everything else must be equal.
  python3 - "$WORK/cold.json" "$WORK/warm.json" <<'PY' | tee -a "$WORK/scan-differences"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def strip(r):
    for f in r["findings"]:
        f["evidence"].get("extra", {}).pop("scan", None)
    return r
scan = sum(1 for x, y in zip(a["findings"], b["findings"])
           if x["evidence"].get("extra", {}).get("scan") != y["evidence"].get("extra", {}).get("scan"))
if strip(a) != strip(b):
    sys.exit("cold and warm reports differ beyond scan evidence")
print(f"{scan} of {len(a['findings'])} findings differ in their scan evidence only")
PY
  WARM_T+=("$(elapsed "$t0" "$t1")"); HIT_T+=("$(elapsed "$t2" "$t3")")
  COLD_T+=("$(elapsed "$t4" "$t5")"); LINT_T+=("$(elapsed "$t6" "$t7")")
done
grep -E "discovered|engine|spare|replayed|done" "$WORK/warm.err" | sed 's/^/  warm +1: /'
# What the pre-commit hooks run (human output, engine detection), with one more new migration.
HOOK_T=()
for round in $(seq "$HOOK_ROUNDS"); do
  rm -f "$REPO"/migrations/"$NEXT"_*.sql
  printf -- '-- hook round %s\nCREATE TABLE bench_hook_%s (id bigint PRIMARY KEY);\n' "$round" "$round" \
    > "$REPO/migrations/${NEXT}_bench_hook.sql"
  git -C "$REPO" add migrations
  settle
  t0=$(now); (cd "$REPO" && "$BIN" hook run . >"$WORK/hook.out" 2>"$WORK/hook.err") || true; t1=$(now)
  grep -q "replaying the migrations (local engine" "$WORK/hook.err" || { cat "$WORK/hook.err"; exit 1; }
  HOOK_T+=("$(elapsed "$t0" "$t1")")
done
settle
sed 's/^/  hook output: /' "$WORK/hook.err" "$WORK/hook.out" | head -8
# The same with the cluster stopped after every check (PGREHEARSE_CACHE_LINGER=0): each hook starts it.
HOOK0_T=()
hook_round() {
  rm -f "$REPO"/migrations/"$NEXT"_*.sql
  printf -- '-- hook round %s\nCREATE TABLE bench_hook_%s (id bigint PRIMARY KEY);\n' "$1" "$1" \
    > "$REPO/migrations/${NEXT}_bench_hook.sql"
  git -C "$REPO" add migrations
  settle
}
hook_round stopped
(cd "$REPO" && PGREHEARSE_CACHE_LINGER=0 "$BIN" hook run . >/dev/null 2>&1) || true
for round in $(seq "$HOOK_ROUNDS"); do
  hook_round "stopped_$round"
  t0=$(now); (cd "$REPO" && PGREHEARSE_CACHE_LINGER=0 "$BIN" hook run . >/dev/null 2>"$WORK/hook0.err") || true; t1=$(now)
  HOOK0_T+=("$(elapsed "$t0" "$t1")")
done
settle
python3 - "$N" "$FILL" "${COLD_T[*]}" "${WARM_T[*]}" "${HIT_T[*]}" "${LINT_T[*]}" "${HOOK_T[*]}" "${REFILL_T[*]}" "${HOOK0_T[*]}" <<'PY'
import statistics, sys
n, fill = sys.argv[1], float(sys.argv[2])
cold, warm, hit, lint, hook, refill, hook0 = ([float(x) for x in a.split()] for a in sys.argv[3:10])
m = statistics.median
print(f"{n} migrations + 1 new, local engine, medians of {len(cold)} rounds:")
print(f"  cold (--no-cache)          {m(cold):7.3f} s")
print(f"  warm +1 (prefix of {n})   {m(warm):7.3f} s   cold/warm {m(cold)/m(warm):5.1f}x")
print(f"  warm, all cached           {m(hit):7.3f} s   cold/warm {m(cold)/m(hit):5.1f}x")
print(f"  pgrehearse lint            {m(lint):7.3f} s   warm +1/lint {m(warm)/m(lint):5.2f}x")
print(f"  hook run, warm +1 (human)  {m(hook):7.3f} s   cold/hook {m(cold)/m(hook):5.1f}x, hook/lint {m(hook)/m(lint):5.2f}x  (runs: {' '.join(f'{x:.3f}' for x in sorted(hook))})")
print(f"  hook run, cluster stopped  {m(hook0):7.3f} s   cold/hook {m(cold)/m(hook0):5.1f}x, hook/lint {m(hook0)/m(lint):5.2f}x  (PGREHEARSE_CACHE_LINGER=0)")
print(f"  first fill of the cache    {fill:7.3f} s")
print(f"  spare copies, in the background after a check: {m(refill):.3f} s (median), {max(refill):.3f} s (max)")
PY
