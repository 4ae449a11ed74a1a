#!/usr/bin/env bash
# compare_llamacpp.sh - omnic vs llama.cpp on the same random-weight model, same
# threads, in one run (so the machine's drift cancels): pp (prefill) and tg
# (decode) tokens/s and their ratio. llama.cpp is built beside the project
# (LLAMA_BIN, default ../peer/llama.cpp/build/bin); nothing of it is committed.
#   bench/compare_llamacpp.sh SIZE TYPE      e.g. 0.5b bf16 | 0.5b q8_0 | 1.5b q4_0
#   SAME_FILE=1 bench/compare_llamacpp.sh 8b q4_0   both engines on omnic's GGUF
# Env: THREADS (2), PROMPT (512), GEN (128), REPS (1), ROUNDS (3), PEER_ARGS (extra
# llama-bench arguments, e.g. "-mmp 0" to load llama.cpp's weights without mmap).
# The engines alternate ROUNDS times (omnic REPS reps, then llama.cpp REPS reps):
# the table gives each engine's mean +- spread over the rounds and the median of
# the per-round ratios, so a VM whose speed drifts by tens of % within a minute
# still compares like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:?size: 0.5b|1.5b}; type=${2:?type: bf16|q8_0|q4_0}
T=${THREADS:-2}; P=${PROMPT:-512}; N=${GEN:-128}; R=${REPS:-1}; K=${ROUNDS:-3}
LLAMA_BIN=${LLAMA_BIN:-../peer/llama.cpp/build/bin}
PEER_PY=${PEER_PY:-../peer/llama.cpp/gguf-py}
hf=models/hcx-$size-bf16
need_hf() { [ -f "$hf/.complete" ] || { /usr/bin/python3 tools/make_random_hcx.py --preset "$size" --dtype bf16 --seed 1 --out "$hf" --quiet && touch "$hf/.complete"; }; }
peer_bf16=models/peer-$size-bf16.gguf
if [ "${SAME_FILE:-0}" = 1 ]; then
    # both engines read omnic's quantized GGUF (llama.cpp loads it): identical bytes,
    # and no second 16 GB bf16 copy for the 8B shape
    [ "$type" != bf16 ] || { echo "SAME_FILE=1 needs a quantized type" >&2; exit 2; }
    ours=models/omnic-$size-$type.gguf; peer=$ours
    [ -f "$ours" ] || { need_hf; build/omnic quantize -m "$hf" -o "$ours" --type "$type" --quiet; }
elif [ "$type" = bf16 ]; then
    need_hf
    [ -f "$peer_bf16" ] || /usr/bin/python3 bench/peer_gguf.py --gguf-py "$PEER_PY" -m "$hf" -o "$peer_bf16"
    ours=$hf; peer=$peer_bf16
else
    need_hf
    [ -f "$peer_bf16" ] || /usr/bin/python3 bench/peer_gguf.py --gguf-py "$PEER_PY" -m "$hf" -o "$peer_bf16"
    ours=models/omnic-$size-$type.gguf; peer=models/peer-$size-$type.gguf
    [ -f "$ours" ] || build/omnic quantize -m "$hf" -o "$ours" --type "$type" --quiet
    [ -f "$peer" ] || "$LLAMA_BIN/llama-quantize" "$peer_bf16" "$peer" "$(echo "$type" | tr a-z A-Z)" >/dev/null 2>&1
fi
mkdir -p bench/out
: > "bench/out/rounds-$size-$type.txt"
for k in $(seq "$K"); do
    o=bench/out/omnic-$size-$type.$k.json; l=bench/out/llama-$size-$type.$k.json
    build/omnic bench -m "$ours" -p "$P" -n "$N" -r "$R" -t "$T" --json > "$o"
    # shellcheck disable=SC2086
    "$LLAMA_BIN/llama-bench" -m "$peer" -p "$P" -n "$N" -r "$R" -t "$T" ${PEER_ARGS:-} -o json > "$l" 2>/dev/null
    echo "$o $l" >> "bench/out/rounds-$size-$type.txt"
done
/usr/bin/python3 - "bench/out/rounds-$size-$type.txt" "$size" "$type" "$T" <<'PY'
import json, statistics, sys
def pick(rows, pp):
    for r in rows:
        if (r["n_prompt"] > 0) == pp and (r["n_gen"] > 0) != pp:
            return r["avg_ts"]
    return float("nan")
rounds = [line.split() for line in open(sys.argv[1]) if line.strip()]
cols = []
for pp in (True, False):
    o = [pick(json.load(open(a)), pp) for a, _ in rounds]
    l = [pick(json.load(open(b)), pp) for _, b in rounds]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    ratio = statistics.median(a / b for a, b in zip(o, l))
    cols.append("%.1f ± %.1f | %.1f ± %.1f | %.2f" % (statistics.mean(o), sd(o), statistics.mean(l), sd(l), ratio))
print("| %s | %s | %s | %s | %s |" % (sys.argv[2], sys.argv[3], sys.argv[4], cols[0], cols[1]))
PY
