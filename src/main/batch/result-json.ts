/**
 * A generation's outcome as JSON (snake_case): what `inkwell generate --json`
 * prints, and the body of every line of a batch results file.
 */
import type { GenerationOutcome } from '../../shared/api';
import type { BatchRow } from './input';

/** The result as `--json` prints it (snake_case, as the README's CLI section documents it); `logprobs` adds each token's log-probability (and alternatives, when asked for). */
export function outcomeJson(result: GenerationOutcome, logprobs = false): Record<string, unknown> {
  const spec = result.speculative;
  return {
    model: result.modelId,
    precision: result.precision,
    device: result.device,
    ...(result.deviceFallbackReason !== undefined ? { device_fallback_reason: result.deviceFallbackReason } : {}),
    seed: result.seed,
    prompt_tokens: result.promptTokens,
    truncated_prompt_tokens: result.truncatedPromptTokens,
    sequences: result.sequences.map((s) => ({
      text: s.text,
      token_ids: s.tokenIds,
      finish_reason: s.finishReason,
      ...(logprobs ? { token_logprobs: (s.tokenLogprobs ?? []).map(round6) } : {}),
      ...(logprobs && s.topLogprobs ? { top_logprobs: s.topLogprobs.map((step) => step.map((t) => ({ id: t.tokenId, logprob: round6(t.logprob) }))) } : {}),
    })),
    timings: {
      load_ms: round(result.timings.loadMs),
      prefill_ms: round(result.timings.prefillMs),
      decode_ms: round(result.timings.decodeMs),
      tokens_per_second: round(result.timings.tokensPerSecond),
    },
    ...(spec ? {
      speculative: {
        draft_model: spec.draftModelId, draft_precision: spec.draftPrecision, draft_tokens: spec.draftTokens, proposed: spec.proposed, accepted: spec.accepted,
        acceptance_rate: round(spec.acceptanceRate), target_passes: spec.targetPasses,
      },
    } : {}),
  };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Log-probabilities keep 6 decimals (a millionth of a nat). */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** One results-file line: the input row (index, line, fields), then the outcome with token log-probabilities. */
export function batchLine(row: BatchRow, outcome: GenerationOutcome): Record<string, unknown> {
  return { index: row.index, line: row.line, fields: row.fields, ...outcomeJson(outcome, true) };
}
