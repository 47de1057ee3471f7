/**
 * `npm run bench -- --rows-ab OTHER_ROWS_GRAPH [--model gpt2|gpt2-large] [--precision fp32|int8|int4] [--steps N]`:
 * the bench model's current rows graph against another rows graph of the same shape and precision
 * (one made by an earlier version, say), decode steps interleaved one by one in one process, so
 * that both see the same machine. Both graphs read the same feeds (the rows graph's inputs are
 * unchanged across versions). Reports the median step of each at K = 1, 3 and 8 rows of 128
 * positions in a cache of capacity 160, as ratios.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { LOGSUMEXP_OUTPUT, newKvName, paddedHeadSize, pastName, ROWS_FILE } from '../src/main/engine/onnx';
import { isPrecision, type Precision } from '../src/main/engine/precision';
import { baseOptions } from '../src/main/engine/runtime/decoder';
import { describeMachine } from './machine';
import { graphFolder } from './measure';
import { BENCH_MODELS, ensureBenchModel, ensureBenchVariants, type BenchModelName } from './models';
import { median } from './report';
import { argValue, int64 } from './mode-args';

const PAST = 128;
const CAPACITY = 160;
const WARM_UP = 3;



async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const other = argValue(args, '--rows-ab');
  if (!other) throw new Error('--rows-ab needs the path of the other rows graph');
  const name: BenchModelName = argValue(args, '--model') === 'gpt2-large' ? 'gpt2-large' : 'gpt2';
  const precisionArg = argValue(args, '--precision') ?? 'int4';
  if (!isPrecision(precisionArg)) throw new Error(`--precision must be fp32, fp16, int8 or int4, got ${precisionArg}`);
  const precision: Precision = precisionArg;
  const steps = Number(argValue(args, '--steps') ?? (name === 'gpt2-large' ? 10 : 30));
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${argValue(args, '--steps')}`);
  const benchDir = process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench');
  const log = (line: string): void => void process.stderr.write(`[rows-ab] ${line}\n`);
  let model = await ensureBenchModel(benchDir, BENCH_MODELS[name], process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  if (precision !== 'fp32') model = await ensureBenchVariants(benchDir, model, [precision], log);
  const current = join(graphFolder(model, precision), ROWS_FILE);
  const { nLayer, nHead } = model.config;
  const headDim = paddedHeadSize(model.config);
  const sessions = { current: await InferenceSession.create(current, baseOptions('cpu')), other: await InferenceSession.create(other, baseOptions('cpu')) };
  const fetched = ['logits', LOGSUMEXP_OUTPUT, ...Array.from({ length: nLayer }, (_, l) => newKvName(l))];
  const medians = new Map<number, { current: number; other: number }>();
  for (const rows of [1, 3, 8]) {
    const lengths = new Array<number>(rows).fill(PAST);
    const feeds: Record<string, Tensor> = {
      input_ids: int64(new Array<number>(rows).fill(464), [rows, 1]),
      position_ids: int64(lengths, [rows, 1]),
      seqlens_k: new Tensor('int32', Int32Array.from(lengths), [rows]),
      total_sequence_length: new Tensor('int32', Int32Array.of(PAST + 1), []),
      logits_count: int64([1], [1]),
    };
    for (let l = 0; l < nLayer; l++) {
      for (const kind of ['key', 'value'] as const) {
        const cache = Float32Array.from({ length: rows * nHead * CAPACITY * headDim }, (_, i) => Math.sin(i) * 0.1);
        feeds[pastName(l, kind)] = new Tensor('float32', cache, [rows, nHead, CAPACITY, headDim]);
      }
    }
    const times = { current: [] as number[], other: [] as number[] };
    for (let i = 0; i < WARM_UP + steps; i++) {
      for (const which of ['current', 'other'] as const) {
        const started = performance.now();
        await sessions[which].run(feeds, fetched);
        if (i >= WARM_UP) times[which].push(performance.now() - started);
      }
    }
    medians.set(rows, { current: median(times.current), other: median(times.other) });
  }
  await Promise.all(Object.values(sessions).map((s) => s.release()));
  const machine = describeMachine();
  console.log(`\n## Rows graph A/B — ${name} ${precision}, cpu, ${machine.cpuModel}, ${machine.cpus} threads, load average ${machine.loadAverageAtStart.toFixed(1)} at the start`);
  console.log(`current: ${current}\nother:   ${other}\n${steps} interleaved steps per case, ${PAST} positions per row, capacity ${CAPACITY}\n`);
  console.log('| rows | current ms/step | other ms/step | current / other |');
  console.log('|---:|---:|---:|---:|');
  for (const [rows, m] of medians) console.log(`| ${rows} | ${m.current.toFixed(2)} | ${m.other.toFixed(2)} | ${(m.current / m.other).toFixed(3)} |`);
  const k = (rows: number, which: 'current' | 'other'): number => (medians.get(rows)?.[which] ?? NaN) / (medians.get(1)?.[which] ?? NaN);
  console.log(`\nK=3 / K=1: current ${k(3, 'current').toFixed(3)}, other ${k(3, 'other').toFixed(3)}; K=8 / K=1: current ${k(8, 'current').toFixed(3)}, other ${k(8, 'other').toFixed(3)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
