#!/usr/bin/env bash
# The GPU check of docs/gpu.md, as one prepared script for a Linux machine with an NVIDIA GPU:
# generation with every precision (fp32, fp16, int8, int4) of the GPT-2 and GPT-2 Large shapes
# (random weights, written by the bench) on the CPU, on WebGPU (through Vulkan) and, where its
# provider library is installed (npm run fetch-cuda), on CUDA, printing tokens/s beside the CPU's
# and the device onnxruntime actually used (a fallback is printed with its reason); then the
# CPU bench rows (`npm run bench -- --json`) for the same precisions.
#
# Usage: scripts/gpu-check.sh [--quick] [--out DIR]
#   --quick   GPT-2 only (skips GPT-2 Large, whose weights take 3.1 GB and minutes to write)
#   --out     where results go (default out/gpu-check); generate.jsonl has one line per run
# Needs: Node 20, `npm ci` done, the Vulkan loader (libvulkan1) for WebGPU. Run from the repo root.
set -euo pipefail

quick=0
out=out/gpu-check
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$out"
bench_dir="${INKWELL_BENCH_DIR:-$(pwd)/$out/bench}"
export INKWELL_BENCH_DIR="$bench_dir"
home="$bench_dir/home"
log="$out/generate.jsonl"
: > "$log"

echo "== machine"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi: not found"; } 2>&1 | sed 's/^/  /'
if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then echo "  Vulkan loader: found"; else echo "  Vulkan loader: MISSING (apt install libvulkan1): WebGPU will fall back to the CPU"; fi
node --version | sed 's/^/  node /'

echo "== build"
npm run build >/dev/null

models=(gpt2)
[ "$quick" = 1 ] || models+=(gpt2-large)
model_args=()
for m in "${models[@]}"; do model_args+=(--model "$m"); done

echo "== models (random weights, real shapes, every precision; cached in $bench_dir)"
npm run bench -- --prepare "${model_args[@]}" --precision fp32,fp16,int8,int4 >&2

devices=(cpu webgpu)
if ls node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime_providers_cuda.so >/dev/null 2>&1; then
  devices+=(cuda)
else
  echo "  CUDA provider not installed (npm run fetch-cuda): CUDA skipped"
fi

prompt="The lighthouse keeper climbed the stairs and looked out over the water, where the boats"
echo "== generation: 64 new tokens, greedy, one sequence, after one warm-up run per case"
printf '%-12s %-6s %-8s %-8s %10s %9s  %s\n' model prec asked used tok/s "vs cpu" "fallback"
for m in "${models[@]}"; do
  id=$(ls "$home/models" | grep -E "^bench-${m}-f32-" | head -1)
  [ -n "$id" ] || { echo "gpu-check: no bench model for $m in $home/models" >&2; exit 1; }
  for p in fp32 fp16 int8 int4; do
    cpu_rate=""
    for d in "${devices[@]}"; do
      run() {
        INKWELL_HOME="$home" node out/main/cli.js generate --model "$id" --device "$d" --precision "$p" \
          --prompt "$prompt" --max-new-tokens 64 --num-return-sequences 1 --greedy --seed 1 --json 2>/dev/null
      }
      run >/dev/null || true
      if ! json=$(run); then
        printf '%-12s %-6s %-8s %-8s %10s %9s  %s\n' "$m" "$p" "$d" "-" "-" "-" "failed (see: INKWELL_HOME=$home node out/main/cli.js generate --model $id --device $d --precision $p)"
        continue
      fi
      echo "{\"shape\":\"$m\",\"asked\":\"$d\",\"result\":$json}" >> "$log"
      line=$(node -e '
        const r = JSON.parse(process.argv[1]); const cpu = Number(process.argv[2]);
        const rate = r.timings.tokens_per_second;
        const ratio = cpu > 0 ? (rate / cpu).toFixed(2) + "x" : "-";
        console.log([r.precision, r.device, rate.toFixed(1), ratio, r.device_fallback_reason ?? ""].join("\t"));
      ' "$json" "${cpu_rate:-0}")
      IFS=$'\t' read -r used_prec used_dev rate ratio reason <<< "$line"
      [ "$d" = cpu ] && cpu_rate="$rate"
      printf '%-12s %-6s %-8s %-8s %10s %9s  %s\n' "$m" "$used_prec" "$d" "$used_dev" "$rate" "$ratio" "$reason"
    done
  done
done

echo "== CPU bench rows (npm run bench -- --json; the bench measures the CPU only)"
npm run bench -- --quick "${model_args[@]}" --precision fp32,fp16,int8,int4 --json > "$out/bench-rows.json"
node -e '
  const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const r of rows) if (r.engine === "inkwell" && r.k === 1) console.log(`  ${r.shape} ${r.precision} ${r.device} k=1 ${r.sampling ?? ""}: ${r.decode_tokens_per_s.toFixed(1)} tok/s, ${r.decode_ms_per_step.toFixed(1)} ms/step (floor ${r.floor_ms.toFixed(1)} ms)`);
' "$out/bench-rows.json"
echo "== results in $out (generate.jsonl, bench-rows.json)"
