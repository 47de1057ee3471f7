/**
 * Measures one model: loads it in an Inkwell worker and a transformers.js worker,
 * then runs every case on both, interleaved (the order alternates), warm-up first.
 */
import type { StoredModel } from '../src/main/engine/models/store';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { loadAverage } from './machine';
import type { BenchModelSpec } from './models';
import { promptOfTokens } from './prompts';
import type { Implementation, RunSpec } from './protocol';
import { WorkerHandle } from './worker-handle';

/** The implementations, in the order of the report's columns. */
export const IMPLEMENTATIONS: readonly Implementation[] = ['inkwell', 'transformers.js'];

/** Memory phases reported per implementation. */
export type Phase = 'load' | 'prefill 128' | 'prefill 512' | 'decode K=1' | 'decode K=3';

/** One timed generation shape. */
interface CaseDef {
  readonly key: CaseKey;
  readonly promptTokens: number;
  readonly k: number;
  readonly sample: boolean;
  /** 'first': one new token (time to first token); 'decode': 1 + decodeSteps new tokens. */
  readonly length: 'first' | 'decode';
  readonly phase: Phase;
}

/** Keys of the timed cases. */
export type CaseKey = 'first128' | 'first512' | 'decodeK1' | 'firstK3greedy' | 'decodeK3greedy' | 'firstK3sampled' | 'decodeK3sampled';

const CASES: readonly CaseDef[] = [
  { key: 'first128', promptTokens: 128, k: 1, sample: false, length: 'first', phase: 'prefill 128' },
  { key: 'first512', promptTokens: 512, k: 1, sample: false, length: 'first', phase: 'prefill 512' },
  { key: 'decodeK1', promptTokens: 128, k: 1, sample: false, length: 'decode', phase: 'decode K=1' },
  { key: 'firstK3greedy', promptTokens: 128, k: 3, sample: false, length: 'first', phase: 'decode K=3' },
  { key: 'decodeK3greedy', promptTokens: 128, k: 3, sample: false, length: 'decode', phase: 'decode K=3' },
  { key: 'firstK3sampled', promptTokens: 128, k: 3, sample: true, length: 'first', phase: 'decode K=3' },
  { key: 'decodeK3sampled', promptTokens: 128, k: 3, sample: true, length: 'decode', phase: 'decode K=3' },
];

/** One timed run as recorded. */
export interface RunRecord {
  wallMs: number;
  /** New tokens of the shortest sequence (less than asked when a sequence met end-of-text). */
  minNewTokens: number;
  engineTimings?: { prefillMs: number; decodeMs: number };
}

/** Everything measured for one implementation on one model. */
export interface ImplementationMeasurement {
  loadMs: number;
  /** Timed runs per case (warm-up runs excluded). */
  runs: Record<CaseKey, RunRecord[]>;
  /** Highest sampled RSS per phase, MiB. */
  phasePeakRssMiB: Record<Phase, number>;
  /** process.resourceUsage().maxRSS at the end, MiB. */
  maxRssMiB: number;
}

/** Everything measured for one model. */
export interface ModelMeasurement {
  spec: BenchModelSpec;
  model: { id: string; parameters: number; sizeBytes: number; decoderPath: string };
  reps: number;
  warmup: number;
  decodeSteps: number;
  loadAverage: { before: number; after: number };
  results: Record<Implementation, ImplementationMeasurement>;
  checks: string[];
}

function emptyRuns(): Record<CaseKey, RunRecord[]> {
  return Object.fromEntries(CASES.map((c) => [c.key, []])) as unknown as Record<CaseKey, RunRecord[]>;
}

function emptyPhases(): Record<Phase, number> {
  return { load: 0, 'prefill 128': 0, 'prefill 512': 0, 'decode K=1': 0, 'decode K=3': 0 };
}

/** Runs the cases for one stored model. */
export async function measureModel(
  spec: BenchModelSpec,
  model: StoredModel,
  home: string,
  settings: { reps: number; warmup: number; decodeSteps: number },
  log: (line: string) => void,
): Promise<ModelMeasurement> {
  const tokenizer = await loadTokenizer(model.dir);
  const prompts = new Map([128, 512].map((n) => [n, promptOfTokens(n, (text) => tokenizer.encode(text))]));
  const checks: string[] = [];
  const loadBefore = loadAverage();
  const workers = IMPLEMENTATIONS.map((impl) => new WorkerHandle(impl));
  try {
    const results = {} as Record<Implementation, ImplementationMeasurement>;
    // Loaded one after the other so neither load competes with the other for the two cores.
    for (const worker of workers) {
      const loaded = await worker.load(home, model.id);
      log(`${spec.name}: ${worker.implementation} loaded in ${(loaded.loadMs / 1000).toFixed(2)} s (RSS peak ${loaded.memory.peakRssMiB.toFixed(0)} MiB)`);
      const phases = emptyPhases();
      phases.load = loaded.memory.peakRssMiB;
      results[worker.implementation] = { loadMs: loaded.loadMs, runs: emptyRuns(), phasePeakRssMiB: phases, maxRssMiB: loaded.memory.maxRssMiB };
    }

    const specFor = (c: CaseDef): RunSpec => ({
      prompt: prompts.get(c.promptTokens) as string,
      promptTokens: c.promptTokens,
      k: c.k,
      newTokens: c.length === 'first' ? 1 : 1 + settings.decodeSteps,
      sample: c.sample,
      seed: 1234,
    });
    const greedyTokens = new Map<Implementation, number[]>();
    const total = settings.warmup + settings.reps;
    for (let rep = 0; rep < total; rep++) {
      const timed = rep >= settings.warmup;
      const started = performance.now();
      for (const [index, c] of CASES.entries()) {
        // Alternate which implementation goes first, so slow drift (thermal, other load) hits both alike.
        const order = (rep + index) % 2 === 0 ? workers : [...workers].reverse();
        for (const worker of order) {
          const runSpec = specFor(c);
          const reply = await worker.run(runSpec);
          const impl = worker.implementation;
          const result = results[impl];
          if (reply.promptTokens !== c.promptTokens) {
            throw new Error(`${impl} used ${reply.promptTokens} prompt tokens for a ${c.promptTokens}-token prompt`);
          }
          const minNewTokens = Math.min(...reply.tokens.map((t) => t.length));
          if (reply.tokens.length !== c.k) throw new Error(`${impl} returned ${reply.tokens.length} sequences, ${c.k} asked`);
          if (minNewTokens < runSpec.newTokens) {
            checks.push(`${impl} ${c.key}: a sequence met end-of-text after ${minNewTokens} of ${runSpec.newTokens} tokens (run ${rep})`);
          }
          if (c.key === 'decodeK1' && !greedyTokens.has(impl)) greedyTokens.set(impl, reply.tokens[0] ?? []);
          result.phasePeakRssMiB[c.phase] = Math.max(result.phasePeakRssMiB[c.phase], reply.memory.peakRssMiB);
          result.maxRssMiB = Math.max(result.maxRssMiB, reply.memory.maxRssMiB);
          if (timed) {
            result.runs[c.key].push({
              wallMs: reply.wallMs,
              minNewTokens,
              ...(reply.engineTimings ? { engineTimings: reply.engineTimings } : {}),
            });
          }
        }
      }
      log(`${spec.name}: ${timed ? `repetition ${rep - settings.warmup + 1}/${settings.reps}` : `warm-up ${rep + 1}/${settings.warmup}`} took ${((performance.now() - started) / 1000).toFixed(1)} s (load average ${loadAverage().toFixed(2)})`);
    }

    const ours = greedyTokens.get('inkwell') ?? [];
    const theirs = greedyTokens.get('transformers.js') ?? [];
    const same = ours.length === theirs.length && ours.every((t, i) => t === theirs[i]);
    checks.push(same
      ? `greedy K=1: both implementations produced the same ${ours.length} tokens`
      : `greedy K=1: tokens differ (inkwell ${ours.slice(0, 8).join(',')}…, transformers.js ${theirs.slice(0, 8).join(',')}…)`);
    return {
      spec,
      model: { id: model.id, parameters: model.parameters, sizeBytes: model.sizeBytes, decoderPath: model.decoderPath },
      reps: settings.reps,
      warmup: settings.warmup,
      decodeSteps: settings.decodeSteps,
      loadAverage: { before: loadBefore, after: loadAverage() },
      results,
      checks,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}
