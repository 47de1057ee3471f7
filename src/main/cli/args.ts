/**
 * Command-line parsing for `inkwell`: node:util parseArgs in strict mode,
 * strict number syntax, and generation flags checked by the shared
 * GenerationParams schema (the same ranges the app enforces).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { GenerationParams, type DeviceRequest } from '../../shared/api';
import { decimalFromText, integerFromText } from '../../shared/number-text';
import { isPrecision, PRECISIONS, type PrecisionRequest } from '../engine';
import { UsageError } from './io';

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Flags and positionals of one command. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Joins every `--flag value` of a string-valued flag into `--flag=value`, so a value may start with
 * a dash (`--stop ---`, `--top-k -1` then fails on its range, not as an "ambiguous" option).
 */
function bindStringValues(argv: readonly string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && Object.hasOwn(options, name) && options[name]?.type === 'string' && next !== undefined) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses `argv` for `command`; unknown flags, missing values and extra positionals are usage errors. */
export function parseCommandArgs(command: string, argv: readonly string[], options: OptionSpec, maxPositionals = 0): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    const args = bindStringValues(argv, options);
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(command, error instanceof Error ? error.message : String(error));
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(command, `unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  }
  return { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
}

/** `--precision fp32|fp16|int8|int4|auto` (default auto: the engine's choice for the device). */
export function precisionFromArgs(command: string, args: ParsedArgs, flag = 'precision'): PrecisionRequest {
  const value = args.values[flag];
  if (value === undefined || value === 'auto') return 'auto';
  if (!isPrecision(value)) throw new UsageError(command, `--${flag}: must be one of ${PRECISIONS.join(', ')} or auto`);
  return value;
}

/** A required string flag. */
export function requireString(command: string, args: ParsedArgs, name: string): string {
  const value = args.values[name];
  if (typeof value !== 'string') throw new UsageError(command, `--${name} is required`);
  return value;
}

/** `text` as an integer (decimal digits only: no "0x10", "1e3", "12abc" or ""). */
export function parseInteger(flag: string, text: string, command: string): number {
  const value = integerFromText(text);
  if (typeof value !== 'number') throw new UsageError(command, `--${flag}: ${value.error}`);
  return value;
}

/** `text` as a finite decimal number ("0.7", "1e-2"; not "abc", "0x1", "Infinity" or ""). */
export function parseDecimal(flag: string, text: string, command: string): number {
  const value = decimalFromText(text);
  if (typeof value !== 'number') throw new UsageError(command, `--${flag}: ${value.error}`);
  return value;
}

/** Flag name ↔ GenerationParams field, with the number syntax each takes. */
const NUMBER_FLAGS = {
  'max-new-tokens': ['maxNewTokens', 'integer'],
  'max-length': ['maxLength', 'integer'],
  'num-return-sequences': ['numReturnSequences', 'integer'],
  temperature: ['temperature', 'decimal'],
  'top-k': ['topK', 'integer'],
  'top-p': ['topP', 'decimal'],
  'repetition-penalty': ['repetitionPenalty', 'decimal'],
  'no-repeat-ngram-size': ['noRepeatNgramSize', 'integer'],
  seed: ['seed', 'integer'],
} as const;

/** The parseArgs options of the generation flags. */
export const GENERATION_OPTIONS: OptionSpec = {
  ...Object.fromEntries(Object.keys(NUMBER_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
  greedy: { type: 'boolean' },
  stop: { type: 'string', multiple: true },
  device: { type: 'string' },
  precision: { type: 'string' },
};

/**
 * The CLI's defaults follow the Hugging Face text-generation pipeline (sampling, temperature 1,
 * top-k 50, no top-p, no repetition penalty, 50 new tokens, one sequence), not the app's settings.
 */
export const CLI_GENERATION_DEFAULTS = {
  maxNewTokens: 50,
  numReturnSequences: 1,
  doSample: true,
  temperature: 1,
  topK: 50,
  topP: 1,
  repetitionPenalty: 1,
  noRepeatNgramSize: 0,
  stop: [] as string[],
  device: 'auto' as DeviceRequest,
};

/** Builds validated GenerationParams from the generation flags. */
export function generationParamsFromArgs(command: string, args: ParsedArgs): GenerationParams {
  const input: Record<string, unknown> = { ...CLI_GENERATION_DEFAULTS };
  for (const [flag, [field, syntax]] of Object.entries(NUMBER_FLAGS)) {
    const text = args.values[flag];
    if (typeof text !== 'string') continue;
    input[field] = syntax === 'integer' ? parseInteger(flag, text, command) : parseDecimal(flag, text, command);
  }
  if (args.values.greedy === true) input.doSample = false;
  const stop = args.values.stop;
  if (Array.isArray(stop)) input.stop = stop;
  if (typeof args.values.device === 'string') input.device = args.values.device;
  const result = GenerationParams.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UsageError(command, issue ? describeIssue(issue) : 'invalid generation parameters');
  }
  return result.data;
}

const FLAG_OF_FIELD: Record<string, string> = {
  ...Object.fromEntries(Object.entries(NUMBER_FLAGS).map(([flag, [field]]) => [field, flag])),
  stop: 'stop',
  device: 'device',
  doSample: 'greedy',
};

/** "--top-p: must be at most 1" from a schema issue. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = String(issue.path[0] ?? '');
  const flag = `--${FLAG_OF_FIELD[field] ?? field}`;
  switch (issue.code) {
    case 'too_small':
      if (field === 'stop') return `${flag}: a stop string must not be empty`;
      return `${flag}: must be ${issue.inclusive ? 'at least' : 'greater than'} ${String(issue.minimum)}`;
    case 'too_big':
      if (field === 'stop') {
        return issue.path.length > 1
          ? `${flag}: a stop string may have at most ${String(issue.maximum)} characters`
          : `${flag}: at most ${String(issue.maximum)} stop strings`;
      }
      return `${flag}: must be ${issue.inclusive ? 'at most' : 'less than'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return `${flag}: must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    default:
      return `${flag}: ${issue.message}`;
  }
}
