#!/usr/bin/env bash
# Replay benchmark: pgrehearse's replay of a migration corpus vs `psql -f` of the same files, on the same
# server, in one run; plus the cold start time of the local and docker engines.
#
#   bash bench/replay.sh [N_FILES] [SEED]        # default: 2000 42 (24,364 statements)
#
# Needs PostgreSQL server binaries and psql; the docker engine is measured when PGREHEARSE_IMAGE is set
# (e.g. by `bash ../shared/ci/docker-postgres.sh`). The corpus comes from ../shared/bench/gen_corpus.py,
# or from PGREHEARSE_CORPUS_GEN if it lives elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-2000}"
SEED="${2:-42}"
GEN="${PGREHEARSE_CORPUS_GEN:-../shared/bench/gen_corpus.py}"
OUT="bench/out"
CORPUS="$OUT/corpus-$N-$SEED"
mkdir -p "$OUT"
[ -f "$CORPUS/manifest.json" ] || python3 "$GEN" "$CORPUS" "$N" "$SEED" >/dev/null
STATEMENTS=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['statements'])" "$CORPUS/manifest.json")

cargo build --release --quiet
BIN="target/release/pgrehearse"

BINDIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$BINDIR/initdb" ] || BINDIR="$(pg_config --bindir)"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then RUN_AS=(runuser -u postgres --); fi

# One throwaway server for both contenders (on tmpfs when available, as the local engine does).
PARENT=/dev/shm; [ -d "$PARENT" ] || PARENT="${TMPDIR:-/tmp}"
DIR="$(mktemp -d -p "$PARENT" pgrehearse-bench-XXXXXX)"
[ ${#RUN_AS[@]} -gt 0 ] && chown postgres "$DIR"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cleanup() { "${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
"${RUN_AS[@]}" "$BINDIR/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
"${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
  -o "-k $DIR -p $PORT -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
PSQL=(psql -X -q -h "$DIR" -p "$PORT" -U postgres)

now() { date +%s.%N; }
FILES=()
while IFS= read -r f; do FILES+=(-f "$f"); done < <(ls "$CORPUS"/*.sql | sort)

# Each contender runs ROUNDS times (default 3), interleaved, and its median counts: a shared machine's
# noise moves single runs by 20% or more. The tracing overhead is also given as the median of each
# round's ratio, whose two runs are next to each other in time.
ROUNDS="${PGREHEARSE_BENCH_ROUNDS:-3}"
URL="host=$DIR port=$PORT user=postgres dbname=postgres"
PSQL_T=(); TRACE_T=(); PLAIN_T=()
for round in $(seq "$ROUNDS"); do
  "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS bench_psql" -c "CREATE DATABASE bench_psql" >/dev/null
  t0=$(now)
  "${PSQL[@]}" -d bench_psql -v ON_ERROR_STOP=1 "${FILES[@]}" >/dev/null
  t1=$(now)
  "$BIN" check "$CORPUS" --engine url --database-url "$URL" --fail-on never -q >/dev/null
  t2=$(now)
  "$BIN" check "$CORPUS" --engine url --database-url "$URL" --fail-on never --no-lock-trace -q >/dev/null
  t3=$(now)
  PSQL_T+=("$(echo "$t1 - $t0" | bc -l)")
  TRACE_T+=("$(echo "$t2 - $t1" | bc -l)")
  PLAIN_T+=("$(echo "$t3 - $t2" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
psql_s=$(median "${PSQL_T[@]}")
pgr_s=$(median "${TRACE_T[@]}")
plain_s=$(median "${PLAIN_T[@]}")
printf 'corpus: %s files, %s statements; median of %s rounds\n' "$N" "$STATEMENTS" "$ROUNDS"
printf 'psql -f          : %7.2f s\n' "$psql_s"
printf 'pgrehearse replay, no lock tracing: %7.2f s  (%.2fx of psql)\n' "$plain_s" "$(echo "$plain_s / $psql_s" | bc -l)"
printf 'pgrehearse replay, lock tracing   : %7.2f s  (%.2fx of psql, %.2fx of replay without tracing)\n' \
  "$pgr_s" "$(echo "$pgr_s / $psql_s" | bc -l)" "$(echo "$pgr_s / $plain_s" | bc -l)"
RATIOS=()
for i in "${!PSQL_T[@]}"; do RATIOS+=("$(echo "${TRACE_T[$i]} / ${PLAIN_T[$i]}" | bc -l)"); done
printf 'lock tracing / no tracing, median of the per-round ratios: %.2fx\n' "$(median "${RATIOS[@]}")"
printf 'per round (psql / tracing / no tracing):'
for i in "${!PSQL_T[@]}"; do printf ' %.2f/%.2f/%.2f' "${PSQL_T[$i]}" "${TRACE_T[$i]}" "${PLAIN_T[$i]}"; done
echo

# Engine cold start, as reported by pgrehearse itself (a one-file repository).
TINY="$OUT/tiny"
mkdir -p "$TINY/migrations"
echo "CREATE TABLE t (id int);" > "$TINY/migrations/001_t.sql"
start_of() { "$BIN" check "$TINY" -v -q "$@" 2>&1 >/dev/null | sed -n 's/.* ready in \([0-9.]*\)s.*/\1/p'; }
for i in 1 2 3; do printf 'local engine start : %s s\n' "$(start_of --engine local)"; done
if [ -n "${PGREHEARSE_IMAGE:-}" ]; then
  for i in 1 2 3; do printf 'docker engine start: %s s\n' "$(start_of --engine docker --image "$PGREHEARSE_IMAGE")"; done
else
  echo "docker engine start: not measured (set PGREHEARSE_IMAGE)"
fi
