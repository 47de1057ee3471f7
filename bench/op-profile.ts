/**
 * `npm run bench -- --profile-ops [--model gpt2|gpt2-large] [--precision fp32|int8|int4|fp16]`:
 * where a K=1 decode step's time goes, by operator, from onnxruntime's own profiler: the block
 * matrices (MatMul / MatMulNBits), lm_head, attention, layer norms, the rest, and what lies
 * outside the kernels: session.run's own overhead (wall − kernels) and the engine's JavaScript
 * around a step (Engine.generate per step − bare session.run).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { Engine } from '../src/main/engine';
import { pastName } from '../src/main/engine/onnx';
import { isPrecision, type Precision } from '../src/main/engine/precision';
import { baseOptions } from '../src/main/engine/runtime/decoder';
import { GenerationParams } from '../src/shared/api';
import { describeMachine } from './machine';
import { graphFolder } from './measure';
import { BENCH_MODELS, ensureBenchModel, ensureBenchVariants, type BenchModelName } from './models';
import { median } from './report';
import { int64 } from './mode-args';

const PAST = 128;
const STEPS = 24;

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}


/** Which bucket a kernel's time goes to. */
function bucket(event: ProfileEvent): string {
  const op = event.args?.op_name ?? '?';
  const node = event.name.replace(/_kernel_time$/, '');
  if (/lm_head/.test(node)) return `lm_head (${op})`;
  if (op === 'MatMul' || op === 'MatMulNBits' || op === 'Gemm') return `block matrices (${op})`;
  if (op === 'MultiHeadAttention') return 'attention (MultiHeadAttention)';
  if (op === 'SkipLayerNormalization') return 'SkipLayerNormalization';
  if (op === 'FastGelu') return 'FastGelu';
  if (op === 'Cast') return 'Cast (fp16 boundaries)';
  return `other (${op})`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const name: BenchModelName = args[args.indexOf('--model') + 1] === 'gpt2-large' ? 'gpt2-large' : 'gpt2';
  const precisionArg = args.includes('--precision') ? args[args.indexOf('--precision') + 1] : 'int4';
  if (!isPrecision(precisionArg)) throw new Error(`--precision must be fp32, fp16, int8 or int4, got ${precisionArg}`);
  const precision: Precision = precisionArg;
  const benchDir = process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench');
  const log = (line: string): void => void process.stderr.write(`[profile-ops] ${line}\n`);
  let model = await ensureBenchModel(benchDir, BENCH_MODELS[name], process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  model = await ensureBenchVariants(benchDir, model, [precision], log);
  const machine = describeMachine();
  const decoderPath = join(graphFolder(model, precision), 'model.onnx');
  const { nLayer, nHead, nEmbd } = model.config;
  const headDim = nEmbd / nHead;

  // The cache of a 128-token prompt, from a session without the profiler.
  const plain = await InferenceSession.create(decoderPath, baseOptions('cpu'));
  const ids = Array.from({ length: PAST }, (_, i) => 1000 + i);
  const feeds = (input: readonly number[], past: readonly Tensor[] | null): Record<string, Tensor> => {
    const pastLength = past ? PAST : 0;
    const f: Record<string, Tensor> = {
      input_ids: int64(input, [1, input.length]),
      attention_mask: int64(new Array<number>(pastLength + input.length).fill(1), [1, pastLength + input.length]),
      position_ids: int64(input.map((_, i) => pastLength + i), [1, input.length]),
    };
    for (let l = 0; l < nLayer; l++) {
      for (const [j, kind] of (['key', 'value'] as const).entries()) {
        f[pastName(l, kind)] = past?.[2 * l + j] ?? new Tensor('float32', new Float32Array(0), [1, nHead, 0, headDim]);
      }
    }
    return f;
  };
  const prefill = await plain.run(feeds(ids, null));
  const cache = Array.from({ length: nLayer }, (_, l) => [prefill[`present.${l}.key`] as Tensor, prefill[`present.${l}.value`] as Tensor]).flat();
  const decodeFeeds = feeds([42], cache);

  // Bare session.run wall time per step (no profiler), then the profiled steps.
  for (let i = 0; i < 3; i++) await plain.run(decodeFeeds);
  const wall: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const started = performance.now();
    const out = await plain.run(decodeFeeds);
    wall.push(performance.now() - started);
    for (const [key, t] of Object.entries(out)) if (key !== 'logits') t.dispose();
  }
  const dir = mkdtempSync(join(tmpdir(), 'inkwell-op-profile-'));
  try {
    const profiled = await InferenceSession.create(decoderPath, { ...baseOptions('cpu'), enableProfiling: true, profileFilePrefix: join(dir, 'decode') });
    for (let i = 0; i < 3 + STEPS; i++) await profiled.run(decodeFeeds);
    profiled.endProfiling();
    await profiled.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
    const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    // The first runs warm up; the profile covers all of them, so scale to the timed share by run count.
    const perStep = new Map<string, number>();
    for (const e of nodes) perStep.set(bucket(e), (perStep.get(bucket(e)) ?? 0) + e.dur / 1000 / runs.length);
    const kernels = [...perStep.values()].reduce((a, b) => a + b, 0);

    // Engine.generate per decode step on the same model and precision.
    const engine = new Engine({ home: join(benchDir, 'home'), precision });
    const prompt = Array.from({ length: PAST }, () => ' the').join('');
    const generate = async (): Promise<number> => {
      const r = await engine.generate({ modelId: model.id, prompt, params: GenerationParams.parse({ maxNewTokens: STEPS + 1, doSample: false, repetitionPenalty: 1, device: 'cpu' }) });
      return r.timings.decodeMs / STEPS;
    };
    await generate();
    const engineStep = Math.min(await generate(), await generate());
    await engine.dispose();
    await plain.release();

    // session.run as the profiler saw it (the same runs as the kernels), and without the profiler.
    const profiledRun = runs.reduce((sum, e) => sum + e.dur, 0) / 1000 / runs.length;
    const bare = median(wall);
    console.log(`op profile: ${BENCH_MODELS[name].label}, ${precision}, ${machine.cpuModel}, ${machine.cpus} CPUs, load average ${machine.loadAverageAtStart.toFixed(2)}`);
    console.log(`decode K=1 with a ${PAST}-position cache; kernel times from onnxruntime's profiler (${runs.length} runs), wall times without it`);
    console.log('| where | ms per step | share of Engine.generate step |');
    console.log('|---|---:|---:|');
    for (const [key, ms] of [...perStep].sort((a, b) => b[1] - a[1])) console.log(`| ${key} | ${ms.toFixed(2)} | ${((100 * ms) / engineStep).toFixed(1)}% |`);
    console.log(`| all kernels | ${kernels.toFixed(2)} | ${((100 * kernels) / engineStep).toFixed(1)}% |`);
    console.log(`| session.run outside kernels (inputs, outputs, KV copies, scheduling), same runs | ${(profiledRun - kernels).toFixed(2)} | ${((100 * (profiledRun - kernels)) / engineStep).toFixed(1)}% |`);
    console.log(`| bare session.run without the profiler (median of ${STEPS}) | ${bare.toFixed(2)} | ${((100 * bare) / engineStep).toFixed(1)}% |`);
    console.log(`| engine around the run (worker thread, token choice, JS): Engine.generate − bare run | ${(engineStep - bare).toFixed(2)} | ${((100 * (engineStep - bare)) / engineStep).toFixed(1)}% |`);
    console.log(`| Engine.generate per step (best of 2) | ${engineStep.toFixed(2)} | 100% |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
