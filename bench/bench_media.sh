#!/usr/bin/env bash
# bench_media.sh - the media encoders and the vocoder at their real shapes (random BF16
# weights, 2 threads): time per item, real-time factor for audio, and the matrix
# products' GFLOP/s (FLOPs counted from the shapes, 2 per multiply-add; the time is the
# whole `omnic` process, model open and page-in included, so the share is a lower bound).
#   bench/bench_media.sh [audio|tatok|vocoder|all]     (the ViT: bench/bench_vit.sh)
# Env: OMNIC (build/omnic), THREADS (2), BENCH_DIR (/tmp/omnic-bench-media), PYTHON.
# Needs ~6 GB of disk for the generated weights (kept in BENCH_DIR between runs).
set -eu
cd "$(dirname "$0")/.."
OMNIC=${OMNIC:-build/omnic}
THREADS=${THREADS:-2}
PY=${PYTHON:-/usr/bin/python3}
DIR=${BENCH_DIR:-/tmp/omnic-bench-media}
WHAT=${1:-all}
mkdir -p "$DIR"

secs() { # run a command, print its wall seconds
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null
    e=$(date +%s.%N)
    echo "$e - $s" | bc -l
}

llm() { # a minimal unified LLM of width $2 in $1 (projector outputs must match it)
    [ -f "$1/config.json" ] || "$PY" tools/make_random_hcx.py --out "$1" --unified --vocab 1024 --hidden "$2" \
        --layers 1 --heads 32 --kv-heads 8 --head-dim 128 --ffn 1024 --dtype bf16 --seed 1 --quiet
}

if [ "$WHAT" = audio ] || [ "$WHAT" = all ]; then
    M=$DIR/audio
    if [ ! -f "$M/.complete" ]; then
        rm -rf "$M"
        llm "$M" 4096
        # audio.md §4.1 / §5.3: Whisper-large-v3 geometry + projector 1280->1280->4096; S3 1280 x 6
        "$PY" tools/make_random_audio.py "$M" --d-model 1280 --layers 32 --heads 20 --ffn 5120 --proj-hidden 1280 \
            --s3-state 1280 --s3-blocks 6 --dtype bf16 --seed 2
        touch "$M/.complete"
    fi
    "$PY" - "$DIR/a30.npy" <<'EOF'
import sys, numpy as np
t = np.arange(30 * 16000) / 16000
np.save(sys.argv[1], (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t))).astype(np.float32))
EOF
    tc=$(secs "$OMNIC" embed -m "$M" -t "$THREADS" --audio "$DIR/a30.npy" --out "$DIR/rows.npy")
    td=$(secs "$OMNIC" embed -m "$M" -t "$THREADS" --audio "$DIR/a30.npy" --stream discrete --out "$DIR/codes.npy")
    "$PY" - "$tc" "$td" "$THREADS" <<'EOF'
import sys
tc, td, th = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
# continuous, one 30 s chunk: conv1 (128->1280, k3, 3000 frames), conv2 (stride 2 -> 1500),
# 32 layers x 1500 positions (qkvo 4*E^2, MLP 2*E*F), attention 4*n^2*E, projector on 750 rows
E, F, n = 1280, 5120, 1500
cont = 2 * 3000 * 128 * E * 3 + 2 * n * E * E * 3 + 32 * 2 * n * (4 * E * E + 2 * E * F) + 2 * 750 * (E * E + E * 4096)
att = 32 * 4 * n * n * E
# S3: T = 3000 frames -> 1500 -> 750 positions, 6 blocks (q,k,v,o + MLP 1280x5120x2), FSMN small
m = 750
s3 = 2 * 3000 * 128 * E * 3 / 2 + 2 * m * E * E * 3 + 6 * 2 * m * (4 * E * E + 2 * E * F) + 6 * 4 * m * m * E
print("| audio continuous (30 s) | %.2f s | RTF %.3f | %.0f GFLOP matmul + %.0f attention | %.1f GFLOP/s | %s threads |"
      % (tc, tc / 30, cont / 1e9, att / 1e9, (cont + att) / 1e9 / tc, th))
print("| audio discrete S3 (30 s) | %.2f s | RTF %.3f | %.0f GFLOP | %.1f GFLOP/s | %s threads |"
      % (td, td / 30, s3 / 1e9, s3 / 1e9 / td, th))
EOF
fi

if [ "$WHAT" = tatok ] || [ "$WHAT" = all ]; then
    M=$DIR/tatok
    if [ ! -f "$M/.complete" ]; then
        rm -rf "$M"
        llm "$M" 4096
        # vision.md §4.3-4.5: SigLIP so400m/14 at 384 (1152 wide, 27 layers, MLP 4304), 65,536 x 1536 codebook
        "$PY" tools/make_random_tatok.py --model "$M" --width 1152 --layers 27 --heads 16 --mlp 4304 \
            --codebook 65536 --bottleneck 1536 --dtype bf16 --seed 3 --quiet
        touch "$M/.complete"
    fi
    "$PY" - "$DIR/img.npy" <<'EOF'
import sys, numpy as np
np.save(sys.argv[1], np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8))
EOF
    tt=$(secs "$OMNIC" embed -m "$M" -t "$THREADS" --rgb "$DIR/img.npy" --stream discrete --out "$DIR/tcodes.npy")
    "$PY" - "$tt" "$THREADS" <<'EOF'
import sys
t, th = float(sys.argv[1]), sys.argv[2]
E, F, n = 1152, 4304, 729
enc = 2 * n * 588 * E + 26 * 2 * n * (4 * E * E + 2 * E * F) + 26 * 4 * n * n * E + 2 * n * (E * E + E * 1536)
search = 2 * n * 65536 * 1536
build = 2 * 65536 * 1536 * 1536
print("| TA-Tok (640x480 -> 729 codes) | %.2f s incl. load + codebook build | %.0f GFLOP encoder + %.0f search + %.0f build | %.1f GFLOP/s | %s threads |"
      % (t, enc / 1e9, search / 1e9, build / 1e9, (enc + search + build) / 1e9 / t, th))
EOF
fi

if [ "$WHAT" = vocoder ] || [ "$WHAT" = all ]; then
    M=$DIR/vocoder
    if [ ! -f "$M/.complete" ]; then
        rm -rf "$M"
        mkdir -p "$M"
        "$PY" tools/make_random_vocoder.py --real --omni-dir "$M" --seed 4
        touch "$M/.complete"
    fi
    "$PY" - "$DIR/units.npy" "$DIR/ref.npy" <<'EOF'
import sys, numpy as np
r = np.random.default_rng(0)
np.save(sys.argv[1], r.integers(0, 6561, 250).astype(np.int32))      # 10 s of speech
np.save(sys.argv[2], (0.1 * r.standard_normal(24000 * 5)).astype(np.float32))
EOF
    for mode in ft zs; do
        if [ $mode = ft ]; then extra=(--voice 0); else extra=(--ref-audio "$DIR/ref.npy"); fi
        "$OMNIC" vocode -m "$M" -t "$THREADS" --units "$DIR/units.npy" "${extra[@]}" --out "$DIR/v.npy" --timing 2>&1 \
            | sed "s/^/vocoder $mode: /" | tail -3
    done
fi
