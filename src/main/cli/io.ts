/**
 * How CLI commands talk to the outside: output sinks, the interrupt signal,
 * and the mapping from errors to exit codes (0 ok, 2 bad input or refused, 1 internal).
 */
import { ZodError } from 'zod';
import { storageErrorKind } from '../common/errors';
import { EngineError } from '../engine';

/** What a command may use; the entry wires it to the process, tests to buffers. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  interrupt: AbortSignal;
  /** Environment ($INKWELL_HOME, …). */
  env: NodeJS.ProcessEnv;
  /** True when stderr is a terminal: progress is drawn as a bar there, and written as plain lines otherwise. */
  stderrIsTTY?: boolean;
  /** Width of that terminal. */
  columns?: number;
}

/** Exit codes of `inkwell`. */
export const EXIT = { ok: 0, internal: 1, badInput: 2, interrupted: 130 } as const;

/** Returned by a command to have its help printed (to stdout, exit code 0). */
export const SHOW_HELP = -1;

/** A problem with the command line itself; reported with a pointer to --help. */
export class UsageError extends Error {
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A request the CLI will not carry out as things stand (exit code 2, no pointer to --help). */
export class RefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedError';
  }
}

/**
 * Whether `error` (or what caused it) says the data folder cannot be used: Inkwell may not write
 * there, the disk is full, or the database comes from a newer Inkwell. That is the machine's state,
 * to be told in one line (exit 2), not a bug with a stack trace.
 */
function dataFolderProblem(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 8; current = (current as { cause?: unknown }).cause, depth += 1) {
    if ((current as { name?: unknown }).name === 'DatabaseOpenError') return true;
    if (storageErrorKind((current as { code?: unknown }).code) !== null) return true;
  }
  return false;
}

/** Exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof RefusedError || error instanceof ZodError) return EXIT.badInput;
  if (dataFolderProblem(error)) return EXIT.badInput;
  if (error instanceof EngineError) {
    if (error.kind === 'cancelled') return EXIT.interrupted;
    return error.kind === 'bad_input' || error.kind === 'not_found' || error.kind === 'refused' ? EXIT.badInput : EXIT.internal;
  }
  return EXIT.internal;
}

/** The stderr line(s) for an error thrown by a command. */
export function describeError(error: unknown): string {
  if (error instanceof UsageError) {
    const help = error.command ? `inkwell ${error.command} --help` : 'inkwell --help';
    return `inkwell: error: ${error.message}\n(see \`${help}\`)\n`;
  }
  if (error instanceof RefusedError) return `inkwell: error: ${error.message}\n`;
  if (error instanceof EngineError && error.kind === 'cancelled') return `inkwell: ${error.message}\n`;
  if (dataFolderProblem(error)) return `inkwell: error: ${error instanceof Error ? error.message : String(error)}\n`;
  if (error instanceof EngineError && error.kind !== 'internal') return `inkwell: error: ${error.message}\n`;
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error && error.stack ? `\n${error.stack}` : '';
  return `inkwell: internal error: ${message}${stack}\n`;
}
