#!/usr/bin/env bash
# bench_vit.sh - time the continuous vision encoder (vision.md §2) at the real ViT shape
# (depth 32, width 1280, 16 heads, MLP 3456, merger to 5120, projector to 4096; random
# BF16 weights, minimal LLM) on a 640x480 image (grid 1,34,46) and a 1920x1080 image
# (grid 1,76,136): `omnic embed --pixel-values` with 2 threads. Prints the seconds (best
# of REPS, includes model open + load) and the GFLOP/s of the Linear layers (patch
# embedding, qkv/proj/gate/up/down of every block, merger, projector; 2 FLOPs per
# multiply-add); attention FLOPs are counted and printed apart.
#   bench/bench_vit.sh [--tiny]       (--tiny: a small tower, a quick smoke run)
# Env: OMNIC (default build/omnic), THREADS (2), REPS (1), BENCH_DIR (/tmp/omnic-bench-vit).
set -eu
cd "$(dirname "$0")/.."
OMNIC=${OMNIC:-build/omnic}
THREADS=${THREADS:-2}
REPS=${REPS:-1}
PY=${PYTHON:-/usr/bin/python3}
DIR=${BENCH_DIR:-/tmp/omnic-bench-vit}
if [ "${1:-}" = "--tiny" ]; then
    MODEL=$DIR/tiny
    GEN=(--depth 4 --hidden 64 --heads 4 --intermediate 96 --out-hidden 128 --fullatt 3 --window 112 --llm-hidden 64)
    GRIDS=("1,8,12" "1,16,20")
else
    MODEL=$DIR/real
    GEN=(--preset real)
    GRIDS=("1,34,46" "1,76,136")
fi
mkdir -p "$DIR"
if [ ! -f "$MODEL/config.json" ]; then
    echo "generating $MODEL ..." >&2
    "$PY" tools/make_random_vlm.py --out "$MODEL" --layout omni --dtype bf16 --shards 4 "${GEN[@]}"
fi
for g in "${GRIDS[@]}"; do
    px=$DIR/px_${g//,/_}.npy
    [ -f "$px" ] || "$PY" - "$g" "$px" <<'EOF'
import sys, numpy as np
t, h, w = map(int, sys.argv[1].split(","))
np.save(sys.argv[2], np.random.default_rng(0).standard_normal((t * h * w, 1176)).astype(np.float32))
EOF
    best=
    for _ in $(seq "$REPS"); do
        s=$(date +%s.%N)
        "$OMNIC" embed -m "$MODEL" -t "$THREADS" --pixel-values "$px" --grid "$g" --out "$DIR/rows.npy"
        e=$(date +%s.%N)
        dt=$(echo "$e - $s" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
    done
    "$PY" - "$MODEL" "$g" "$best" "$THREADS" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1] + "/config.json"))
v, D = cfg["vision_config"], cfg["text_config"]["hidden_size"]
t, h, w = map(int, sys.argv[2].split(","))
sec, thr = float(sys.argv[3]), sys.argv[4]
E, F, O, depth, wm = v["hidden_size"], v["intermediate_size"], v["out_hidden_size"], v["depth"], v["window_size"] // 28
L, M = t * h * w, t * h * w // 4
lin = 2 * L * 1176 * E + depth * 2 * L * E * (4 * E + 3 * F) + 2 * M * (16 * E * E + 4 * E * O) + 2 * M * O * D
# attention: 4 n^2 E per segment (QK^T and PV over all heads)
Mh, Mw = h // 2, w // 2
win = 0
for r in range(0, Mh, wm):
    for c in range(0, Mw, wm):
        win += (4 * min(wm, Mh - r) * min(wm, Mw - c)) ** 2
win *= t
full = t * (h * w) ** 2
nfull = len(v["fullatt_block_indexes"])
att = 4 * E * (nfull * full + (depth - nfull) * win)
print("grid %-9s %6d patches  %7.2f s  (%d threads)  Linear %.2f GFLOP -> %.2f GFLOP/s (whole-run time)  "
      "attention %.2f GFLOP" % (sys.argv[2], L, sec, int(thr), lin / 1e9, lin / 1e9 / sec, att / 1e9))
EOF
done
