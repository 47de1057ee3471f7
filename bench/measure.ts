/**
 * Measures one model: loads it in an Inkwell worker and a transformers.js worker,
 * then runs every case on both, interleaved (the order alternates), warm-up first; then
 * Inkwell's speculative cases (a self-draft), which transformers.js has no counterpart of.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { DEFAULT_DRAFT_TOKENS } from '../src/main/engine';
import type { StoredModel } from '../src/main/engine/models/store';
import type { Precision } from '../src/main/engine/precision';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { InterferenceMeter } from './interference';
import { loadAverage } from './machine';
import { RssSampler } from './rss-sampler';
import type { BenchModelSpec } from './models';
import { promptOfTokens } from './prompts';
import type { DraftOutcome, Implementation, LoadSpec, RunSpec, SelfDraft } from './protocol';
import { WorkerHandle } from './worker-handle';

/** The implementations, in the order of the report's columns. */
export const IMPLEMENTATIONS: readonly Implementation[] = ['inkwell', 'transformers.js'];

/** Memory phases reported per implementation (a generation phase includes its prompt's prefill). */
export type Phase = 'load' | 'prefill 128' | 'prefill 512' | 'K=1 generation' | 'K=3 generation' | 'speculative K=1 generation';

/** One timed generation shape. */
interface CaseDef {
  readonly key: CaseKey;
  readonly promptTokens: number;
  readonly k: number;
  readonly sample: boolean;
  /** 'first': one new token (time to first token); 'decode': 1 + decodeSteps new tokens. */
  readonly length: 'first' | 'decode';
  readonly phase: Phase;
  /** Inkwell only, with the measurement's self-draft, after every other case. */
  readonly speculative?: true;
}

/** A disturbed run is tried at most this many times; the last try is kept and its disturbance recorded. */
const MAX_ATTEMPTS = 4;
const RETRY_PAUSE_MS = 1500;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keys of the timed cases. */
export type CaseKey =
  | 'first128' | 'first512' | 'decodeK1' | 'decodeK1sampled' | 'firstK3greedy' | 'decodeK3greedy' | 'firstK3sampled' | 'decodeK3sampled'
  | 'firstSpeculative' | 'decodeK1speculative' | 'decodeK1speculativeSampled';

const CASES: readonly CaseDef[] = [
  { key: 'first128', promptTokens: 128, k: 1, sample: false, length: 'first', phase: 'prefill 128' },
  { key: 'first512', promptTokens: 512, k: 1, sample: false, length: 'first', phase: 'prefill 512' },
  { key: 'decodeK1', promptTokens: 128, k: 1, sample: false, length: 'decode', phase: 'K=1 generation' },
  { key: 'decodeK1sampled', promptTokens: 128, k: 1, sample: true, length: 'decode', phase: 'K=1 generation' },
  { key: 'firstK3greedy', promptTokens: 128, k: 3, sample: false, length: 'first', phase: 'K=3 generation' },
  { key: 'decodeK3greedy', promptTokens: 128, k: 3, sample: false, length: 'decode', phase: 'K=3 generation' },
  { key: 'firstK3sampled', promptTokens: 128, k: 3, sample: true, length: 'first', phase: 'K=3 generation' },
  { key: 'decodeK3sampled', promptTokens: 128, k: 3, sample: true, length: 'decode', phase: 'K=3 generation' },
  // The draft's prefill comes before the first token too, so its time to first token is its own case.
  { key: 'firstSpeculative', promptTokens: 128, k: 1, sample: false, length: 'first', phase: 'speculative K=1 generation', speculative: true },
  { key: 'decodeK1speculative', promptTokens: 128, k: 1, sample: false, length: 'decode', phase: 'speculative K=1 generation', speculative: true },
  { key: 'decodeK1speculativeSampled', promptTokens: 128, k: 1, sample: true, length: 'decode', phase: 'speculative K=1 generation', speculative: true },
];

/**
 * The self-draft of each target precision: the same model's next smaller variant (fp32 and fp16:
 * int8, which agrees with fp32 almost always and costs about half its step; int8: int4). int4 has
 * no smaller variant, so it gets no speculative cases.
 */
const SELF_DRAFT_PRECISION: Partial<Record<Precision, Precision>> = { fp32: 'int8', fp16: 'int8', int8: 'int4' };

/** The self-draft the speculative cases of `precision` use, if it has one. */
export function selfDraftFor(precision: Precision): SelfDraft | undefined {
  const draftPrecision = SELF_DRAFT_PRECISION[precision];
  // The Engine's own number of draft tokens when a request names a draft and no count.
  return draftPrecision ? { draftPrecision, draftTokens: DEFAULT_DRAFT_TOKENS } : undefined;
}

/** One timed run as recorded. */
export interface RunRecord {
  wallMs: number;
  /** Average CPUs other programs kept busy during the run (NaN where unknown). */
  othersCpus: number;
  /** 1 + the times it was repeated because others disturbed it. */
  attempts: number;
  /** New tokens of the shortest sequence (less than asked when a sequence met end-of-text). */
  minNewTokens: number;
  /** The implementation's own prefill/decode split of this run. */
  split: { prefillMs: number; decodeMs: number };
  /** How the draft did (speculative cases only). */
  speculative?: DraftOutcome;
}

/** Everything measured for one implementation on one model. */
export interface ImplementationMeasurement {
  /** Load time of every load (fresh processes first, then the measuring process's own). */
  loadMs: number[];
  /** Timed runs per case (warm-up runs excluded). */
  runs: Record<CaseKey, RunRecord[]>;
  /** Highest sampled RSS per phase, MiB. */
  phasePeakRssMiB: Record<Phase, number>;
  /** process.resourceUsage().maxRSS after the last case without a draft, MiB. */
  maxRssMiB: number;
}

/** Everything measured for one model. */
export interface ModelMeasurement {
  spec: BenchModelSpec;
  precision: Precision;
  model: { id: string; parameters: number; sizeBytes: number; decoderPath: string };
  reps: number;
  warmup: number;
  decodeSteps: number;
  /** The draft of Inkwell's speculative cases; null where this precision has none (its speculative runs stay empty). */
  selfDraft: SelfDraft | null;
  /** Extra Node/V8 flags both measuring processes ran with. */
  nodeFlags: readonly string[];
  loadAverage: { before: number; after: number };
  results: Record<Implementation, ImplementationMeasurement>;
  checks: string[];
}

function emptyRuns(): Record<CaseKey, RunRecord[]> {
  return Object.fromEntries(CASES.map((c) => [c.key, []])) as unknown as Record<CaseKey, RunRecord[]>;
}

function emptyPhases(): Record<Phase, number> {
  return { load: 0, 'prefill 128': 0, 'prefill 512': 0, 'K=1 generation': 0, 'K=3 generation': 0, 'speculative K=1 generation': 0 };
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Reads every file of `dir` once (hard links once), so later loads find it in the page cache; returns ms. */
function warmPageCache(dir: string): number {
  const started = performance.now();
  const seen = new Set<number>();
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (!stat.isFile() || seen.has(stat.ino)) continue;
    seen.add(stat.ino);
    const fd = openSync(path, 'r');
    try {
      while (readSync(fd, chunk, 0, chunk.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
  return performance.now() - started;
}

/**
 * One run, repeated after a pause while other programs keep more than `maxInterference` CPUs
 * busy during it (at most MAX_ATTEMPTS tries; the last one is kept with its figure).
 */
async function timedRun(worker: WorkerHandle, meter: InterferenceMeter, spec: RunSpec, maxInterference: number) {
  const rss = new RssSampler(worker.pid);
  for (let attempts = 1; ; attempts++) {
    meter.start();
    rss.start();
    // A failed run must not leave the sampler's timer keeping the bench alive.
    const reply = await worker.run(spec).finally(() => rss.stop());
    const peakRssMiB = rss.stop();
    const othersCpus = meter.stop();
    if (!(othersCpus > maxInterference) || attempts >= MAX_ATTEMPTS) return { reply, othersCpus, attempts, peakRssMiB };
    await sleep(RETRY_PAUSE_MS);
  }
}

/**
 * Load times from processes that do nothing else: one implementation at a time, the order
 * alternating, `LOAD_REPS` each, so the reported load is a median and not one sample.
 */
async function loadInFreshProcesses(load: LoadSpec, settings: { nodeFlags: readonly string[]; loadReps: number }, log: (line: string) => void): Promise<Record<Implementation, number[]>> {
  const loads: Record<Implementation, number[]> = { inkwell: [], 'transformers.js': [] };
  if (settings.loadReps === 0) return loads;
  for (let rep = 0; rep < settings.loadReps; rep++) {
    for (const impl of rep % 2 === 0 ? IMPLEMENTATIONS : [...IMPLEMENTATIONS].reverse()) {
      const worker = new WorkerHandle(impl, settings.nodeFlags);
      try {
        loads[impl].push((await worker.load(load)).loadMs);
      } finally {
        await worker.close();
      }
    }
  }
  log(`load in fresh processes, ms: ${IMPLEMENTATIONS.map((impl) => `${impl} ${loads[impl].map((ms) => ms.toFixed(0)).join(', ')}`).join('; ')}`);
  return loads;
}

/** How one model is measured. */
export interface MeasureSettings {
  precision: Precision;
  reps: number;
  warmup: number;
  decodeSteps: number;
  maxInterference: number;
  nodeFlags: readonly string[];
  /** Loads timed in fresh processes per implementation before the measuring processes load (0: only theirs). */
  loadReps: number;
  /** Skip the 512-token prefill case (quick runs). */
  skipLongPrefill: boolean;
  /** The draft of the speculative cases (its variant must be in the cache); undefined: none run. */
  selfDraft: SelfDraft | undefined;
}

/** The graph folder of `precision` in `model` (fp32: onnx/). */
export function graphFolder(model: StoredModel, precision: Precision): string {
  if (precision === 'fp32') return dirname(model.decoderPath);
  const variant = model.variants.find((v) => v.precision === precision);
  if (!variant) throw new Error(`${model.id} has no ${precision} variant`);
  return variant.dir;
}

/** Runs the cases for one stored model in one precision. */
export async function measureModel(
  spec: BenchModelSpec,
  model: StoredModel,
  home: string,
  settings: MeasureSettings,
  log: (line: string) => void,
): Promise<ModelMeasurement> {
  const folder = graphFolder(model, settings.precision);
  const load: LoadSpec = { home, modelId: model.id, precision: settings.precision, subfolder: relative(model.dir, folder).split('\\').join('/') };
  const label = `${spec.name} ${settings.precision}`;
  const tokenizer = await loadTokenizer(model.dir);
  const prompts = new Map([128, 512].map((n) => [n, promptOfTokens(n, (text) => tokenizer.encode(text))]));
  const checks: string[] = [];
  const loadBefore = loadAverage();
  // Both loads read the weights from the page cache; otherwise whichever loads first pays the disk.
  const warmMs = warmPageCache(folder);
  log(`${label}: read the graph folder once to warm the page cache (${(warmMs / 1000).toFixed(1)} s)`);
  const freshLoads = await loadInFreshProcesses(load, settings, log);
  const workers = IMPLEMENTATIONS.map((impl) => new WorkerHandle(impl, settings.nodeFlags));
  try {
    const results = {} as Record<Implementation, ImplementationMeasurement>;
    // Loaded one after the other so neither load competes with the other for the two cores.
    for (const worker of workers) {
      const rss = new RssSampler(worker.pid);
      rss.start();
      const loaded = await worker.load(load).finally(() => rss.stop());
      const loadPeak = rss.stop();
      log(`${label}: ${worker.implementation} measuring process loaded in ${(loaded.loadMs / 1000).toFixed(2)} s (high-water RSS ${loaded.memory.maxRssMiB.toFixed(0)} MiB)`);
      const phases = emptyPhases();
      phases.load = Number.isNaN(loadPeak) ? loaded.memory.peakRssMiB : loadPeak;
      results[worker.implementation] = { loadMs: [...freshLoads[worker.implementation], loaded.loadMs], runs: emptyRuns(), phasePeakRssMiB: phases, maxRssMiB: loaded.memory.maxRssMiB };
    }

    const specFor = (c: CaseDef): RunSpec => ({
      prompt: prompts.get(c.promptTokens) as string,
      promptTokens: c.promptTokens,
      k: c.k,
      newTokens: c.length === 'first' ? 1 : 1 + settings.decodeSteps,
      sample: c.sample,
      seed: 1234,
      ...(c.speculative && settings.selfDraft ? { speculative: settings.selfDraft } : {}),
    });
    const meter = new InterferenceMeter([process.pid, ...workers.map((w) => w.pid)]);
    const greedyTokens = new Map<CaseKey | Implementation, number[]>();
    const runCase = async (worker: WorkerHandle, c: CaseDef, rep: number, timed: boolean): Promise<void> => {
      const runSpec = specFor(c);
      const { reply, othersCpus, attempts, peakRssMiB } = await timedRun(worker, meter, runSpec, timed ? settings.maxInterference : Number.POSITIVE_INFINITY);
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
      if (c.key === 'decodeK1speculative' && !greedyTokens.has(c.key)) greedyTokens.set(c.key, reply.tokens[0] ?? []);
      // Sampled from outside where possible: inside, the sampler cannot run during a (synchronous) session run.
      result.phasePeakRssMiB[c.phase] = Math.max(result.phasePeakRssMiB[c.phase], Number.isNaN(peakRssMiB) ? reply.memory.peakRssMiB : peakRssMiB);
      // The high-water mark is the process's without a draft; the speculative phase's peak has the draft's memory.
      if (!c.speculative) result.maxRssMiB = Math.max(result.maxRssMiB, reply.memory.maxRssMiB);
      if (timed) {
        result.runs[c.key].push({
          wallMs: reply.wallMs,
          othersCpus,
          attempts,
          minNewTokens,
          split: reply.split,
          ...(reply.speculative ? { speculative: reply.speculative } : {}),
        });
      }
    };
    const repetitionLog = (what: string, rep: number, warmup: number, started: number): void => {
      const timed = rep >= warmup;
      log(`${label}: ${what}${timed ? `repetition ${rep - warmup + 1}/${settings.reps}` : `warm-up ${rep + 1}/${warmup}`} took ${((performance.now() - started) / 1000).toFixed(1)} s (load average ${loadAverage().toFixed(2)})`);
    };
    const total = settings.warmup + settings.reps;
    const plainCases = CASES.filter((x) => !x.speculative && !(settings.skipLongPrefill && x.key === 'first512'));
    for (let rep = 0; rep < total; rep++) {
      const started = performance.now();
      for (const [index, c] of plainCases.entries()) {
        // Alternate which implementation goes first, so slow drift (thermal, other load) hits both alike.
        const order = (rep + index) % 2 === 0 ? workers : [...workers].reverse();
        for (const worker of order) await runCase(worker, c, rep, rep >= settings.warmup);
      }
      repetitionLog('', rep, settings.warmup, started);
    }

    // After every other case, so that the draft (which stays loaded in Inkwell's process once
    // used) changes neither their timings nor their memory.
    const inkwell = workers.find((w) => w.implementation === 'inkwell');
    if (settings.selfDraft && inkwell) {
      // At least one warm-up: the first speculative run loads the draft.
      const warmup = Math.max(1, settings.warmup);
      for (let rep = 0; rep < warmup + settings.reps; rep++) {
        const started = performance.now();
        for (const c of CASES.filter((x) => x.speculative)) await runCase(inkwell, c, rep, rep >= warmup);
        repetitionLog(`speculative (${settings.selfDraft.draftPrecision} self-draft) `, rep, warmup, started);
      }
    }

    const ours = greedyTokens.get('inkwell') ?? [];
    const theirs = greedyTokens.get('transformers.js') ?? [];
    checks.push(sameTokens(ours, theirs)
      ? `greedy K=1: both implementations produced the same ${ours.length} tokens`
      : `greedy K=1: tokens differ (inkwell ${ours.slice(0, 8).join(',')}…, transformers.js ${theirs.slice(0, 8).join(',')}…)`);
    const drafted = greedyTokens.get('decodeK1speculative');
    if (settings.selfDraft && drafted) {
      // Greedy speculative decoding keeps exactly the target's argmax tokens (src/main/engine/generate/speculative.ts).
      checks.push(sameTokens(ours, drafted)
        ? `speculative greedy K=1 (${settings.selfDraft.draftPrecision} self-draft): the same ${ours.length} tokens as plain greedy`
        : `speculative greedy K=1 (${settings.selfDraft.draftPrecision} self-draft): tokens differ from plain greedy (plain ${ours.slice(0, 8).join(',')}…, speculative ${drafted.slice(0, 8).join(',')}…)`);
    }
    return {
      spec,
      precision: settings.precision,
      model: { id: model.id, parameters: model.parameters, sizeBytes: model.sizeBytes, decoderPath: model.decoderPath },
      reps: settings.reps,
      warmup: settings.warmup,
      decodeSteps: settings.decodeSteps,
      selfDraft: settings.selfDraft ?? null,
      nodeFlags: settings.nodeFlags,
      loadAverage: { before: loadBefore, after: loadAverage() },
      results,
      checks,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}
