#!/usr/bin/env bash
# run_bench.sh - CPU throughput of the text decoder on random-weight models of the real
# Text-Instruct shapes (0.5B and assumed 1.5B, bf16). Generates the models into ./models/
# (gitignored) with tools/make_random_hcx.py when absent, runs a 512-token prompt plus 128
# greedy tokens through `build/omnic run`, and prints a markdown table.
#   bench/run_bench.sh [MODEL ...]        MODEL in 0.5b 1.5b 8b (default: 0.5b 1.5b)
# Env: OMNIC (default build/omnic), PROMPT (512), GEN (128), THREADS (passed as -t if set),
#      PYTHON (/usr/bin/python3). Raw stderr logs go to bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
OMNIC=${OMNIC:-build/omnic}
PROMPT=${PROMPT:-512}
GEN=${GEN:-128}
[ $# -ge 1 ] || set -- 0.5b 1.5b
[ -x "$OMNIC" ] || { echo "run_bench: $OMNIC not built (make -j)" >&2; exit 1; }
mkdir -p models bench/out

ids=$("$PY" -c "import numpy as np; print(','.join(map(str, np.random.default_rng(1234).integers(0, 110592, $PROMPT))))")
rows=()
for m in "$@"; do
    dir=models/hcx-$m-bf16
    if [ ! -f "$dir/.complete" ]; then
        echo "generating $dir ..." >&2
        rm -rf "$dir.tmp"
        "$PY" tools/make_random_hcx.py --preset "$m" --dtype bf16 --seed 1 --quiet --out "$dir.tmp"
        touch "$dir.tmp/.complete"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    log=bench/out/$m.log
    targs=()
    [ -n "${THREADS:-}" ] && targs=(-t "$THREADS")
    echo "running $m ($PROMPT prompt + $GEN gen tokens) ..." >&2
    if ! "$OMNIC" run -m "$dir" --ids "$ids" -n "$GEN" --temp 0 --ignore-eos "${targs[@]}" >bench/out/$m.stdout 2>"$log"; then
        echo "run_bench: omnic failed on $m, see $log:" >&2; tail -5 "$log" >&2; exit 1
    fi
    line=$(grep -E 'prompt: [0-9]+ tokens, [0-9.]+ ms, [0-9.]+ tok/s; gen: [0-9]+ tokens' "$log" | tail -1 || true)
    [ -n "$line" ] || { echo "run_bench: no timing line in $log" >&2; exit 1; }
    rows+=("$("$PY" - "$m" "$line" <<'PYEOF'
import re, sys
m, line = sys.argv[1], sys.argv[2]
r = re.search(r"prompt: (\d+) tokens, ([\d.]+) ms, ([\d.]+) tok/s; gen: (\d+) tokens, ([\d.]+) ms, ([\d.]+) tok/s", line)
pt, pms, pts, gt, gms, gts = r.groups()
print("| %s | bf16 | %s | %s | %s | %s | %s | %s |" % (m, pt, pms, pts, gt, gms, gts))
PYEOF
)")
done
nproc_=$(nproc)
echo
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $nproc_ cores${THREADS:+, -t $THREADS}"
echo
echo "| model | weights | prompt tokens | prefill ms | prefill tok/s | gen tokens | decode ms | decode tok/s |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
