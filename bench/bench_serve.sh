#!/usr/bin/env bash
# bench_serve.sh - continuous-batching throughput of `omnic serve`: aggregate
# generated tokens/s with 1 client vs N concurrent clients on a server with
# --parallel N (default 4), on a random-weight bench model (generated into
# ./models/ with tools/make_random_hcx.py when absent; the golden tokenizer is
# copied in). Each client sends /v1/completions requests with a fixed random
# prompt, greedy, ignore_eos, GEN tokens each. Prints a markdown table and the
# ratio (N clients / 1 client).
#   bench/bench_serve.sh [SHAPE]     SHAPE: bench (default, 0.18B bf16) | big (0.8B) | 0.5b | small
# Env: OMNIC (build/omnic), PARALLEL (4), GEN (128), PROMPT (64), ROUNDS (2 requests
#      per client), THREADS (-t), PYTHON (/usr/bin/python3), SOAK (seconds: instead
#      run a load generator for that long and report errors and the server's RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
OMNIC=${OMNIC:-build/omnic}
PAR=${PARALLEL:-4}
GEN=${GEN:-128}
PROMPT=${PROMPT:-64}
ROUNDS=${ROUNDS:-2}
SHAPE=${1:-bench}
GOLDEN=${GOLDEN_DIR:-../shared/golden}/hcx-small/model
[ -d "$GOLDEN" ] || GOLDEN=/work/shared/golden/hcx-small/model
[ -x "$OMNIC" ] || { echo "bench_serve: $OMNIC not built (make -j)" >&2; exit 1; }
mkdir -p models bench/out

dir=models/serve-$SHAPE
if [ ! -f "$dir/.complete" ]; then
    echo "generating $dir ..." >&2
    rm -rf "$dir.tmp"
    case $SHAPE in
    bench) args=(--hidden 1024 --heads 16 --kv-heads 4 --head-dim 64 --layers 12 --ffn 4096 --vocab 768 --untied) ;;
    big) args=(--hidden 2048 --heads 16 --kv-heads 8 --head-dim 128 --layers 12 --ffn 7168 --vocab 768 --untied) ;;
    small) args=(--preset small) ;;
    0.5b) args=(--hidden 1024 --heads 16 --kv-heads 8 --head-dim 64 --layers 24 --ffn 5120 --vocab 768 --tied) ;;
    *) echo "bench_serve: unknown shape $SHAPE" >&2; exit 2 ;;
    esac
    "$PY" tools/make_random_hcx.py "${args[@]}" --dtype bf16 --seed 1 --max-pos 4096 --eos-id 733 \
        --tokenizer-from "$GOLDEN" --quiet --out "$dir.tmp"
    touch "$dir.tmp/.complete"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi

targs=()
[ -n "${THREADS:-}" ] && targs=(-t "$THREADS")
log=bench/out/serve-$SHAPE.log
"$OMNIC" serve -m "$dir" --port 0 --parallel "$PAR" --ctx 1024 "${targs[@]}" 2>"$log" &
srv=$!
trap 'kill -TERM $srv 2>/dev/null || true; wait $srv 2>/dev/null || true' EXIT
port=
for _ in $(seq 600); do
    port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\)$/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    kill -0 $srv 2>/dev/null || { echo "bench_serve: server died:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$port" ] || { echo "bench_serve: server did not start" >&2; exit 1; }

"$PY" - "$port" "$PAR" "$GEN" "$PROMPT" "$ROUNDS" "${SOAK:-0}" "$srv" "$SHAPE" <<'PYEOF'
import http.client, json, random, sys, threading, time
port, par, gen, plen, rounds, soak, pid, shape = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                                 int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]),
                                                 int(sys.argv[7]), sys.argv[8])
rng = random.Random(1)

def one(i, gen=gen, stream=False):
    prompt = [rng.randrange(0, 700) for _ in range(plen)]
    body = {"prompt": prompt, "max_tokens": gen, "temperature": 0, "ignore_eos": True, "stream": stream}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, data[:200]))
    if stream:
        return gen
    return json.loads(data)["usage"]["completion_tokens"]

def metric(name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/metrics")
    t = c.getresponse().read().decode()
    c.close()
    for line in t.splitlines():
        if line.startswith(name + "{"):
            return float(line.split()[-1])
    return 0.0

def run(clients):
    s0, b0 = metric("omnic_decode_steps_total"), metric("omnic_decode_batch_tokens_total")
    toks = [0] * clients
    def worker(k):
        for _ in range(rounds):
            toks[k] += one(k)
    ths = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.time()
    for t in ths: t.start()
    for t in ths: t.join()
    dt = time.time() - t0
    ds, db = metric("omnic_decode_steps_total") - s0, metric("omnic_decode_batch_tokens_total") - b0
    return sum(toks), dt, db / ds if ds else 0

def rss_kb():
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

one(0, gen=4)  # warm-up
if soak > 0:
    errs, done, lat = [0], [0], []
    stop = time.time() + soak
    rss = [(0.0, rss_kb())]
    def loader(k):
        r = random.Random(k)
        while time.time() < stop:
            t = time.time()
            try:
                one(k, gen=r.randrange(8, 64), stream=r.random() < 0.5)
                done[0] += 1
                lat.append(time.time() - t)
            except Exception as ex:  # noqa: BLE001
                errs[0] += 1
                print("error:", ex, file=sys.stderr)
    ths = [threading.Thread(target=loader, args=(k,)) for k in range(par * 2)]
    t0 = time.time()
    for t in ths: t.start()
    while any(t.is_alive() for t in ths):
        time.sleep(10)
        rss.append((time.time() - t0, rss_kb()))
    for t in ths: t.join()
    lat.sort()
    print("| soak | clients | requests | errors | p50 s | p99 s | RSS start MiB | RSS end MiB | RSS max MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("| %.0f s | %d | %d | %d | %.2f | %.2f | %.0f | %.0f | %.0f |" % (
        soak, par * 2, done[0], errs[0], lat[len(lat) // 2], lat[int(len(lat) * 0.99)], rss[1][1] / 1024,
        rss[-1][1] / 1024, max(r for _, r in rss) / 1024))
    sys.exit(1 if errs[0] else 0)

t1, d1, b1 = run(1)
tn, dn, bn = run(par)
print("| model | slots | clients | tokens | seconds | aggregate tok/s | mean decode batch |")
print("|---|---|---|---|---|---|---|")
print("| %s | %d | 1 | %d | %.2f | %.1f | %.2f |" % (shape, par, t1, d1, t1 / d1, b1))
print("| %s | %d | %d | %d | %.2f | %.1f | %.2f |" % (shape, par, par, tn, dn, tn / dn, bn))
print("\nratio (%d clients / 1 client): %.2fx" % (par, (tn / dn) / (t1 / d1)))
PYEOF
