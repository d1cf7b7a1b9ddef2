#!/usr/bin/env bash
# The main job end to end on the embedded default (SQLite). Called by `make demo`.
set -euo pipefail
OUT=${1:-demo-out}
CASES=${2:-3000}
export COURTARCHIVE_HOME=${COURTARCHIVE_HOME:-$OUT/home}
SHARED_EXAMPLES="$(cd "$(dirname "$0")/.." && pwd)/../shared/cath/examples"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "init: a fresh archive and pseudonym key in $COURTARCHIVE_HOME"
courtarchive init

if [ -d "$SHARED_EXAMPLES" ]; then
  step "ingest the official CaTH example lists (the *Invalid* ones must be rejected)"
  courtarchive ingest "$SHARED_EXAMPLES" || echo "(exit $?: rejected files are listed above and kept in the quarantine)"
fi

if courtarchive generate --help >/dev/null 2>&1; then
  step "generate a synthetic corpus: $CASES cases with planted truth"
  courtarchive generate --cases "$CASES" --seed 1 --out "$OUT/corpus"
  step "ingest the synthetic corpus"
  courtarchive ingest "$OUT/corpus/lists"
  step "ingest it again: nothing changes (idempotent)"
  courtarchive ingest "$OUT/corpus/lists"
fi

step "archive statistics"
courtarchive stats

if courtarchive link --help >/dev/null 2>&1 && [ -d "$OUT/corpus" ]; then
  step "link: the same defendants and complainants across lists, networks"
  courtarchive link run
  step "linkage quality against the generator's truth"
  courtarchive link evaluate --truth "$OUT/corpus"
fi

if courtarchive analyse --help >/dev/null 2>&1 && [ -d "$OUT/corpus" ]; then
  step "analyse: findings.json and an offline report.html (scope child-sexual-abuse)"
  courtarchive analyse --out "$OUT/analysis"
  echo "report: $OUT/analysis/report.html"
fi

if courtarchive compliance --help >/dev/null 2>&1; then
  step "compliance report (retention, holds, audit, rule coverage)"
  courtarchive compliance report --out "$OUT/compliance"
fi

step "an operator account (admin), then export hearings as Parquet through the disclosure gate"
courtarchive account add operator --role admin --email operator@example.org >/dev/null
courtarchive export --what hearing --format parquet --out "$OUT/exports/hearings.parquet" --as operator

if courtarchive beat --help >/dev/null 2>&1 && [ -d "$OUT/corpus/lists" ]; then
  step "daily beat digest: Greater Manchester's busiest magistrates' day, ranked by newsworthiness"
  courtarchive beat add "Greater Manchester" --force "Greater Manchester Police" --as operator >/dev/null
  # the day with most Greater Manchester magistrates' lists in the corpus
  DAY=$(ls "$OUT"/corpus/lists/*/*/ | grep -E '(manchester|bolton|wigan|stockport|tameside|oldham|bury|salford|rochdale|trafford).*MAGISTRATES' \
        | cut -c1-10 | sort | uniq -c | sort -k1,1nr -k2,2 | awk 'NR==1{print $2}')
  if [ -n "$DAY" ]; then
    courtarchive digest --beat "Greater Manchester" --date "$DAY" --top 10 --as operator
  fi
fi

step "web portal: an admin account to sign in with"
courtarchive account add admin --role admin --email admin@example.org >/dev/null
echo "demo-admin-change-me" | courtarchive account password admin --password-stdin >/dev/null
cat <<EOT
The archive is ready. Start the web portal and JSON API with
    COURTARCHIVE_HOME=$COURTARCHIVE_HOME COURTARCHIVE_REPORTS=$OUT/analysis uv run courtarchive serve --host 127.0.0.1 --port 8000
then open http://127.0.0.1:8000/ (sign in as admin / demo-admin-change-me; change it with
\`courtarchive account password admin\`).  API: http://127.0.0.1:8000/api/v1/docs
EOT

