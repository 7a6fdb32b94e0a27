#!/usr/bin/env bash
# Issue 7's CPU benchmark on this machine: a TinyLlama-1.1B-shaped model
# (examples/tinyllama.json, q4f16_1, random weights) compiled for the host, then
# `mlcc bench` RUNS times (default 5) with MLCC_NUM_THREADS (default 2) threads: each run's
# decode tok/s (256 tokens after a 1-token prompt) and prefill tok/s (512 tokens), their
# medians, the peak memory of a run, decode against the copy-bandwidth roof; then, where
# perf is installed, one decode run's time by kernel (perf's samples per symbol).
#   bench/cpu.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
export MLCC_NUM_THREADS=${MLCC_NUM_THREADS:-2}
BUILD=${MLCC_BUILD_DIR:-build}
OUT=$BUILD/bench-cpu
cmake -S . -B "$BUILD" -G Ninja > /dev/null
ninja -C "$BUILD" mlcc > /dev/null
mkdir -p "$OUT"
LIB=$OUT/tinyllama-q4f16_1-cpu.so
"$BUILD/tools/mlcc" compile examples/tinyllama.json --quantization q4f16_1 --target cpu -o "$LIB" \
  > /dev/null
echo "CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) cores;" \
  "MLCC_NUM_THREADS=$MLCC_NUM_THREADS"
bench() {
  /usr/bin/time -f "peak memory %M KiB" "$BUILD/tools/mlcc" bench --model-lib "$LIB" \
    --random-weights --device cpu --generate-length 256 --prefill-length 512 "$@" 2>&1
}
: > "$OUT/runs.txt"
echo "| run | decode tok/s | roof tok/s | of roof | prefill 512 tok/s | peak memory |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq "$RUNS"); do
  out=$(bench)
  decode=$(awk '$1 == "decode" {print $3, $4, $5}' <<< "$out")
  prefill=$(awk '$1 == "prefill" && $2 == 512 {print $3}' <<< "$out")
  mem=$(awk '/peak memory/ {printf "%.0f MiB", $3 / 1024}' <<< "$out")
  read -r d roof pct <<< "$decode"
  [[ $r == 1 ]] && echo "$(grep '^library:' <<< "$out")" >&2
  echo "$d $prefill" >> "$OUT/runs.txt"
  echo "| $r | $d | $roof | $pct | $prefill | $mem |"
done
median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
echo "median of $RUNS: decode $(cut -d' ' -f1 "$OUT/runs.txt" | median) tok/s," \
  "prefill $(cut -d' ' -f2 "$OUT/runs.txt" | median) tok/s"
if command -v perf > /dev/null && perf record -q -o "$OUT/perf.data" "$BUILD/tools/mlcc" bench \
  --model-lib "$LIB" --random-weights --device cpu --generate-length 512 > /dev/null 2>&1; then
  echo
  echo "decode run by kernel (perf samples, % of the process; the rest is loading and the"
  echo "bandwidth measurement):"
  perf report -i "$OUT/perf.data" --stdio --sort sym 2> /dev/null |
    awk '/^ +[0-9.]+%/ && $3 ~ /^k_/ {sub(/_parallel_[0-9]+$/, "", $3); t[$3] += $1}
         END {for (k in t) printf "%7.2f%%  %s\n", t[k], k}' | sort -rn | head -12
fi
