/**
 * `npm run bench -- --profile-rows [--model gpt2|gpt2-large] [--precision fp32|int8|int4] [--steps N]`:
 * where the extra rows of a decode step go on the 'rows' graph (issue 10 §2), by operator, from
 * onnxruntime's profiler. Cases, interleaved step by step in one session:
 * - `fetch K=k cap=c`: what the engine runs (runtime/row-batch.ts): k rows of 128 positions in a
 *   cache of capacity c, fetching logits, log-sum-exps and new_kv.* (attention reads the cache in
 *   place; a graph made before that used GroupQueryAttention, which copied it into present.*).
 * Per operator it sums each node's minimum over the steps: on a shared machine a node's minimum
 * is what it costs undisturbed, and the sum is a best-case step that the medians of the wall
 * times bracket from above.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { LOGSUMEXP_OUTPUT, newKvName, paddedHeadSize, pastName } from '../src/main/engine/onnx';
import { isPrecision, type Precision } from '../src/main/engine/precision';
import { baseOptions } from '../src/main/engine/runtime/decoder';
import { TokenChooser } from '../src/main/engine/generate/next-token';
import { sequenceRng } from '../src/main/engine/generate/rng';
import { describeMachine } from './machine';
import { graphFolder } from './measure';
import { BENCH_MODELS, ensureBenchModel, ensureBenchVariants, type BenchModelName } from './models';
import { median } from './report';
import { argValue, int64 } from './mode-args';

const PAST = 128;
const WARM_UP = 2;

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

interface Case {
  readonly label: string;
  readonly rows: number;
  readonly capacity: number;
}



/** Per case: operator → the sum over its nodes of each node's minimum duration (ms) over the timed steps. */
function minimaByOperator(events: readonly ProfileEvent[], cases: readonly Case[]): Map<string, Map<string, number>> {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).sort((a, b) => a.ts - b.ts);
  const nodeMinima = new Map<string, Map<string, { op: string; ms: number }>>();
  let next = 0;
  runs.forEach((run, i) => {
    const label = (cases[i % cases.length] as Case).label;
    while (next < nodes.length && (nodes[next] as ProfileEvent).ts < run.ts) next++;
    if (i < WARM_UP * cases.length) return;
    const minima = nodeMinima.get(label) ?? new Map<string, { op: string; ms: number }>();
    nodeMinima.set(label, minima);
    for (let k = next; k < nodes.length && (nodes[k] as ProfileEvent).ts <= run.ts + run.dur; k++) {
      const node = nodes[k] as ProfileEvent;
      const op = /lm_head/.test(node.name) ? `lm_head (${node.args?.op_name ?? '?'})` : (node.args?.op_name ?? '?');
      const ms = node.dur / 1000;
      const seen = minima.get(node.name);
      if (!seen || ms < seen.ms) minima.set(node.name, { op, ms });
    }
  });
  const result = new Map<string, Map<string, number>>();
  for (const [label, minima] of nodeMinima) {
    const byOp = new Map<string, number>();
    for (const { op, ms } of minima.values()) byOp.set(op, (byOp.get(op) ?? 0) + ms);
    result.set(label, byOp);
  }
  return result;
}

/**
 * Median ms of one row's token choice as the scheduler makes it (copy of the raw row, processors,
 * choice), greedy and top-k 50 sampled, on one logits row of the model.
 */
function tokenChoiceMs(raw: Float32Array): { greedy: number; sampled: number } {
  const settings = { temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0 };
  const greedy = new TokenChooser({ ...settings, doSample: false }, sequenceRng(1, 0), []);
  const sampled = new TokenChooser({ ...settings, doSample: true }, sequenceRng(1, 0), []);
  const scratch = new Float32Array(raw.length);
  const times = { greedy: [] as number[], sampled: [] as number[] };
  for (let i = 0; i < 300; i++) {
    for (const [key, chooser] of [['greedy', greedy], ['sampled', sampled]] as const) {
      const started = performance.now();
      scratch.set(raw);
      chooser.choose(scratch);
      times[key].push(performance.now() - started);
    }
  }
  return { greedy: median(times.greedy), sampled: median(times.sampled) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const name: BenchModelName = argValue(args, '--model') === 'gpt2-large' ? 'gpt2-large' : 'gpt2';
  const precisionArg = argValue(args, '--precision') ?? 'int4';
  if (!isPrecision(precisionArg)) throw new Error(`--precision must be fp32, fp16, int8 or int4, got ${precisionArg}`);
  const precision: Precision = precisionArg;
  const steps = Number(argValue(args, '--steps') ?? (name === 'gpt2-large' ? 8 : 16));
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${argValue(args, '--steps')}`);
  const benchDir = process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench');
  const log = (line: string): void => void process.stderr.write(`[profile-rows] ${line}\n`);
  let model = await ensureBenchModel(benchDir, BENCH_MODELS[name], process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  if (precision !== 'fp32') model = await ensureBenchVariants(benchDir, model, [precision], log);
  const machine = describeMachine();
  const rowsPath = join(graphFolder(model, precision), 'model_rows.onnx');
  const { nLayer, nHead } = model.config;
  const headDim = paddedHeadSize(model.config);
  // The engine's capacity at 128 positions is 160 (row-batch.ts); 129 is no slack at all.
  const cases: Case[] = [
    { label: 'fetch K=1 cap=160', rows: 1, capacity: 160 },
    { label: 'fetch K=2 cap=160', rows: 2, capacity: 160 },
    { label: 'fetch K=3 cap=160', rows: 3, capacity: 160 },
    { label: 'fetch K=3 cap=129', rows: 3, capacity: 129 },
  ];
  const caches = new Map(cases.map((c) => [c.label, Array.from({ length: 2 * nLayer }, () => Float32Array.from({ length: c.rows * nHead * c.capacity * headDim }, (_, i) => Math.sin(i) * 0.1))]));
  const feedsOf = (c: Case): Record<string, Tensor> => {
    const lengths = new Array<number>(c.rows).fill(PAST);
    const feeds: Record<string, Tensor> = {
      input_ids: int64(new Array<number>(c.rows).fill(464), [c.rows, 1]),
      position_ids: int64(lengths, [c.rows, 1]),
      seqlens_k: new Tensor('int32', Int32Array.from(lengths), [c.rows]),
      total_sequence_length: new Tensor('int32', Int32Array.of(PAST + 1), []),
      logits_count: int64([1], [1]),
    };
    const cache = caches.get(c.label) as Float32Array[];
    for (let l = 0; l < nLayer; l++) {
      for (const [j, kind] of (['key', 'value'] as const).entries()) {
        feeds[pastName(l, kind)] = new Tensor('float32', cache[2 * l + j] as Float32Array, [c.rows, nHead, c.capacity, headDim]);
      }
    }
    return feeds;
  };
  const fetched = ['logits', LOGSUMEXP_OUTPUT, ...Array.from({ length: nLayer }, (_, l) => newKvName(l))];

  const dir = mkdtempSync(join(tmpdir(), 'inkwell-rows-profile-'));
  try {
    const session = await InferenceSession.create(rowsPath, { ...baseOptions('cpu'), enableProfiling: true, profileFilePrefix: join(dir, 'rows') });
    let lastLogits: Float32Array = new Float32Array(0);
    const step = async (c: Case): Promise<number> => {
      const feeds = feedsOf(c);
      const started = performance.now();
      const out = await session.run(feeds, fetched);
      const ms = performance.now() - started;
      lastLogits = (out.logits as Tensor).data as Float32Array;
      return ms;
    };
    const wall = new Map<string, number[]>(cases.map((c) => [c.label, []]));
    for (let i = 0; i < WARM_UP + steps; i++) {
      for (const c of cases) {
        const ms = await step(c);
        if (i >= WARM_UP) wall.get(c.label)?.push(ms);
      }
    }
    session.endProfiling();
    await session.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const byCase = minimaByOperator(JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[], cases);

    console.log(`rows-graph profile: ${BENCH_MODELS[name].label}, ${precision}, ${machine.cpuModel}, ${machine.cpus} CPUs, load average at start ${machine.loadAverageAtStart.toFixed(2)}`);
    console.log(`one decode step, every row at ${PAST} positions; ${steps} steps per case after ${WARM_UP} warm-up, cases interleaved; kernel ms = sum over nodes of each node's minimum`);
    const first = byCase.get((cases[0] as Case).label) ?? new Map<string, number>();
    const ops = [...new Set([...byCase.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => (first.get(b) ?? 0) - (first.get(a) ?? 0));
    console.log(`| operator | ${cases.map((c) => c.label).join(' | ')} |`);
    console.log(`|---|${cases.map(() => '---:').join('|')}|`);
    for (const op of ops) console.log(`| ${op} | ${cases.map((c) => (byCase.get(c.label)?.get(op) ?? 0).toFixed(2)).join(' | ')} |`);
    const total = (label: string): number => [...(byCase.get(label)?.values() ?? [])].reduce((a, b) => a + b, 0);
    console.log(`| all kernels | ${cases.map((c) => total(c.label).toFixed(1)).join(' | ')} |`);
    console.log(`| session.run wall, median | ${cases.map((c) => median(wall.get(c.label) ?? []).toFixed(1)).join(' | ')} |`);
    console.log(`| session.run wall, minimum | ${cases.map((c) => Math.min(...(wall.get(c.label) ?? [])).toFixed(1)).join(' | ')} |`);
    const choice = tokenChoiceMs(lastLogits.subarray(0, model.config.vocabSize));
    console.log(`token choice per row (JavaScript, median of 300): greedy ${choice.greedy.toFixed(3)} ms, top-k 50 sampled ${choice.sampled.toFixed(3)} ms`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
