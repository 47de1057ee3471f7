/**
 * Command-line options of `npm run bench -- [options]`.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isPrecision, PRECISIONS, type Precision } from '../src/main/engine/precision';
import type { BenchModelName } from './models';

/** Parsed options. */
export interface BenchOptions {
  readonly models: readonly BenchModelName[];
  /** Timed repetitions per case and implementation, per model (the median is reported). */
  readonly reps: Readonly<Record<BenchModelName, number>>;
  /** Untimed runs of every case before the timed ones. */
  readonly warmup: number;
  /** Decode steps timed after the first token (per model: small models take more). */
  readonly decodeSteps: Readonly<Record<BenchModelName, number>>;
  /** Cache folder for the random models (INKWELL_BENCH_DIR, else <tmp>/inkwell-bench). */
  readonly benchDir: string;
  /** Where the full results file goes (--out). */
  readonly outPath: string;
  /** --json: print the rows (bench/rows.ts) as one JSON array on stdout; the human report goes to stderr. */
  readonly jsonRows: boolean;
  /** Precisions measured, in this order (variants are converted into the cache once). */
  readonly precisions: readonly Precision[];
  /** Loads timed in fresh processes per implementation and precision (0 in --quick). */
  readonly loadReps: number;
  /** --quick: the 512-token prefill case is skipped too (the JSON rows do not use it). */
  readonly quick: boolean;
  /** A timed run during which other programs kept more CPUs than this busy is repeated (up to 3 times). */
  readonly maxInterference: number;
  /** Extra Node/V8 flags for both measuring processes (e.g. --single-threaded-gc). */
  readonly nodeFlags: readonly string[];
  /** Only write and import the models (the one-time part), measure nothing. */
  readonly prepareOnly: boolean;
}

/** Usage text. */
export const USAGE = `npm run bench -- [options]

  --quick                GPT-2 (124M) only unless --model says otherwise; 2 repetitions, no loads
                         in fresh processes, fewer decode steps (a few minutes once the cache is built)
  --model gpt2|gpt2-large  only this model (repeatable); default both
  --smoke                a tiny 2-layer model: checks the bench itself in seconds (figures mean nothing)
  --reps N               timed repetitions per case (default 5 for gpt2, 3 for gpt2-large; --quick 2)
  --warmup N             untimed runs of every case first (default 1)
  --max-interference X   repeat a timed run (up to 3 times) when other programs kept more than X CPUs
                         busy during it (Linux; default 0.25, off with --quick and --smoke; 'off'
                         never repeats)
  --node-flags "FLAGS"   extra Node/V8 flags for both measuring processes, e.g. "--single-threaded-gc"
  --prepare              only write and import the models into the cache, then stop
  --precision LIST       precisions to measure, e.g. fp32,int4 (default fp32,fp16,int8,int4; variants
                         are converted into the cache once and reused)
  --json                 print one JSON array of rows {engine, shape, precision, device, k, sampling,
                         speculative, prompt_tokens, new_tokens, prefill_ms, ttft_ms,
                         decode_ms_per_step, decode_tokens_per_s, peak_rss_mb,
                         weight_bytes_per_token, read_gb_per_s, floor_ms} on stdout (speculative
                         rows add draft_precision, draft_tokens, acceptance_rate); the human
                         report goes to stderr
  --out FILE             full results file (default out/bench-results/results-<time>.json)
  --dir DIR              model cache (default $INKWELL_BENCH_DIR or <tmp>/inkwell-bench)
  --profile              instead: where one decode step's time goes in Inkwell (with --model)
  --profile-ops          instead: a decode step's time by operator, from onnxruntime's profiler
                         (with --model, --precision; default int4)
  --profile-rows         instead: the rows graph at K = 1, 2, 3 rows by operator
                         (with --model, --precision, --steps)
  --rows-ab FILE         instead: the current rows graph against another one (FILE, same model and
                         precision, e.g. made by an earlier version), steps interleaved, K = 1, 3, 8
  --block-sizes          instead: KL and decode speed of each int4/int8 block size (with --model)
  --help

Models are random-weight checkpoints with the real shapes, written once into the cache folder
(GPT-2 Large needs about 3.1 GB there, 6.2 GB while it is imported) and reused afterwards.`;

class UsageError extends Error {}

/** Parses argv (without node and script); throws an Error with the usage text on bad input. */
export function parseOptions(argv: readonly string[], root: string): BenchOptions | 'help' {
  let quick = false;
  let smoke = false;
  let prepareOnly = false;
  let maxInterference: number | undefined;
  let nodeFlags: string[] = [];
  const models: BenchModelName[] = [];
  let reps: number | undefined;
  let warmup = 1;
  let outPath: string | undefined;
  let jsonRows = false;
  let precisions: Precision[] = [...PRECISIONS];
  let benchDir = process.env.INKWELL_BENCH_DIR || join(tmpdir(), 'inkwell-bench');
  try {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string;
      const value = (): string => {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`${arg} needs a value`);
        return v;
      };
      const count = (min: number): number => {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) throw new UsageError(`${arg} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
        return n;
      };
      if (arg === '--help' || arg === '-h') return 'help';
      else if (arg === '--quick') quick = true;
      else if (arg === '--smoke') smoke = true;
      else if (arg === '--prepare') prepareOnly = true;
      else if (arg === '--node-flags') nodeFlags = value().split(/\s+/).filter((f) => f.length > 0);
      else if (arg === '--max-interference') {
        const v = value();
        maxInterference = v === 'off' ? Number.POSITIVE_INFINITY : Number(v);
        if (!(maxInterference >= 0)) throw new UsageError(`--max-interference must be a number ≥ 0 or off, got ${JSON.stringify(v)}`);
      }
      else if (arg === '--model') {
        const name = value();
        if (name !== 'gpt2' && name !== 'gpt2-large') throw new UsageError(`--model must be gpt2 or gpt2-large, got ${JSON.stringify(name)}`);
        if (!models.includes(name)) models.push(name);
      } else if (arg === '--reps') reps = count(1);
      else if (arg === '--warmup') warmup = count(0);
      else if (arg === '--json') jsonRows = true;
      else if (arg === '--out') outPath = resolve(value());
      else if (arg === '--precision') {
        const list = value().split(',').map((p) => p.trim()).filter((p) => p.length > 0);
        const bad = list.find((p) => !isPrecision(p));
        if (bad !== undefined || list.length === 0) throw new UsageError(`--precision takes a list of ${PRECISIONS.join(', ')}, got ${JSON.stringify(bad ?? '')}`);
        precisions = [...new Set(list as Precision[])];
      }
      else if (arg === '--dir') benchDir = resolve(value());
      else throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) throw new Error(`${error.message}\n\n${USAGE}`);
    throw error;
  }
  const chosen: BenchModelName[] = smoke ? ['smoke'] : models.length > 0 ? models : quick ? ['gpt2'] : ['gpt2', 'gpt2-large'];
  return {
    models: chosen,
    reps: { gpt2: reps ?? (quick ? 2 : 5), 'gpt2-large': reps ?? (quick ? 2 : 3), smoke: reps ?? 2 },
    warmup,
    decodeSteps: { gpt2: quick ? 24 : 32, 'gpt2-large': quick ? 8 : 12, smoke: 8 },
    precisions,
    jsonRows,
    loadReps: quick || smoke ? 0 : 2,
    quick: quick || smoke,
    benchDir,
    prepareOnly,
    // Quick and smoke runs keep every first attempt: on a busy machine the repeats are what make a run slow.
    maxInterference: maxInterference ?? (quick || smoke ? Number.POSITIVE_INFINITY : 0.25),
    nodeFlags,
    outPath: outPath ?? join(root, 'out', 'bench-results', `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`),
  };
}
