/**
 * Per-token log-probabilities: Inkwell's own shape (one entry per token, with
 * its top alternatives) and the legacy completions format OpenAI answers with
 * (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`, parallel arrays).
 *
 * Offsets count Unicode code points from the start of the prompt, as OpenAI's
 * reference server does (Python string indices): with `echo` the first prompt
 * token is at 0, without it the first generated token is at the prompt's
 * length. vLLM counts from the start of the returned text instead; clients
 * that read text_offset (few do) get OpenAI's meaning here.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports.
 */
import { z } from 'zod';

/** One alternative at a position. */
export const TopLogprob = z.object({ token: z.string(), logprob: z.number() });
export type TopLogprob = z.infer<typeof TopLogprob>;

/** One token of a prompt or a completion with its log-probability. */
export const TokenLogprob = z.object({
  /** The token's text (a token that ends inside a UTF-8 character shows the replacement character). */
  token: z.string(),
  /** Natural log of the token's probability; null for the first prompt token, which nothing predicts. */
  logprob: z.number().nullable(),
  /** The most likely tokens at this position, most likely first; empty when no alternatives were asked for. */
  top: z.array(TopLogprob),
  /** The token's id, where the server says (llama.cpp's server does; the completions format does not). */
  id: z.int().min(0).optional(),
});
export type TokenLogprob = z.infer<typeof TokenLogprob>;

/** `logprobs` of one completions choice. */
export const CompletionLogprobs = z.object({
  tokens: z.array(z.string()),
  token_logprobs: z.array(z.number().nullable()),
  top_logprobs: z.array(z.record(z.string(), z.number()).nullable()),
  text_offset: z.array(z.number()),
});
export type CompletionLogprobs = z.infer<typeof CompletionLogprobs>;

/**
 * JSON has no -Infinity (JSON.stringify would write null); vLLM sends -9999.0
 * for a token the sampler ruled out, and so does Inkwell.
 */
export const LOGPROB_FLOOR = -9999;

/** Length in code points, the unit of text_offset. */
export function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

function clampLogprob(value: number): number {
  return Number.isNaN(value) ? LOGPROB_FLOOR : Math.max(value, LOGPROB_FLOOR);
}

/**
 * Formats consecutive tokens of one choice, keeping the running text offset,
 * so that streamed pieces and a whole response give the same numbers.
 */
export class CompletionLogprobsCursor {
  #offset: number;

  /** `startOffset`: where the first token formatted starts (0 with echo, else the prompt's length). */
  constructor(startOffset: number) {
    this.#offset = startOffset;
  }

  /** The next tokens in the completions format (a token without a logprob, the first prompt token, gets null alternatives). */
  format(tokens: readonly TokenLogprob[]): CompletionLogprobs {
    const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    for (const token of tokens) {
      out.tokens.push(token.token);
      out.token_logprobs.push(token.logprob === null ? null : clampLogprob(token.logprob));
      out.top_logprobs.push(token.logprob === null ? null : topAsRecord(token.top));
      out.text_offset.push(this.#offset);
      this.#offset += codePointLength(token.token);
    }
    return out;
  }
}

/**
 * Alternatives as the `{token: logprob}` record of the completions format.
 * Two ids can decode to the same text (a partial UTF-8 byte shows as U+FFFD);
 * a record holds one of them, the likelier.
 */
function topAsRecord(top: readonly TopLogprob[]): Record<string, number> {
  const record: Record<string, number> = {};
  for (const { token, logprob } of top) {
    const value = clampLogprob(logprob);
    if (!Object.hasOwn(record, token) || (record[token] as number) < value) record[token] = value;
  }
  return record;
}

/**
 * llama.cpp's server answers /v1/completions with the chat API's shape,
 * `{content: [{token, logprob, top_logprobs: [{token, logprob}]}]}`
 * (tools/server, `probs_to_json`), not the legacy parallel arrays.
 */
export const ContentLogprobs = z.object({
  content: z.array(
    z.object({
      id: z.int().min(0).optional(),
      token: z.string(),
      logprob: z.number(),
      top_logprobs: z.array(z.object({ token: z.string(), logprob: z.number() })).default([]),
    }),
  ),
});
export type ContentLogprobs = z.infer<typeof ContentLogprobs>;

/** Joins streamed or per-prompt pieces of one choice into one block. */
export function concatCompletionLogprobs(parts: readonly CompletionLogprobs[]): CompletionLogprobs {
  return {
    tokens: parts.flatMap((p) => p.tokens),
    token_logprobs: parts.flatMap((p) => p.token_logprobs),
    top_logprobs: parts.flatMap((p) => p.top_logprobs),
    text_offset: parts.flatMap((p) => p.text_offset),
  };
}

/**
 * Reads a completions-format block back into tokens (the remote client's
 * direction). Alternatives are sorted most likely first since a JSON object
 * keeps no order for integer-like keys such as "1".
 */
export function tokensFromCompletionLogprobs(block: CompletionLogprobs): TokenLogprob[] {
  return block.tokens.map((token, i) => {
    const top = block.top_logprobs[i];
    return {
      token,
      logprob: block.token_logprobs[i] ?? null,
      top: top ? Object.entries(top).map(([t, logprob]) => ({ token: t, logprob })).sort((a, b) => b.logprob - a.logprob) : [],
    };
  });
}

/** Reads llama.cpp's chat-shaped block into tokens. */
export function tokensFromContentLogprobs(block: ContentLogprobs): TokenLogprob[] {
  return block.content.map((entry) => ({
    ...(entry.id !== undefined ? { id: entry.id } : {}),
    token: entry.token,
    logprob: entry.logprob,
    top: entry.top_logprobs.map((t) => ({ token: t.token, logprob: t.logprob })).sort((a, b) => b.logprob - a.logprob),
  }));
}
