/**
 * What differs between the OpenAI-compatible servers a remote engine can be,
 * so that a request means the same thing on each:
 *
 * - vLLM (vllm/entrypoints/openai/protocol.py): takes `n`; top_k -1 is off on
 *   every version (0 only on newer ones); `repetition_penalty` as in HF.
 * - llama.cpp's server (tools/server/README.md): /v1/completions maps onto its
 *   native /completion, so its own sampler defaults apply unless overridden:
 *   top_k 40, min_p 0.05, and `repeat_penalty` over only the last 64 tokens
 *   (`repeat_last_n`; -1 means the whole context, as HF's penalty is). It does
 *   not take `n` for completions, so each candidate is its own request, and it
 *   answers logprobs in the chat shape (`{content: [...]}`). Its native
 *   /completion endpoint (`n_predict`, `content`, `completion_probabilities`)
 *   is not used.
 * - Text Generation Inference (router/src/lib.rs, CompletionRequest): no
 *   `top_k` and no `n` on /v1/completions, top_p must be below 1, finish
 *   reasons "eos_token" / "stop_sequence".
 * - OpenAI itself: no top_k, no repetition_penalty.
 * - Another Inkwell (`inkwell serve`, src/main/transports/openai): takes `n`
 *   (one prefill for all candidates) and its own no_repeat_ngram_size.
 */
import type { GenerationParams } from '../../../shared/api';
import type { RemoteServerKind } from '../../../shared/remote-engines';
import { EngineError } from '../types';

/** A server kind once known. */
export type ServerKind = Exclude<RemoteServerKind, 'auto'>;

/** How a request for k candidates is sent. */
export type CandidateStrategy = 'n' | 'one-request-per-candidate';

/** `n` where the server implements it; elsewhere k requests with seeds seed, seed+1, … */
export function candidateStrategy(kind: ServerKind): CandidateStrategy {
  return kind === 'vllm' || kind === 'openai' || kind === 'inkwell' ? 'n' : 'one-request-per-candidate';
}

/**
 * Kind of server from its `GET /v1/models` body and `Server` header; null
 * when neither tells (TGI says nothing there: see detectFromInfo).
 */
export function detectServerKind(models: unknown, serverHeader: string | undefined): ServerKind | null {
  const data = (models as { data?: unknown } | null)?.data;
  const cards = Array.isArray(data) ? (data as { owned_by?: unknown; meta?: unknown }[]) : [];
  if (cards.some((c) => c?.owned_by === 'vllm')) return 'vllm';
  if (cards.some((c) => c?.owned_by === 'inkwell')) return 'inkwell';
  if (cards.some((c) => c?.owned_by === 'llamacpp' || (c?.meta !== undefined && c?.meta !== null)) || /llama\.cpp/i.test(serverHeader ?? '')) return 'llama.cpp';
  if (Array.isArray((models as { models?: unknown } | null)?.models)) return 'llama.cpp';
  if (cards.some((c) => c?.owned_by === 'openai' || c?.owned_by === 'system' || c?.owned_by === 'openai-internal')) return 'openai';
  return null;
}

/** TGI's `GET /info` names its router. */
export function detectFromInfo(info: unknown): ServerKind | null {
  const router = (info as { router?: unknown } | null)?.router;
  return typeof router === 'string' && /text-generation/i.test(router) ? 'tgi' : null;
}

/**
 * Whether to ask `kind` for per-token logprobs while streaming: vLLM and OpenAI (the legacy arrays)
 * and llama.cpp's server (the chat shape) stream them with each token. TGI's completions route has
 * no logprobs field, and an unknown server might refuse one. Inkwell's own /v1 answers logprobs,
 * but sends a candidate's text only once it is done when they are asked (its engine streams text,
 * not tokens), which would take streaming and Stop's partial text away from the writer.
 */
export function returnsLogprobs(kind: ServerKind): boolean {
  return kind === 'vllm' || kind === 'llama.cpp' || kind === 'openai';
}

/** The sampling fields of a request body for `kind`; refuses what the server would silently ignore. */
export function samplingFields(kind: ServerKind, params: GenerationParams): Record<string, number> {
  if (params.noRepeatNgramSize > 0 && kind !== 'inkwell') {
    throw new EngineError('bad_input', 'remote engines have no n-gram block (no_repeat_ngram_size): set it to 0 for a remote model');
  }
  if (params.maxLength !== undefined) {
    throw new EngineError('bad_input', 'max_length needs the prompt\'s token count, which a remote engine reports only afterwards: use max_new_tokens');
  }
  const temperature = params.doSample ? params.temperature : 0;
  const topKOn = params.topK > 0;
  const penaltyOn = params.repetitionPenalty !== 1;
  switch (kind) {
    case 'inkwell':
      return { temperature, top_p: params.topP, top_k: params.topK, repetition_penalty: params.repetitionPenalty, no_repeat_ngram_size: params.noRepeatNgramSize };
    case 'vllm':
      return { temperature, top_p: params.topP, top_k: topKOn ? params.topK : -1, repetition_penalty: params.repetitionPenalty };
    case 'llama.cpp':
      return { temperature, top_p: params.topP, top_k: params.topK, min_p: 0, repeat_penalty: params.repetitionPenalty, repeat_last_n: -1 };
    case 'tgi':
      if (topKOn) throw new EngineError('bad_input', 'Text Generation Inference\'s /v1/completions has no top_k: set top-k to 0 for this engine');
      return { temperature, ...(params.topP < 1 ? { top_p: params.topP } : {}), ...(penaltyOn ? { repetition_penalty: params.repetitionPenalty } : {}) };
    case 'openai':
      if (topKOn || penaltyOn) throw new EngineError('bad_input', 'the OpenAI API has no top_k or repetition_penalty: set top-k to 0 and the repetition penalty to 1 for this engine');
      return { temperature, top_p: params.topP };
    case 'generic':
      return { temperature, top_p: params.topP, ...(topKOn ? { top_k: params.topK } : {}), ...(penaltyOn ? { repetition_penalty: params.repetitionPenalty } : {}) };
  }
}
