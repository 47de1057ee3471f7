/**
 * Token log-probabilities under the model's raw next-token distribution: the softmax of the
 * logits at temperature 1, before any logits processor (repetition penalty, n-gram ban,
 * temperature, top-k, top-p). That is what OpenAI-compatible servers return as `logprobs`, and
 * it says how likely the model itself found a token, whatever the sampling settings were.
 *
 * The normaliser log Σ exp(logits) comes with the logits (the decoder graph computes it), so a
 * token's log-probability is one subtraction, and the top-N alternatives one O(V log N) pass.
 */
import type { TokenLogprob } from '../../../shared/api';
import { topCandidates } from './sampling';

export type { TokenLogprob } from '../../../shared/api';

/** Most alternatives a caller may ask for per generated token (OpenAI's `logprobs` limit). */
export const MAX_TOP_LOGPROBS = 20;

/** log softmax(raw)[token], given `logSumExp` = log Σ exp(raw). */
export function tokenLogprob(raw: Float32Array, token: number, logSumExp: number): number {
  return (raw[token] as number) - logSumExp;
}

/** The `n` most likely tokens of `raw` with their log-probabilities, most likely first (lower id first on ties). */
export function topLogprobs(raw: Float32Array, n: number, logSumExp: number): TokenLogprob[] {
  return topCandidates(raw, n).map((tokenId) => ({ tokenId, logprob: (raw[tokenId] as number) - logSumExp }));
}
