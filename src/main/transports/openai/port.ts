/**
 * What the /v1 routes need from the back end: the models it offers and one
 * way to run a prompt's candidates, streaming. Serve mode implements it over
 * the inference client; tests implement it with a script.
 */
import type { FinishReason, GenerationParams } from '../../../shared/api';
import type { ServedModelInfo } from '../../../shared/openai/completions';
import type { TokenLogprob } from '../../../shared/openai/logprobs';

/** One prompt's generation: `params.numReturnSequences` candidates. */
export interface CompletionJob {
  modelId: string;
  prompt: string;
  params: GenerationParams;
  /**
   * Log-probabilities of the generated tokens with this many top alternatives
   * per position (0: the chosen token's only); null: none wanted.
   */
  logprobs: number | null;
  /** Also the prompt's tokens with their log-probabilities (echo with logprobs), with `logprobs` alternatives. */
  promptLogprobs: boolean;
}

/** Known once the prompt is tokenized, before the first delta. */
export interface CompletionStart {
  /** Tokens of the context actually used (after any cut from the left). */
  promptTokens: number;
  /** When `promptLogprobs` was asked: every prompt token, the first with a null logprob. */
  promptLogprobs?: TokenLogprob[];
}

/** One streamed piece of one candidate. */
export interface CompletionDelta {
  text: string;
  /**
   * When logprobs were asked: the tokens whose text this delta releases, in
   * order (a token held back with its text, e.g. a possible stop string,
   * comes with the delta that releases it; tokens cut by a stop string never come).
   */
  tokens?: TokenLogprob[];
}

/** Streaming callbacks of a job. */
export interface CompletionEvents {
  /** Called once before the first delta. */
  onStart(info: CompletionStart): void;
  onDelta(sequence: number, delta: CompletionDelta): void;
}

/** One finished candidate. */
export interface CompletionSequence {
  /** The whole text (equals the concatenated deltas). */
  text: string;
  /** Tokens generated (for usage). */
  tokenCount: number;
  finishReason: FinishReason;
  /** When logprobs were asked: every generated token of `text`. */
  logprobs?: TokenLogprob[];
}

/** What a job ends with. */
export interface CompletionOutcome {
  promptTokens: number;
  sequences: CompletionSequence[];
}

/** The back end the /v1 routes serve. */
export interface CompletionsPort {
  /** The models on offer; the first is the one a request without `model` gets (vLLM's rule). */
  listModels(): Promise<ServedModelInfo[]>;
  /**
   * Runs one job. Aborting `signal` ends it within a step and resolves with
   * the partial candidates ('cancelled'), as Engine.generate does. Errors carry
   * an engine or API error `kind` (bad_input, not_found, refused, engine_crashed, …).
   */
  complete(job: CompletionJob, events: CompletionEvents, signal: AbortSignal): Promise<CompletionOutcome>;
}
