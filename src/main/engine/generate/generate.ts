/**
 * Generation requests and their results, and `runGeneration`: one request on a decoder of its
 * own. The decode loop itself is the DecodeScheduler (scheduler.ts), which the Engine keeps per
 * loaded decoder so that concurrent requests share decode steps.
 */
import type { Candidate, GenerationParams, GenerationStartInfo } from '../../../shared/api';
import type { DecoderSession } from '../runtime';
import type { Gpt2Tokenizer } from '../tokenizer';
import type { TokenLogprob } from './logprobs';
import { DecodeScheduler } from './scheduler';

/** What is known once the prompt is tokenized, before the first token (declared in src/shared/api.ts). */
export type { GenerationStartInfo } from '../../../shared/api';

/** One generation request, as the scheduler takes it. */
export interface GenerationJob {
  tokenizer: Pick<Gpt2Tokenizer, 'encode' | 'tokenBytes' | 'eosTokenId'>;
  prompt: string;
  /** Kept at the start whatever is cut from the prompt. */
  memory?: string;
  params: GenerationParams;
  /** The seed actually used (the caller picks one when the request has none). */
  seed: number;
  /**
   * Random stream of the first sequence (default 0): sequence i draws from stream firstSequence + i,
   * so a run with firstSequence = i and one sequence reproduces sequence i of a larger batch.
   */
  firstSequence?: number | undefined;
  /** 0 (default) to MAX_TOP_LOGPROBS: how many most likely alternatives to keep for each generated token. */
  topLogprobs?: number | undefined;
  /** Checked before every step: an abort ends all running sequences with 'cancelled'. */
  signal?: AbortSignal | undefined;
  /** What is known before the first token; the Engine adds the precision of the session it opened. */
  onStart?: ((info: Omit<GenerationStartInfo, 'precision'>) => void) | undefined;
  /** Streamed text of sequence `sequence`; the pieces concatenate to its final text. */
  onDelta?: ((sequence: number, text: string) => void) | undefined;
}

/** One generation over an open decoder that no other request uses. */
export interface GenerationRun extends GenerationJob {
  session: DecoderSession;
}

/**
 * A generated sequence: the API's Candidate plus the log-probability of each generated token.
 * Log-probabilities are natural logs under the model's raw next-token distribution (softmax of
 * the logits at temperature 1, before repetition penalty, n-gram ban, temperature, top-k and
 * top-p), whatever the sampling settings: what OpenAI-compatible servers return as logprobs.
 */
export interface GeneratedSequence extends Candidate {
  /** One per entry of tokenIds. */
  tokenLogprobs: number[];
  /** When asked for (GenerationJob.topLogprobs > 0): per generated token, the most likely tokens at that step, best first. */
  topLogprobs?: TokenLogprob[][];
}

/** One request's decode: the sequences and how long each phase took (the Engine adds model, device, seed). */
export interface DecodeOutcome {
  promptTokens: number;
  truncatedPromptTokens: number;
  sequences: GeneratedSequence[];
  prefillMs: number;
  /** From the prefill's logits to the last token. */
  decodeMs: number;
  /** New tokens computed, all sequences together, per second of decoding. */
  tokensPerSecond: number;
}

/** Runs one request on `run.session` (owned by the caller) and waits for all its sequences. */
export async function runGeneration(run: GenerationRun): Promise<DecodeOutcome> {
  const { session, ...job } = run;
  const scheduler = new DecodeScheduler(session);
  try {
    return await scheduler.submit(job);
  } finally {
    scheduler.close();
  }
}
