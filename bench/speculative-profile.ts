/**
 * `npm run bench -- --profile-speculative [--model gpt2|gpt2-large] [--target fp32|int8] [--draft int4|int8]
 * [--draft-tokens LIST (default 4,auto)] [--sampled] [--k N (sequences, default 1)] [--spin default|on|off,…] [--reps N] [--new-tokens N]`: where a speculative round's time goes, against plain
 * decoding of the same request, in one process, interleaved.
 *
 * Both decoders run as the Engine runs them (decoder worker threads, the rows graph). Every call
 * into a decoder batch is timed by a wrapper (prefill, decode, extend of n tokens, truncate), so a
 * request's wall time splits into the decoders' calls and the JavaScript around them (token
 * choice, acceptance, logprobs, copies). The same decoders also run bare steps of the same shape:
 * a target step, a draft step, a draft step straight after a target step (two onnxruntime thread
 * pools on the same cores), and a target pass over n tokens.
 */
import { join, dirname } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { decoderPaths } from '../src/main/engine';
import { runGeneration, type GenerationJob } from '../src/main/engine/generate/generate';
import { runSpeculative, type SpeculativeSettings } from '../src/main/engine/generate/speculative';
import { ROWS_FILE } from '../src/main/engine/onnx';
import { isPrecision, type Precision } from '../src/main/engine/precision';
import { openDecoder, type DecoderBatch, type DecoderPaths, type DecoderSession } from '../src/main/engine/runtime';
import { loadTokenizer } from '../src/main/engine/tokenizer';
import { GenerationParams } from '../src/shared/api';
import type { StoredModel } from '../src/main/engine/models/store';
import { InterferenceMeter } from './interference';
import { describeMachine, loadAverage } from './machine';
import { BENCH_MODELS, ensureBenchModel, ensureBenchVariants, type BenchModelName } from './models';
import { promptOfTokens } from './prompts';
import { median } from './report';
import { argValue } from './mode-args';

const PROMPT_TOKENS = 128;

function log(line: string): void {
  process.stderr.write(`[speculative-profile] ${line}\n`);
}

/** Milliseconds per call kind, summed over a request. */
type CallTimes = Map<string, number[]>;

function record(times: CallTimes, kind: string, ms: number): void {
  let list = times.get(kind);
  if (!list) times.set(kind, (list = []));
  list.push(ms);
}

/** A batch whose every call adds its wall time to `times` under `prefix` + the call's kind. */
function timedBatch(batch: DecoderBatch, times: CallTimes, prefix: string): DecoderBatch {
  const time = async <T>(kind: string, call: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await call();
    } finally {
      record(times, `${prefix}${kind}`, performance.now() - started);
    }
  };
  return {
    get rows() { return batch.rows; },
    get kvBytes() { return batch.kvBytes; },
    lengthOf: (row) => batch.lengthOf(row),
    prefill: (tokens, copies) => time('prefill', () => batch.prefill(tokens, copies)),
    decode: (rows, tokens) => time(`decode ×${rows.length}`, () => batch.decode(rows, tokens)),
    extend: (row, tokens) => time(`extend ${tokens.length}`, () => batch.extend(row, tokens)),
    truncate: (row, length) => {
      const started = performance.now();
      batch.truncate(row, length);
      record(times, `${prefix}truncate`, performance.now() - started);
    },
    remove: (rows) => batch.remove(rows),
    dispose: () => batch.dispose(),
  };
}

/** `session` with its batches timed. */
function timedSession(session: DecoderSession, times: CallTimes, prefix: string): DecoderSession {
  return {
    get device() { return session.device; },
    get config() { return session.config; },
    createBatch: () => timedBatch(session.createBatch(), times, prefix),
    step: (input) => session.step(input),
    logitsAll: (ids) => session.logitsAll(ids),
    release: () => session.release(),
  };
}

function variantPaths(model: StoredModel, precision: Precision): Promise<DecoderPaths> | DecoderPaths {
  if (precision === 'fp32') return decoderPaths(model);
  const variant = model.variants.find((v) => v.precision === precision);
  if (!variant) throw new Error(`${model.id} has no ${precision} variant`);
  return { decoderPath: variant.decoderPath, fullLogitsPath: variant.fullLogitsPath, rowsPath: join(dirname(variant.decoderPath), ROWS_FILE) };
}


function fmt(values: readonly number[]): string {
  if (values.length === 0) return '–';
  return `${median(values).toFixed(2)} (min ${Math.min(...values).toFixed(2)}, n ${values.length})`;
}

/** Bare steps of the same shapes as a speculative round, on the decoders the requests use. */
async function bareSteps(target: DecoderSession, draft: DecoderSession, prompt: readonly number[], reps: number): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  const targetBatch = target.createBatch();
  const draftBatch = draft.createBatch();
  try {
    const t = (await targetBatch.prefill(prompt, 1)).rows[0] as number;
    const d = (await draftBatch.prefill(prompt, 1)).rows[0] as number;
    const at = async (kind: string, call: () => Promise<unknown>): Promise<void> => {
      const started = performance.now();
      await call();
      record(out, kind, performance.now() - started);
    };
    for (let rep = 0; rep < reps; rep++) {
      // Draft steps back to back, as the draft loop runs them.
      for (let i = 0; i < 4; i++) await at('draft step (after a draft step)', () => draftBatch.decode([d], [262 + i]));
      draftBatch.truncate(d, prompt.length);
      for (let i = 0; i < 4; i++) await at('target step (after a target step)', () => targetBatch.decode([t], [262 + i]));
      targetBatch.truncate(t, prompt.length);
      // A draft step right after a target step: the target's thread pool may still spin.
      await at('target step (after a draft step)', () => targetBatch.decode([t], [262]));
      await at('draft step (after a target step)', () => draftBatch.decode([d], [262]));
      targetBatch.truncate(t, prompt.length);
      draftBatch.truncate(d, prompt.length);
      for (const n of [2, 3, 4, 5, 7, 9]) {
        await at(`target pass over ${n}`, () => targetBatch.extend(t, Array.from({ length: n }, (_, i) => 262 + i)));
        targetBatch.truncate(t, prompt.length);
      }
      await at('draft extend 1 (same as a step)', () => draftBatch.extend(d, [262]));
      draftBatch.truncate(d, prompt.length);
    }
  } finally {
    targetBatch.dispose();
    draftBatch.dispose();
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const name = (argValue(args, '--model') ?? 'gpt2-large') as BenchModelName;
  if (!(name in BENCH_MODELS)) throw new Error(`--model must be gpt2, gpt2-large or smoke, not ${name}`);
  const targetPrecision = argValue(args, '--target') ?? 'fp32';
  const draftPrecision = argValue(args, '--draft') ?? 'int4';
  if (!isPrecision(targetPrecision) || !isPrecision(draftPrecision)) throw new Error('--target and --draft take fp32, fp16, int8 or int4');
  const reps = Number(argValue(args, '--reps') ?? 3);
  const newTokens = Number(argValue(args, '--new-tokens') ?? (name === 'gpt2-large' ? 25 : 49));
  const gammaArg = argValue(args, '--draft-tokens') ?? '4,auto';
  const lengths: SpeculativeSettings['draftTokens'][] = gammaArg.split(',').map((g) => (g === 'auto' ? 'auto' : Number(g)));
  const sample = args.includes('--sampled');
  const benchDir = process.env.INKWELL_BENCH_DIR || join((await import('node:os')).tmpdir(), 'inkwell-bench');
  const spec = BENCH_MODELS[name];
  let model = await ensureBenchModel(benchDir, spec, process.env.INKWELL_BENCH_GRAPH_HASH ?? 'dev', log);
  model = await ensureBenchVariants(benchDir, model, [targetPrecision, draftPrecision], log);
  const machine = describeMachine();
  console.log(`# Speculative profile: ${spec.label}, target ${targetPrecision}, draft ${draftPrecision}, γ ${gammaArg}, ${sample ? 'sampled (top-k 50)' : 'greedy'}, `
    + `${PROMPT_TOKENS}-token prompt, ${newTokens} new tokens, ${reps} reps; ${machine.cpuModel}, ${machine.cpus} CPUs, load average ${machine.loadAverageAtStart.toFixed(2)}`);
  const tokenizer = await loadTokenizer(model.dir);
  const prompt = promptOfTokens(PROMPT_TOKENS, (t) => tokenizer.encode(t));
  const spinModes = (argValue(args, '--spin') ?? 'default').split(',') as SpinMode[];
  if (spinModes.some((m) => m !== 'on' && m !== 'off' && m !== 'default')) throw new Error('--spin takes default, on, off or a list of them');
  if (spinModes.some((m) => m !== 'default')) {
    // The experiment patches session creation in this thread, so the decoders must run here.
    process.env.INKWELL_DECODER_THREAD = '0';
    patchSpinning();
  }
  const modes = ['plain', ...lengths.map((g) => `speculative γ ${g}`)];
  const pairs: Pair[] = [];
  for (const spin of spinModes) {
    spinning = spin;
    pairs.push({
      spin,
      target: await openDecoder(await variantPaths(model, targetPrecision), model.config, 'cpu'),
      draft: await openDecoder(await variantPaths(model, draftPrecision), model.config, 'cpu'),
      modes: new Map(modes.map((m) => [m, { times: new Map(), walls: [], perToken: [], acceptance: [], rounds: [], proposed: [] }])),
    });
  }
  const meter = new InterferenceMeter([process.pid]);
  const others: number[] = [];
  const rows: Record<string, string | number>[] = [];
  try {
    const params = GenerationParams.parse({ maxNewTokens: newTokens, numReturnSequences: Number(argValue(args, '--k') ?? 1), doSample: sample, temperature: 1, topK: sample ? 50 : 0, topP: 1, repetitionPenalty: 1, seed: 7, device: 'cpu' });
    const job = (): GenerationJob => ({ tokenizer, prompt, params, seed: 7 });
    let plainTokens: string | undefined;
    for (let rep = -1; rep < reps; rep++) {
      const warm = rep < 0;
      for (const pair of rep % 2 === 0 ? pairs : [...pairs].reverse()) {
        // Interleaved, the order turned every repetition, so that drifting load falls on every mode alike.
        const order = rep % 2 === 0 ? modes : [...modes].reverse();
        for (const mode of order) {
          const m = pair.modes.get(mode) as ModeRuns;
          const times: CallTimes = warm ? new Map() : m.times;
          const length = lengths[modes.indexOf(mode) - 1];
          meter.start();
          const started = performance.now();
          const outcome = length === undefined
            ? await runGeneration({ ...job(), session: timedSession(pair.target, times, 'target ') })
            : await runSpeculative(timedSession(pair.target, times, 'target '), job(), { draft: timedSession(pair.draft, times, 'draft '), draftTokens: length });
          const wall = performance.now() - started;
          const o = meter.stop();
          const tokens = outcome.sequences[0]?.tokenIds.join(',');
          if (!sample) {
            plainTokens ??= length === undefined ? tokens : undefined;
            if (plainTokens !== undefined && tokens !== plainTokens) log(`${mode}: greedy tokens differ from plain greedy`);
          }
          if (warm) continue;
          if (Number.isFinite(o)) others.push(o);
          m.walls.push(wall);
          m.perToken.push(outcome.decodeMs / (outcome.sequences[0]?.tokenIds.length ?? 1));
          if ('speculative' in outcome) {
            const st = (outcome as { speculative: { acceptanceRate: number; targetPasses: number; proposed: number } }).speculative;
            m.acceptance.push(st.acceptanceRate);
            m.rounds.push(st.targetPasses);
            m.proposed.push(st.proposed);
          }
        }
      }
    }
    const report = (label: string, times: CallTimes, wallList: number[]): void => {
      console.log(`\n### ${label}: calls per request (ms: median (min, count))\n`);
      console.log('| call | ms each | calls per request | ms per request |');
      console.log('|---|---:|---:|---:|');
      let inCalls = 0;
      for (const [kind, values] of [...times.entries()].sort()) {
        const total = values.reduce((s, v) => s + v, 0) / reps;
        inCalls += total;
        console.log(`| ${kind} | ${fmt(values)} | ${(values.length / reps).toFixed(1)} | ${total.toFixed(1)} |`);
      }
      const wall = wallList.reduce((s, v) => s + v, 0) / reps;
      console.log(`| JavaScript outside the decoders (wall − calls) | | | ${(wall - inCalls).toFixed(1)} |`);
      console.log(`| wall per request (mean) | | | ${wall.toFixed(1)} |`);
    };
    for (const pair of pairs) {
      console.log(`\n## onnxruntime thread-pool spinning: ${pair.spin}${pair.spin === 'default' ? ' (the Engine\'s sessions, decoder worker threads)' : ' (sessions on this thread)'}`);
      for (const [mode, m] of pair.modes) report(mode, m.times, m.walls);
      const plain = pair.modes.get('plain') as ModeRuns;
      console.log(`\n| ${spec.label}, ${targetPrecision} target, ${draftPrecision} draft, ${sample ? 'sampled' : 'greedy'}, spinning ${pair.spin} | ms per token (median) | min | ÷ plain (medians) | ÷ plain (minima) | acceptance | drafts proposed | target passes |`);
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const [mode, m] of pair.modes) {
        const ms = median(m.perToken);
        const speedUp = median(plain.perToken) / ms;
        const speedUpMin = Math.min(...plain.perToken) / Math.min(...m.perToken);
        const rate = m.acceptance.length ? median(m.acceptance) : Number.NaN;
        console.log(`| ${mode} | ${ms.toFixed(2)} | ${Math.min(...m.perToken).toFixed(2)} | ${speedUp.toFixed(3)} | ${speedUpMin.toFixed(3)} | ${Number.isNaN(rate) ? '' : rate.toFixed(2)} | ${m.proposed.join(', ')} | ${m.rounds.join(', ')} |`);
        rows.push({ shape: name, precision: targetPrecision, draft_precision: draftPrecision, sampling: sample ? 'sampled' : 'greedy', spin: pair.spin, mode, ms_per_token: ms, ms_per_token_min: Math.min(...m.perToken), speed_up: speedUp, speed_up_minima: speedUpMin, ...(Number.isNaN(rate) ? {} : { acceptance_rate: rate }) });
      }
    }
    for (const pair of pairs) {
      const bare = await bareSteps(pair.target, pair.draft, tokenizer.encode(prompt), Math.max(3, reps * 2));
      console.log(`\n## bare steps, spinning ${pair.spin}\n`);
      console.log('| step | ms |');
      console.log('|---|---:|');
      for (const [kind, values] of bare) console.log(`| ${kind} | ${fmt(values)} |`);
    }
    console.log(`\nJSON ${JSON.stringify(rows)}`);
    console.log(`\nother programs kept ${others.length ? median(others).toFixed(2) : 'n/a'} CPUs busy (median over requests; max ${others.length ? Math.max(...others).toFixed(2) : 'n/a'}); load average now ${loadAverage().toFixed(2)}`);
  } finally {
    for (const pair of pairs) {
      await pair.draft.release();
      await pair.target.release();
    }
  }
}

type SpinMode = 'default' | 'on' | 'off';

/** What the requests of one mode (plain, or one draft length) measured. */
interface ModeRuns {
  times: CallTimes;
  walls: number[];
  perToken: number[];
  acceptance: number[];
  rounds: number[];
  proposed: number[];
}

/** A target and its draft opened with one spinning setting, and what their requests measured per mode. */
interface Pair {
  spin: SpinMode;
  target: DecoderSession;
  draft: DecoderSession;
  modes: Map<string, ModeRuns>;
}

/** The spinning setting the next sessions are created with. */
let spinning: SpinMode = 'default';

/**
 * Experiment only: onnxruntime's intra-op worker threads spin for a while after each parallel
 * section (session.intra_op.allow_spinning, on by default). Two sessions alternating on the same
 * cores (target and draft) may then run against the other's spinning threads.
 */
function patchSpinning(): void {
  const create = InferenceSession.create.bind(InferenceSession) as (...a: unknown[]) => Promise<InferenceSession>;
  (InferenceSession as unknown as { create: unknown }).create = (path: unknown, options?: InferenceSession.SessionOptions) => {
    if (spinning === 'default' || typeof path !== 'string') return create(path, options);
    const extra = { ...(options?.extra ?? {}), session: { ...((options?.extra?.session as object | undefined) ?? {}), intra_op: { allow_spinning: spinning === 'on' ? '1' : '0' } } };
    return create(path, { ...options, extra });
  };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
