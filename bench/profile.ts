/**
 * `npm run bench -- --profile [--model gpt2|gpt2-large]`: where a decode step's time goes
 * in Inkwell, one process, interleaved. It times the decoder step as the engine runs it,
 * the bare onnxruntime run of the same graph with the same inputs under Inkwell's session
 * options and under onnxruntime's defaults (what transformers.js uses), and the JavaScript
 * around a step (token choice on a 50 257-wide row, KV row selection, input tensors).
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TokenChooser } from '../src/main/engine/generate/next-token';
import { sequenceRng } from '../src/main/engine/generate/rng';
import { pastName } from '../src/main/engine/onnx';
import { openDecoder, type KvCache } from '../src/main/engine/runtime';
import type { OrtKvCache } from '../src/main/engine/runtime/kv-cache';
import { describeMachine } from './machine';
import { BENCH_MODELS, ensureBenchModel, type BenchModelName } from './models';
import { median } from './report';

const PAST = 128;
const ROUNDS = 15;

function log(line: string): void {
  process.stderr.write(`[profile] ${line}\n`);
}

async function time(f: () => unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

function int64(values: readonly number[], dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
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

  const decoder = await openDecoder(model, model.config, 'cpu');
  const sessions = {
    'inkwell options (intraOp = cores, opt all)': await InferenceSession.create(model.decoderPath, {
      executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: availableParallelism(), logSeverityLevel: 3,
    }),
    'onnxruntime defaults (as transformers.js)': await InferenceSession.create(model.decoderPath, { executionProviders: ['cpu'], logSeverityLevel: 3 }),
  };
  const ids = Array.from({ length: PAST }, (_, i) => 1000 + i);
  const prefill = await decoder.step({ batch: 1, inputIds: ids, seqLen: PAST, attentionMask: ids.map(() => 1), positionIds: ids.map((_, i) => i), past: null });
  const cache = prefill.present as OrtKvCache;
  const pastTensors = await cache.tensors();
  const nLayer = model.config.nLayer;
  const feeds: Record<string, Tensor> = {
    input_ids: int64([42], [1, 1]),
    attention_mask: int64(new Array<number>(PAST + 1).fill(1), [1, PAST + 1]),
    position_ids: int64([PAST], [1, 1]),
  };
  for (let l = 0; l < nLayer; l++) {
    feeds[pastName(l, 'key')] = pastTensors[2 * l] as Tensor;
    feeds[pastName(l, 'value')] = pastTensors[2 * l + 1] as Tensor;
  }

  const samples = new Map<string, number[]>();
  const record = (label: string, ms: number): void => {
    samples.set(label, [...(samples.get(label) ?? []), ms]);
  };
  const logits = prefill.logits.slice(0, model.config.vocabSize);
  const greedy = new TokenChooser({ doSample: false, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0 }, sequenceRng(1, 0), ids);
  const topK = new TokenChooser({ doSample: true, temperature: 1, topK: 50, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0 }, sequenceRng(1, 0), ids);
  const defaults = new TokenChooser({ doSample: true, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1, noRepeatNgramSize: 0 }, sequenceRng(1, 0), ids);
  const topPOnly = new TokenChooser({ doSample: true, temperature: 1, topK: 0, topP: 0.95, repetitionPenalty: 1, noRepeatNgramSize: 0 }, sequenceRng(1, 0), ids);

  for (let round = 0; round < ROUNDS + 2; round++) {
    const keep = round >= 2;
    const put = (label: string, ms: number): void => {
      if (keep) record(label, ms);
    };
    put('Inkwell DecoderSession.step, K=1', await time(async () => {
      const out = await decoder.step({ batch: 1, inputIds: [42], seqLen: 1, attentionMask: new Array<number>(PAST + 1).fill(1), positionIds: [PAST], past: cache });
      out.present.dispose();
    }));
    for (const [label, session] of Object.entries(sessions)) {
      put(`bare session.run, K=1, ${label}`, await time(async () => {
        const out = await session.run(feeds);
        for (const t of Object.values(out)) t.dispose();
      }));
    }
    let selected: KvCache | undefined;
    put('KvCache.select([0,0,0]) of a 128-position cache', await time(() => (selected = cache.select([0, 0, 0]))));
    if (selected) {
      const k3 = selected;
      put('Inkwell DecoderSession.step, K=3', await time(async () => {
        const out = await decoder.step({ batch: 3, inputIds: [42, 43, 44], seqLen: 1, attentionMask: new Array<number>(3 * (PAST + 1)).fill(1), positionIds: [PAST, PAST, PAST], past: k3 });
        out.present.dispose();
      }));
      k3.dispose();
    }
    put('token choice: greedy argmax (1 row)', await time(() => greedy.choose(logits.slice())));
    put('token choice: top-k 50, T=1 (1 row)', await time(() => topK.choose(logits.slice())));
    put('token choice: top-p 0.95 only (1 row)', await time(() => topPOnly.choose(logits.slice())));
    put('token choice: app defaults T=0.9 k=50 p=0.95 rep 1.1 (1 row)', await time(() => defaults.choose(logits.slice())));
    put('copy of one logits row (slice)', await time(() => logits.slice()));
  }

  console.log('| what | median ms | min ms |');
  console.log('|---|---:|---:|');
  for (const [label, values] of samples) {
    console.log(`| ${label} | ${median(values).toFixed(3)} | ${Math.min(...values).toFixed(3)} |`);
  }
  cache.dispose();
  await decoder.release();
  await Promise.all(Object.values(sessions).map((s) => s.release()));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
