/**
 * How CLI commands talk to the outside: output sinks, the interrupt signal,
 * and the mapping from errors to exit codes (0 ok, 2 bad input or refused, 1 internal).
 */
import { ZodError } from 'zod';
import { EngineError } from '../engine/types';

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

/** Exit code for an error thrown by a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError || error instanceof RefusedError || error instanceof ZodError) return EXIT.badInput;
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
  if (error instanceof EngineError && error.kind !== 'internal') return `inkwell: error: ${error.message}\n`;
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error && error.stack ? `\n${error.stack}` : '';
  return `inkwell: internal error: ${message}${stack}\n`;
}
