/**
 * `npm run bench:inspect`: the inspect pass on a random-weight model of the GPT-2 Large shape over
 * 512 tokens (fp32 weights, CPU EP): time of the pass (forward + next-token readout) against the
 * plain all-positions logits forward of the same tokens in the same run, time and bytes of one
 * layer's attention payload (the engine call, a structured clone as IPC would make, the float16
 * decode a viewer does), one layer of the logit lens, the all-layers overview, and peak memory.
 * A separate entry point from bench/gpt2.bench.ts; it writes its own JSON rows.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Engine, decodeHalfBits } from '../src/main/engine';
import { ModelStore, type StoredModel } from '../src/main/engine/models/store';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { InterferenceMeter } from './interference';
import { describeMachine } from './machine';
import { BENCH_MODELS, benchModelId, ensureBenchModel, type BenchModelName } from './models';
import { promptOfTokens } from './prompts';
import { median } from './report';

const USAGE = `npm run bench:inspect -- [options]

  --model gpt2-large|gpt2|smoke   model shape (default gpt2-large)
  --tokens N                      tokens inspected (default 512)
  --reps N                        timed passes (default 3)
  --dir DIR                       model cache (default $INKWELL_BENCH_DIR or <tmp>/inkwell-bench, shared with npm run bench)
  --json FILE                     results (default out/bench-results/inspect-<time>.json)`;

interface Options {
  model: BenchModelName;
  tokens: number;
  reps: number;
  dir: string;
  json: string;
}

/** One result row: what was measured, its median, the unit and the raw runs. */
interface Row {
  bench: 'inspect';
  model: string;
  tokens: number;
  metric: string;
  value: number;
  unit: 'ms' | 'bytes' | 'MiB' | 'ratio';
  runs?: number[];
  /** CPUs other programs kept busy during each run (noise). */
  othersCpus?: number[];
}

function parse(argv: readonly string[]): Options | 'help' {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const options: Options = {
    model: 'gpt2-large',
    tokens: 512,
    reps: 3,
    dir: process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench'),
    json: join('out', 'bench-results', `inspect-${stamp}.json`),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      return v;
    };
    const count = (): number => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg} must be a positive integer\n\n${USAGE}`);
      return n;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--model') {
      const name = value();
      if (!(name in BENCH_MODELS)) throw new Error(`--model must be one of ${Object.keys(BENCH_MODELS).join(', ')}\n\n${USAGE}`);
      options.model = name as BenchModelName;
    } else if (arg === '--tokens') options.tokens = count();
    else if (arg === '--reps') options.reps = count();
    else if (arg === '--dir') options.dir = value();
    else if (arg === '--json') options.json = value();
    else throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  return options;
}

function log(line: string): void {
  process.stderr.write(`[bench:inspect] ${line}\n`);
}

/**
 * The cached bench model with these weights, whatever decoder-graph version it was imported with
 * (the inspect graphs are built from the checkpoint itself), or a new one.
 */
async function benchModel(options: Options): Promise<StoredModel> {
  const spec = BENCH_MODELS[options.model];
  const home = join(options.dir, 'home');
  const prefix = benchModelId(spec, '');
  const cached = new ModelStore(home).list().find((m) => m.id.startsWith(prefix));
  if (cached) {
    log(`${spec.name}: reusing ${cached.dir}`);
    return cached;
  }
  return ensureBenchModel(options.dir, spec, 'inspect', log);
}

/** Peak resident memory since the last reset, in MiB (Linux: VmHWM, reset through clear_refs). */
function peakRssMiB(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function resetPeakRss(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux, or not permitted: the peak then covers the whole process.
  }
}

/** Runs `work` `reps` times, timing each run and the CPU others used meanwhile. */
async function timed(reps: number, work: (rep: number) => Promise<unknown> | unknown): Promise<{ runs: number[]; othersCpus: number[] }> {
  const meter = new InterferenceMeter([process.pid]);
  const runs: number[] = [];
  const othersCpus: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    meter.start();
    const start = performance.now();
    await work(rep);
    runs.push(performance.now() - start);
    othersCpus.push(meter.stop());
  }
  return { runs, othersCpus };
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parse(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const machine = describeMachine();
  const spec = BENCH_MODELS[options.model];
  const model = await benchModel(options);
  const engine = new Engine({ home: join(options.dir, 'home') });
  const rows: Row[] = [];
  const S = options.tokens;
  const add = (metric: string, value: number, unit: Row['unit'], extra: Partial<Row> = {}) => rows.push({ bench: 'inspect', model: spec.name, tokens: S, metric, value, unit, ...extra });
  try {
    const tokenizer = await loadTokenizer(model.dir);
    const text = promptOfTokens(S, (t) => tokenizer.encode(t));
    const baseIds = tokenizer.encode(text);
    // Each timed pass inspects different ids (the last token changes), so none is served from the held passes.
    const idsFor = (rep: number) => [...baseIds.slice(0, -1), 1000 + rep];
    const request = (rep: number) => ({ modelId: model.id, tokenIds: idsFor(rep), device: 'cpu' as const });

    log(`${spec.label}: first pass (builds the inspect graphs if missing, opens the sessions)`);
    resetPeakRss();
    const coldStart = performance.now();
    const cold = await engine.inspector.inspect(request(-1));
    add('first pass, cold (graph build + session open + pass)', performance.now() - coldStart, 'ms');
    add('of which graph build + session open', cold.timings.loadMs, 'ms');

    log(`timing ${options.reps} inspect passes over ${S} tokens`);
    const forwardMs: number[] = [];
    const readoutMs: number[] = [];
    const pass = await timed(options.reps, async (rep) => {
      const summary = await engine.inspector.inspect(request(rep));
      forwardMs.push(summary.timings.forwardMs);
      readoutMs.push(summary.timings.readoutMs);
    });
    add('inspect pass (forward + next-token readout + token views)', median(pass.runs), 'ms', pass);
    add('  forward graph (attentions, residual streams)', median(forwardMs), 'ms', { runs: forwardMs });
    add('  readout graph (ln_f + lm_head, top-10, log-probs, entropy)', median(readoutMs), 'ms', { runs: readoutMs });
    add('peak RSS during the passes', peakRssMiB(), 'MiB');

    log(`timing ${options.reps} all-positions logits forwards of the same tokens (the decoder's graph), after one untimed`);
    await engine.logits(model.id, text, true, 'cpu');
    const plain = await timed(options.reps, () => engine.logits(model.id, text, true, 'cpu'));
    add('baseline: all-positions logits forward (model_all_logits.onnx)', median(plain.runs), 'ms', plain);
    add('inspect pass / baseline forward', median(pass.runs) / median(plain.runs), 'ratio');

    const held = request(options.reps - 1);
    const summary = await engine.inspector.inspect(held);
    add('held bytes per pass (float16 attention triangles + float32 residuals)', summary.sizes.heldBytes, 'bytes');
    const layers = [0, Math.floor(spec.shape.nLayer / 2), spec.shape.nLayer - 1];
    const fetch = await timed(layers.length, (i) => engine.inspector.attention(held, layers[i] as number));
    add('one layer\'s attention payload from a held pass (engine call)', median(fetch.runs), 'ms', fetch);
    const payload = await engine.inspector.attention(held, 0);
    add('one layer\'s attention payload bytes (f16-tril)', payload.data.byteLength, 'bytes');
    add('  same layer as a float32 square', spec.shape.nHead * S * S * 4, 'bytes');
    const clone = await timed(options.reps, () => structuredClone(payload));
    add('  structured clone of the payload (what IPC copies)', median(clone.runs), 'ms', clone);
    const decode = await timed(options.reps, () => decodeHalfBits(payload.data));
    add('  float16 → float32 decode of the payload (viewer side)', median(decode.runs), 'ms', decode);

    const lens = await timed(1, () => engine.inspector.lens(held, spec.shape.nLayer - 2, 5));
    add('one layer of the logit lens, top 5 (first request)', median(lens.runs), 'ms', lens);
    const lensPayload = await engine.inspector.lens(held, spec.shape.nLayer - 2, 5);
    add('  its payload bytes', lensPayload.topIds.byteLength + lensPayload.topLogprobs.byteLength + lensPayload.nextLogprobs.byteLength + lensPayload.entropy.byteLength, 'bytes');

    const overview = await timed(1, () => engine.inspector.overview(held, 64));
    add('overview of every layer × head, 64 × 64 cells (first request)', median(overview.runs), 'ms', overview);
    add('  its payload bytes (uint8)', (await engine.inspector.overview(held, 64)).data.byteLength, 'bytes');

    const positional = await timed(1, () => engine.inspector.positionalEncodings(model.id));
    add('positional encodings: sinusoid + wpe + both cosine similarities (first request)', median(positional.runs), 'ms', positional);
    const encodings = await engine.inspector.positionalEncodings(model.id);
    const halves = [encodings.sinusoidal.values, encodings.sinusoidal.similarity, encodings.learned.values, encodings.learned.similarity];
    add('  its payload bytes (float16)', halves.reduce((sum, m) => sum + m.data.byteLength, 0), 'bytes');
  } finally {
    await engine.dispose();
  }

  const { nLayer, nEmbd, nHead } = spec.shape;
  console.log(`## Inspect pass: ${spec.label} (${nLayer} layers, d=${nEmbd}, ${nHead} heads), ${S} tokens, fp32 weights, CPU EP`);
  console.log(`${machine.cpuModel}, ${machine.cpus} logical CPUs, ${machine.memoryGiB.toFixed(1)} GiB; Node ${machine.node}; onnxruntime-node ${machine.onnxruntimeNode}; load average at start ${machine.loadAverageAtStart.toFixed(2)}`);
  console.log('');
  console.log('| measure | median | unit | runs | others\' CPUs |');
  console.log('|---|---:|---|---|---|');
  for (const r of rows) {
    const value = r.unit === 'bytes' ? `${(r.value / 1024 ** 2).toFixed(2)} MiB (${r.value})` : r.unit === 'ratio' ? `${r.value.toFixed(2)}×` : r.value.toFixed(r.value < 10 ? 2 : 0);
    const runs = r.runs ? r.runs.map((v) => v.toFixed(v < 10 ? 2 : 0)).join(', ') : '';
    const others = r.othersCpus ? r.othersCpus.map((v) => (Number.isNaN(v) ? '?' : v.toFixed(2))).join(', ') : '';
    console.log(`| ${r.metric} | ${value} | ${r.unit === 'bytes' ? '' : r.unit} | ${runs} | ${others} |`);
  }
  if (!existsSync(dirname(options.json))) mkdirSync(dirname(options.json), { recursive: true });
  writeFileSync(options.json, `${JSON.stringify({ startedAt: new Date().toISOString(), machine, rows }, null, 2)}\n`);
  log(`results written to ${options.json}`);
}

await main();
