/**
 * What the batch core throws. Each front end words these for its users: the CLI names its flags
 * (`--prompts`, `--resume`), the app names its fields; the facts in the message are the same.
 */

/** Which input a BatchFileError is about. */
export type BatchSubject = 'prompts' | 'out' | 'resume';

/**
 * A prompts or results file the batch cannot use: `invalid` when the request cannot mean anything
 * (an unknown format, a CSV file without a prompt column), `refused` when the file is real but
 * must not be run (too large, another run's results, not text).
 */
export class BatchFileError extends Error {
  readonly kind: 'invalid' | 'refused';
  readonly subject: BatchSubject;
  constructor(kind: 'invalid' | 'refused', subject: BatchSubject, message: string) {
    super(message);
    this.name = 'BatchFileError';
    this.kind = kind;
    this.subject = subject;
  }
}

/** The results file already holds rows and the run was not asked to resume it. */
export class OutputExistsError extends Error {
  readonly path: string;
  constructor(path: string) {
    super(`${path} already holds results`);
    this.name = 'OutputExistsError';
    this.path = path;
  }
}

/** One row cannot run (its parameters, its length, what the engine said of it); the others go on. */
export class BadRowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRowError';
  }
}
