#!/usr/bin/env bash
# Replay cache benchmark, docker and url engines (bench/cache.sh measures the local engine and the
# hook). url: the snapshots are databases on the server `--database-url` names, and a check resumes
# from a `CREATE DATABASE … TEMPLATE` copy made there. docker: the snapshots are databases of a
# cluster kept in a named volume, which each check's container mounts. A check of N migrations plus
# one new one from the cached prefix of N ("warm +1"), against the same check from scratch ("cold",
# --no-cache), a check with every migration cached, and `pgrehearse lint`, in one run.
#
#   bash bench/cache-engine.sh url|docker [N_FILES] [SEED] [ROUNDS]   # default: 2000 42 3
#
# docker: the image is PGREHEARSE_IMAGE (default: the docker engine's, postgres:17).
# url: the server is PGREHEARSE_BENCH_URL when set; otherwise a temporary cluster of the PostgreSQL
# binaries found (initdb; as the `postgres` user when run as root) under PGREHEARSE_BENCH_PGDATA_PARENT
# (default: the system's temporary directory, on disk; /dev/shm keeps it in memory), reached on a
# unix socket, stopped and removed at the end. The checks run with `--all-history` (every finding
# built). The cache lives in a directory of the benchmark's own; `cache clear --database-url` drops
# its snapshots at the end. Medians are reported. PGREHEARSE_BENCH_BIN names a binary to measure
# instead of building target/release/pgrehearse.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE="${1:?url or docker}"
N="${2:-2000}"
SEED="${3:-42}"
ROUNDS="${4:-3}"
GEN="${PGREHEARSE_CORPUS_GEN:-../shared/bench/gen_corpus.py}"
OUT="bench/out"
CORPUS="$OUT/corpus-$N-$SEED"
mkdir -p "$OUT"
[ -f "$CORPUS/manifest.json" ] || python3 "$GEN" "$CORPUS" "$N" "$SEED" >/dev/null

[ -n "${PGREHEARSE_BENCH_BIN:-}" ] || cargo build --release --quiet --bin pgrehearse
BIN="${PGREHEARSE_BENCH_BIN:-$PWD/target/release/pgrehearse}"

WORK="$(mktemp -d)"
export PGREHEARSE_CACHE_DIR="$WORK/cache"
PGDIR=""
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "${URL:-}" ]; then "$BIN" cache clear --database-url "$URL" >/dev/null 2>&1 || true
  else "$BIN" cache clear >/dev/null 2>&1 || true; fi
  if [ -n "$PGDIR" ]; then
    as_server "$BINDIR/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$ENGINE" = docker ]; then
  ENGINE_ARGS=(--engine docker)
  [ -n "${PGREHEARSE_IMAGE:-}" ] && ENGINE_ARGS+=(--image "$PGREHEARSE_IMAGE")
elif [ -n "${PGREHEARSE_BENCH_URL:-}" ]; then
  URL="$PGREHEARSE_BENCH_URL"
else
  BINDIR="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  PGDIR="$(mktemp -d -p "${PGREHEARSE_BENCH_PGDATA_PARENT:-${TMPDIR:-/tmp}}")"
  [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
  as_server "$BINDIR/initdb" -D "$PGDIR/data" -A trust -U bench >/dev/null
  as_server "$BINDIR/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
    -o "-k $PGDIR -c listen_addresses= -p 5499 -c fsync=off" start >/dev/null
  URL="host=$PGDIR port=5499 user=bench dbname=postgres"
fi
[ -n "${URL:-}" ] && ENGINE_ARGS=(--engine url --database-url "$URL")
REPO="$WORK/repo"
mkdir -p "$REPO/migrations"
cp "$CORPUS"/*.sql "$REPO/migrations/"
NEXT=$(printf '%04d' $((N + 1)))

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
check() { "$BIN" check "$REPO" "${ENGINE_ARGS[@]}" --fail-on never --format json --all-history "$@"; }

t0=$(now); check -v >/dev/null 2>"$WORK/fill.err"; t1=$(now)
FILL=$(elapsed "$t0" "$t1")
grep -q "no cached prefix of its $N migrations" "$WORK/fill.err" || { cat "$WORK/fill.err"; exit 1; }

COLD_T=(); WARM_T=(); HIT_T=(); LINT_T=()
for round in $(seq "$ROUNDS"); do
  rm -f "$REPO"/migrations/"$NEXT"_*.sql
  printf -- '-- round %s\nCREATE TABLE bench_new_%s (id bigint PRIMARY KEY, note text);\n' \
    "$round" "$round" > "$REPO/migrations/${NEXT}_bench_new.sql"
  t0=$(now); check -v >"$WORK/warm.json" 2>"$WORK/warm.err"; t1=$(now)
  grep -q "$N of $((N + 1)) migrations cached" "$WORK/warm.err" || { cat "$WORK/warm.err"; exit 1; }
  t2=$(now); check -v >"$WORK/hit.json" 2>"$WORK/hit.err"; t3=$(now)
  grep -q "$((N + 1)) of $((N + 1)) migrations cached" "$WORK/hit.err" || { cat "$WORK/hit.err"; exit 1; }
  t4=$(now); check --no-cache >"$WORK/cold.json"; t5=$(now)
  t6=$(now); "$BIN" lint "$REPO" -q --fail-on never >/dev/null; t7=$(now)
  cmp -s "$WORK/hit.json" "$WORK/warm.json" || { echo "all-cached and warm +1 reports differ" >&2; exit 1; }
  # As in bench/cache.sh: cold and warm may differ in lock tracing's `scan` evidence only.
  python3 - "$WORK/cold.json" "$WORK/warm.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def strip(r):
    for f in r["findings"]:
        f["evidence"].get("extra", {}).pop("scan", None)
    return r
if strip(a) != strip(b):
    sys.exit("cold and warm reports differ beyond scan evidence")
PY
  WARM_T+=("$(elapsed "$t0" "$t1")"); HIT_T+=("$(elapsed "$t2" "$t3")")
  COLD_T+=("$(elapsed "$t4" "$t5")"); LINT_T+=("$(elapsed "$t6" "$t7")")
done
grep -E "engine|replayed|done" "$WORK/warm.err" | sed 's/^/  warm +1: /'
python3 - "$N" "$FILL" "${COLD_T[*]}" "${WARM_T[*]}" "${HIT_T[*]}" "${LINT_T[*]}" "$ENGINE" <<'PY'
import statistics, sys
n, fill = sys.argv[1], float(sys.argv[2])
cold, warm, hit, lint = ([float(x) for x in a.split()] for a in sys.argv[3:7])
m = statistics.median
print(f"{n} migrations + 1 new, {sys.argv[7]} engine, medians of {len(cold)} rounds:")
print(f"  cold (--no-cache)          {m(cold):7.3f} s")
print(f"  warm +1 (prefix of {n})   {m(warm):7.3f} s   cold/warm {m(cold)/m(warm):5.1f}x")
print(f"  warm, all cached           {m(hit):7.3f} s   cold/warm {m(cold)/m(hit):5.1f}x")
print(f"  pgrehearse lint            {m(lint):7.3f} s   warm +1/lint {m(warm)/m(lint):5.2f}x")
print(f"  first fill of the cache    {fill:7.3f} s")
PY
