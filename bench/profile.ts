/**
 * `npm run bench -- --profile [--model gpt2|gpt2-large]`: where a decode step's time goes
 * in Inkwell, one process, interleaved. It times the decoder step as the engine runs it,
 * the bare onnxruntime run of the same graph with the same inputs under Inkwell's session
 * options and under onnxruntime's defaults (what transformers.js uses), and the JavaScript
 * around a step (token choice on a 50 257-wide row, KV row selection, input tensors).
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { PerformanceObserver } from 'node:perf_hooks';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { decoderPaths, Engine } from '../src/main/engine';
import { TokenChooser, type TokenChoiceSettings } from '../src/main/engine/generate/next-token';
import { argmax } from '../src/main/engine/generate/sampling';
import { sequenceRng } from '../src/main/engine/generate/rng';
import { pastName } from '../src/main/engine/onnx';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { openDecoder, openDecoderInThread } from '../src/main/engine/runtime';
import type { OrtKvCache } from '../src/main/engine/runtime/kv-cache';
import { InterferenceMeter } from './interference';
import { describeMachine, loadAverage } from './machine';
import { BENCH_MODELS, ensureBenchModel, type BenchModelName } from './models';
import { promptOfTokens } from './prompts';
import { median } from './report';
import { GenerationParams } from '../src/shared/api';
import { int64 } from './mode-args';

const PAST = 128;
const ROUNDS = 15;
const DECODE_STEPS = 16;
const WARMUP_ROUNDS = 2;
const MAX_INTERFERENCE = 0.25;

function log(line: string): void {
  process.stderr.write(`[profile] ${line}\n`);
}


async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const modelArg = args[args.indexOf('--model') + 1];
  const name: BenchModelName = args.includes('--model') && modelArg === 'gpt2-large' ? 'gpt2-large' : 'gpt2';
  const benchDir = process.env.INKWELL_BENCH_DIR || join((await import('node:os')).tmpdir(), 'inkwell-bench');
  const spec = BENCH_MODELS[name];
  const model = await ensureBenchModel(benchDir, spec, process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  const machine = describeMachine();
  console.log(`profile: ${spec.label}, ${machine.cpuModel}, ${machine.cpus} CPUs, load average ${machine.loadAverageAtStart.toFixed(2)}`);

  // Load, piece by piece (transformers.js is already imported: both bench workers import it up front).
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.localModelPath = join(benchDir, 'home', 'models');
  env.allowRemoteModels = false;
  const loadParts: [string, number][] = [];
  const t0 = performance.now();
  const tokenizer = await loadTokenizer(model.dir);
  loadParts.push(['Inkwell loadTokenizer', performance.now() - t0]);
  const t1 = performance.now();
  const paths = await decoderPaths(model);
  const decoder = await openDecoder(paths, model.config, 'cpu');
  loadParts.push(['Inkwell openDecoder (cpu)', performance.now() - t1]);
  const t2 = performance.now();
  await AutoTokenizer.from_pretrained(model.id);
  loadParts.push(['transformers.js AutoTokenizer.from_pretrained', performance.now() - t2]);
  for (const [label, ms] of loadParts) console.log(`load: ${label}: ${ms.toFixed(0)} ms`);
  const sessions = {
    'inkwell options (intraOp = cores, opt all)': await InferenceSession.create(model.decoderPath, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: availableParallelism(), logSeverityLevel: 3,
    }),
    'onnxruntime defaults (as transformers.js)': await InferenceSession.create(model.decoderPath, { executionProviders: ['cpu'], logSeverityLevel: 3 }),
  };
  const ids = Array.from({ length: PAST }, (_, i) => 1000 + i);
  const prefill = await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
  const cache = prefill.present;
  const cache3 = cache.select([0, 0, 0]);
  // `decoder` may keep its caches in a worker thread; the bare runs need the tensors on this one.
  const local = await openDecoderInThread(paths, model.config, 'cpu');
  const localCache = (await local.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null })).present as OrtKvCache;
  const localCache3 = localCache.select([0, 0, 0]) as OrtKvCache;
  const nLayer = model.config.nLayer;
  const headDim = model.config.nEmbd / model.config.nHead;
  /** The decoder inputs of one step for `batch` rows of `seqLen` new tokens after `past`. */
  const feedsFor = (batch: number, seqLen: number, past: readonly Tensor[] | null): Record<string, Tensor> => {
    const pastLength = past ? PAST : 0;
    const feeds: Record<string, Tensor> = {
      input_ids: int64(new Array<number>(batch * seqLen).fill(42), [batch, seqLen]),
      attention_mask: int64(new Array<number>(batch * (pastLength + seqLen)).fill(1), [batch, pastLength + seqLen]),
      position_ids: int64(Array.from({ length: batch * seqLen }, (_, i) => pastLength + (i % seqLen)), [batch, seqLen]),
    };
    for (let l = 0; l < nLayer; l++) {
      for (const [j, kind] of (['key', 'value'] as const).entries()) {
        feeds[pastName(l, kind)] = past?.[2 * l + j] ?? new Tensor('float32', new Float32Array(0), [batch, model.config.nHead, 0, headDim]);
      }
    }
    return feeds;
  };
  const feeds = {
    'prefill 128': feedsFor(1, PAST, null),
    'decode K=1': feedsFor(1, 1, await localCache.tensors()),
    'decode K=3': feedsFor(3, 1, await localCache3.tensors()),
  };

  const samples = new Map<string, number[]>();
  const logits = prefill.logits.slice(0, model.config.vocabSize);
  const chooser = (settings: Partial<TokenChoiceSettings>): TokenChooser => new TokenChooser(
    { doSample: true, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0, ...settings }, sequenceRng(1, 0), ids);
  const choosers: [string, TokenChooser][] = [
    ['greedy argmax', chooser({ doSample: false })],
    ['top-k 50, T=1', chooser({ topK: 50 })],
    ['app defaults T=0.9 k=50 p=0.95 rep 1.1', chooser({ temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1 })],
    ['top-p 0.95 alone (top-k 0)', chooser({ topP: 0.95 })],
  ];
  const steps: [string, () => Promise<unknown>][] = [
    ['Inkwell DecoderSession.step, prefill 128', async () => (await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null })).present.dispose()],
    ['Inkwell DecoderSession.step, decode K=1', async () => (await decoder.step({ batch: 1, inputIds: [42], seqLen: 1, attentionMask: new Array<number>(PAST + 1).fill(1), positionIds: [PAST], past: cache })).present.dispose()],
    ['Inkwell DecoderSession.step, decode K=3', async () => (await decoder.step({ batch: 3, inputIds: [42, 42, 42], seqLen: 1, attentionMask: new Array<number>(3 * (PAST + 1)).fill(1), positionIds: [PAST, PAST, PAST], past: cache3 })).present.dispose()],
  ];
  for (const [label, session] of Object.entries(sessions)) {
    for (const [what, f] of Object.entries(feeds)) {
      steps.push([`bare session.run, ${what}, ${label}`, async () => {
        const out = await session.run(f);
        for (const t of Object.values(out)) t.dispose();
      }]);
    }
  }
  steps.push(['KvCache.select([0,0,0]) of a 128-position cache (on this thread)', async () => localCache.select([0, 0, 0]).dispose()]);
  for (const [label, c] of choosers) steps.push([`token choice (1 row of 50 257): ${label}`, async () => void c.choose(logits.slice())]);

  // The whole loop, per decode step: Engine.generate against a bare loop (step + argmax) on the same decoder.
  const engine = new Engine({ home: join(benchDir, 'home') });
  const prompt = promptOfTokens(PAST, (text) => tokenizer.encode(text));
  const generate = async (k: number, newTokens: number): Promise<number> => {
    const result = await engine.generate({ modelId: model.id, prompt, params: GenerationParams.parse({
      maxNewTokens: newTokens, numReturnSequences: k, doSample: k > 1, topK: 50, topP: 1, temperature: 1, repetitionPenalty: 1, seed: 1, device: 'cpu',
    }) });
    return result.timings.decodeMs / (newTokens - 1);
  };
  await generate(1, 2);
  const bareLoop = async (newTokens: number): Promise<number> => {
    let out = await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
    const started = performance.now();
    for (let i = 1; i < newTokens; i++) {
      const token = argmax(out.logits);
      const next = await decoder.step({ batch: 1, inputIds: [token], seqLen: 1, attentionMask: new Array<number>(PAST + i).fill(1), positionIds: [PAST + i - 1], past: out.present });
      out.present.dispose();
      out = next;
    }
    out.present.dispose();
    return (performance.now() - started) / (newTokens - 1);
  };
  const bareLoop3 = async (newTokens: number): Promise<number> => {
    const first = await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
    const rows = [0, 1, 2].map(() => chooser({ topK: 50 }));
    let cache3Loop = first.present.select([0, 0, 0]);
    first.present.dispose();
    let logits3: Float32Array = new Float32Array(3 * model.config.vocabSize);
    for (let r = 0; r < 3; r++) logits3.set(first.logits.subarray(0, model.config.vocabSize), r * model.config.vocabSize);
    const started = performance.now();
    for (let i = 1; i < newTokens; i++) {
      const v = model.config.vocabSize;
      const tokens = rows.map((c, r) => c.choose(logits3.subarray(r * v, (r + 1) * v)));
      const next = await decoder.step({ batch: 3, inputIds: tokens, seqLen: 1, attentionMask: new Array<number>(3 * (PAST + i)).fill(1), positionIds: [PAST + i - 1, PAST + i - 1, PAST + i - 1], past: cache3Loop });
      cache3Loop.dispose();
      cache3Loop = next.present;
      logits3 = next.logits;
    }
    cache3Loop.dispose();
    return (performance.now() - started) / (newTokens - 1);
  };
  /**
   * K rows of top-k 50 sampling per step, on the Optimum graph as the loop ran before the rows
   * graph (every step returns the grown cache; KvCache.select tiles the prefill) or on the rows
   * graph (DecoderBatch: the cache stays in place; copies of the prefill). Per step, prefill excluded.
   */
  const sampledLoop = async (k: number, path: 'optimum' | 'rows', newTokens: number): Promise<number> => {
    const v = model.config.vocabSize;
    const choosers = Array.from({ length: k }, () => chooser({ topK: 50 }));
    const pick = (logits: Float32Array, shared: boolean): number[] => choosers.map((c, r) => c.choose((shared ? logits.subarray(0, v) : logits.subarray(r * v, (r + 1) * v)).slice()));
    if (path === 'rows') {
      const batch = decoder.createBatch();
      try {
        const { rows, out } = await batch.prefill(ids, k);
        let tokens = pick(out.logits, true);
        const started = performance.now();
        for (let i = 1; i < newTokens; i++) tokens = pick((await batch.decode(rows, tokens)).logits, false);
        return (performance.now() - started) / (newTokens - 1);
      } finally {
        batch.dispose();
      }
    }
    const first = await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
    let tokens = pick(first.logits, true);
    const started = performance.now();
    let cacheK = k > 1 ? first.present.select(new Array<number>(k).fill(0)) : first.present;
    if (k > 1) first.present.dispose();
    for (let i = 1; i < newTokens; i++) {
      const next = await decoder.step({ batch: k, inputIds: tokens, seqLen: 1, attentionMask: new Array<number>(k * (PAST + i)).fill(1), positionIds: new Array<number>(k).fill(PAST + i - 1), past: cacheK });
      cacheK.dispose();
      cacheK = next.present;
      tokens = pick(next.logits, false);
    }
    cacheK.dispose();
    return (performance.now() - started) / (newTokens - 1);
  };
  /** The per-step figure of `f`, and as a second entry the garbage collection time per step during it. */
  const withGc = (label: string, f: () => Promise<number>): [string, () => Promise<number>][] => {
    let gcMs = 0;
    const run = async (): Promise<number> => {
      gcMs = 0;
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) gcMs += entry.duration;
      });
      observer.observe({ entryTypes: ['gc'] });
      const perStep = await f();
      // GC entries are delivered asynchronously.
      await new Promise((resolve) => setImmediate(resolve));
      observer.disconnect();
      return perStep;
    };
    return [[label, run], [`${label}: GC ms per step`, async () => gcMs / DECODE_STEPS]];
  };
  for (const path of ['optimum', 'rows'] as const) {
    for (const k of [1, 3]) steps.push([`per decode step, ${path} graph loop, K=${k} top-k 50, ${DECODE_STEPS} steps (includes tiling for optimum K=3)`, () => sampledLoop(k, path, DECODE_STEPS + 1)]);
  }
  steps.push(...withGc(`per decode step, Engine.generate K=1 greedy, ${DECODE_STEPS} steps`, () => generate(1, DECODE_STEPS + 1)));
  steps.push(...withGc(`per decode step, bare loop K=1 (step + argmax), ${DECODE_STEPS} steps`, () => bareLoop(DECODE_STEPS + 1)));
  steps.push(...withGc(`per decode step, Engine.generate K=3 top-k 50, ${DECODE_STEPS} steps`, () => generate(3, DECODE_STEPS + 1)));
  steps.push(...withGc(`per decode step, bare loop K=3 (step + top-k 50 per row), ${DECODE_STEPS} steps`, () => bareLoop3(DECODE_STEPS + 1)));

  const meter = new InterferenceMeter([process.pid]);
  let dropped = 0;
  for (let round = 0; round < ROUNDS + WARMUP_ROUNDS; round++) {
    for (const [label, f] of steps) {
      meter.start();
      const wall = performance.now();
      const value = await f();
      // Entries that return a number report their own per-step figure; the others are timed whole.
      const ms = typeof value === 'number' ? value : performance.now() - wall;
      // Samples other programs disturbed are left out (only measurable for runs of 0.1 s and more).
      if (meter.stop() > MAX_INTERFERENCE) dropped++;
      else if (round >= WARMUP_ROUNDS) samples.set(label, [...(samples.get(label) ?? []), ms]);
    }
    log(`round ${round + 1}/${ROUNDS + WARMUP_ROUNDS} (load average ${loadAverage().toFixed(2)})`);
  }

  console.log(`${dropped} samples left out because other programs kept more than ${MAX_INTERFERENCE} CPUs busy`);
  console.log('| what | median ms | min ms | samples |');
  console.log('|---|---:|---:|---:|');
  for (const [label, values] of samples) {
    console.log(`| ${label} | ${median(values).toFixed(3)} | ${Math.min(...values).toFixed(3)} | ${values.length} |`);
  }
  cache3.dispose();
  cache.dispose();
  localCache3.dispose();
  localCache.dispose();
  await decoder.release();
  await local.release();
  await engine.dispose();
  await Promise.all(Object.values(sessions).map((s) => s.release()));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
