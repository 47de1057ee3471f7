/**
 * A scripted CompletionsPort for the /v1 routes: every candidate "generates"
 * a fixed list of tokens (candidate i's first token names it), with made-up
 * but consistent log-probabilities, cut by the engine's real stop-string
 * filter and by max_tokens, streamed one token per macrotask.
 */
import { StopStringFilter } from '../../src/main/engine/generate/stop-strings';
import type { CompletionEvents, CompletionJob, CompletionOutcome, CompletionSequence, CompletionsPort } from '../../src/main/transports/openai/port';
import type { ServedModelInfo } from '../../src/shared/openai/completions';
import type { TokenLogprob } from '../../src/shared/openai/logprobs';

/** Options of the scripted port. */
export interface ScriptedPortOptions {
  models?: ServedModelInfo[];
  /** Tokens of candidate `sequence` (default: ` cand<i>`, ` beta`, ` gamma`, `\n`, ` delta`, ` epsilon`). */
  tokens?: (sequence: number, job: CompletionJob) => string[];
  /** Milliseconds between tokens (default 0: one macrotask). */
  stepMs?: number;
}

/** The logprob the script gives token `step` of candidate `sequence` (higher for lower candidates). */
export function scriptedLogprob(sequence: number, step: number): number {
  return -0.5 - sequence * 0.25 - step * 0.01;
}

/** A port whose output a test can predict, with hooks to hold, fail and watch jobs. */
export class ScriptedCompletionsPort implements CompletionsPort {
  readonly models: ServedModelInfo[];
  readonly jobs: CompletionJob[] = [];
  /** Signals of the jobs, in order (a test checks which were aborted). */
  readonly signals: AbortSignal[] = [];
  readonly #tokens: (sequence: number, job: CompletionJob) => string[];
  readonly #stepMs: number;
  /** When set, a job waits for it after its first token. */
  hold: Promise<void> | null = null;
  /** When set, a job throws it after its first token. */
  failAfterFirstToken: Error | null = null;
  /** When set, the next job throws it before starting. */
  failBeforeStart: Error | null = null;
  /** Resolves each time a job has streamed its first token. */
  #firstTokenWaiters: (() => void)[] = [];

  constructor(options: ScriptedPortOptions = {}) {
    this.models = options.models ?? [{ id: 'gpt2', created: 1_700_000_000, ownedBy: 'inkwell', contextLength: 1024 }];
    this.#tokens = options.tokens ?? ((sequence) => [` cand${sequence}`, ' beta', ' gamma', '\n', ' delta', ' epsilon']);
    this.#stepMs = options.stepMs ?? 0;
  }

  /** Resolves when the next job streams its first token. */
  nextFirstToken(): Promise<void> {
    return new Promise((resolve) => this.#firstTokenWaiters.push(resolve));
  }

  async listModels(): Promise<ServedModelInfo[]> {
    return this.models;
  }

  async complete(job: CompletionJob, events: CompletionEvents, signal: AbortSignal): Promise<CompletionOutcome> {
    this.jobs.push(job);
    this.signals.push(signal);
    if (this.failBeforeStart) {
      const error = this.failBeforeStart;
      this.failBeforeStart = null;
      throw error;
    }
    const promptWords = job.prompt.length === 0 ? [] : job.prompt.split(/(?=\s)/);
    events.onStart({
      promptTokens: promptWords.length,
      ...(job.promptLogprobs ? { promptLogprobs: promptWords.map((token, i) => this.#token(token, 9, i, job.logprobs ?? 0, i === 0)) } : {}),
    });
    const n = job.params.numReturnSequences;
    const sequences: CompletionSequence[] = [];
    const state = Array.from({ length: n }, (_, s) => ({
      script: this.#tokens(s, job),
      stops: new StopStringFilter(job.params.stop),
      tokens: [] as TokenLogprob[],
      pending: [] as TokenLogprob[],
      done: null as CompletionSequence['finishReason'] | null,
    }));
    for (let step = 0; state.some((s) => s.done === null); step++) {
      if (signal.aborted) {
        for (const s of state) s.done ??= 'cancelled';
        break;
      }
      for (const [i, s] of state.entries()) {
        if (s.done !== null) continue;
        const piece = s.script[step];
        if (piece === undefined) {
          s.done = 'stop';
          const rest = s.stops.end();
          if (rest) events.onDelta(i, { text: rest, tokens: s.pending.splice(0) });
          continue;
        }
        const token = this.#token(piece, i, step, job.logprobs ?? 0, false);
        const update = s.stops.push(piece);
        if (!update.stopped) {
          s.tokens.push(token);
          s.pending.push(token);
        }
        if (update.emit) events.onDelta(i, { text: update.emit, ...(job.logprobs !== null ? { tokens: s.pending.splice(0) } : {}) });
        if (update.stopped) s.done = 'stop';
        else if (s.tokens.length >= job.params.maxNewTokens) {
          s.done = 'length';
          const rest = s.stops.end();
          if (rest) events.onDelta(i, { text: rest, ...(job.logprobs !== null ? { tokens: s.pending.splice(0) } : {}) });
        }
      }
      if (step === 0) {
        for (const resolve of this.#firstTokenWaiters.splice(0)) resolve();
        if (this.failAfterFirstToken) {
          const error = this.failAfterFirstToken;
          this.failAfterFirstToken = null;
          throw error;
        }
        if (this.hold) await this.hold;
      }
      await new Promise((resolve) => setTimeout(resolve, this.#stepMs));
    }
    for (const s of state) {
      sequences.push({
        text: s.stops.text,
        tokenCount: s.tokens.length,
        finishReason: s.done ?? 'cancelled',
        ...(job.logprobs !== null ? { logprobs: s.tokens } : {}),
      });
    }
    return { promptTokens: promptWords.length, sequences };
  }

  #token(token: string, sequence: number, step: number, alternatives: number, first: boolean): TokenLogprob {
    if (first) return { token, logprob: null, top: [] };
    const logprob = scriptedLogprob(sequence, step);
    const top = [{ token, logprob }, ...Array.from({ length: Math.max(0, alternatives - 1) }, (_, k) => ({ token: ` alt${k}`, logprob: logprob - 1 - k }))];
    return { token, logprob, top: top.slice(0, alternatives) };
  }
}
