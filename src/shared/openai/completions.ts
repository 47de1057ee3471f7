/**
 * The OpenAI completions API (`POST /v1/completions`, `GET /v1/models`) as
 * wire shapes: the request schema and its mapping to Inkwell's
 * GenerationParams, and the response, stream-chunk and model-list shapes.
 * Inkwell's /v1 routes build responses with it; the remote-engine client
 * parses what vLLM, Text Generation Inference and llama.cpp's server send
 * with the same schemas, so where those servers differ from OpenAI the
 * schemas accept both (noted per field).
 *
 * Request fields, decided one by one after what vLLM does
 * (vllm/entrypoints/openai/protocol.py, CompletionRequest):
 * - Used: model, prompt (a string or up to MAX_PROMPTS strings), max_tokens,
 *   n, best_of, temperature (below 1e-5 means greedy, as vLLM's
 *   _SAMPLING_EPS; TGI and llama.cpp's server also read 0 as greedy), top_p,
 *   top_k (-1 or 0: off), repetition_penalty, seed, stop, stream,
 *   stream_options.include_usage, logprobs (0..MAX_LOGPROBS), echo, and
 *   Inkwell's own no_repeat_ngram_size.
 * - Accepted and ignored: user (OpenAI's abuse-monitoring id; here the
 *   fairness key of the queue), skip_special_tokens and
 *   spaces_between_special_tokens (GPT-2's only special token ends the text).
 * - Refused unless neutral, since Inkwell's sampler cannot honour them:
 *   presence_penalty / frequency_penalty (0), logit_bias ({}), suffix (""),
 *   min_p (0), typical_p (1), min_tokens (0), ignore_eos (false),
 *   use_beam_search (false), include_stop_str_in_output (false),
 *   truncate_prompt_tokens, prompt_logprobs, guided decoding and
 *   response_format (absent). vLLM implements most of these; answering as if
 *   it had would hand back text sampled differently from what was asked.
 * - Refused: prompts given as token ids (Inkwell takes text).
 * - Any other field is ignored and named in `ignoredFields`, as vLLM logs
 *   "fields were present in the request but ignored" (front ends such as
 *   SillyTavern send many backend-specific extras).
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports.
 */
import { z } from 'zod';
import { GenerationParams, LIMITS } from '../api';
import { OpenAiError } from './errors';
import { CompletionLogprobs, ContentLogprobs } from './logprobs';

/** Most alternatives per token: vLLM's default `max_logprobs` (OpenAI allows 5). */
export const MAX_LOGPROBS = 20;
/** Most prompts in one request (each gets n choices). */
export const MAX_PROMPTS = 16;
/** OpenAI's default max_tokens for completions. */
export const DEFAULT_MAX_TOKENS = 16;
/** Temperatures below this sample greedily (vLLM's _SAMPLING_EPS). */
export const GREEDY_TEMPERATURE = 1e-5;

const PromptText = z.string().max(LIMITS.maxTextChars, `a prompt is longer than ${LIMITS.maxTextChars} characters`);

/** The request body of `POST /v1/completions`; unknown fields are stripped (see the header). */
export const CompletionRequest = z.object({
  model: z.string().min(1).max(256).nullish(),
  prompt: z.union([PromptText, z.array(PromptText).min(1, 'prompt must not be an empty list').max(MAX_PROMPTS, `at most ${MAX_PROMPTS} prompts per request`)]),
  max_tokens: z.int().min(0).max(LIMITS.maxNewTokens).nullish(),
  n: z.int().min(1).max(LIMITS.maxCandidates).nullish(),
  best_of: z.int().min(1).max(LIMITS.maxCandidates).nullish(),
  temperature: z.number().min(0).max(10).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.int().min(-1).max(1_000_000).nullish(),
  repetition_penalty: z.number().min(0.01).max(10).nullish(),
  no_repeat_ngram_size: z.int().min(0).max(32).nullish(),
  seed: z.int().min(0).max(0xffff_ffff).nullish(),
  stop: z
    .union([z.string().max(LIMITS.maxStopStringChars), z.array(z.string().max(LIMITS.maxStopStringChars)).max(LIMITS.maxStopStrings)])
    .nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  logprobs: z.int().min(0).max(MAX_LOGPROBS).nullish(),
  echo: z.boolean().nullish(),
  user: z.string().max(256).nullish(),
  // Neutral-only fields (checked in parseCompletionRequest).
  suffix: z.string().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  min_p: z.number().nullish(),
  typical_p: z.number().nullish(),
  min_tokens: z.int().nullish(),
  ignore_eos: z.boolean().nullish(),
  use_beam_search: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
  truncate_prompt_tokens: z.unknown().optional(),
  prompt_logprobs: z.unknown().optional(),
  guided_json: z.unknown().optional(),
  guided_regex: z.unknown().optional(),
  guided_choice: z.unknown().optional(),
  guided_grammar: z.unknown().optional(),
  response_format: z.unknown().optional(),
  // Accepted and ignored.
  skip_special_tokens: z.boolean().nullish(),
  spaces_between_special_tokens: z.boolean().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

type NeutralField = { [K in keyof CompletionRequest]-?: { field: K; isNeutral(value: NonNullable<CompletionRequest[K]>): boolean; why: string } }[keyof CompletionRequest];

const neutralOnly: readonly NeutralField[] = [
  { field: 'suffix', isNeutral: (v) => v === '', why: 'insertion (suffix) needs a fill-in-the-middle model; GPT-2 only continues text' },
  { field: 'presence_penalty', isNeutral: (v) => v === 0, why: "Inkwell's sampler has repetition_penalty (as in Hugging Face transformers) instead" },
  { field: 'frequency_penalty', isNeutral: (v) => v === 0, why: "Inkwell's sampler has repetition_penalty (as in Hugging Face transformers) instead" },
  { field: 'logit_bias', isNeutral: (v) => Object.keys(v).length === 0, why: "Inkwell's sampler has no per-token bias" },
  { field: 'min_p', isNeutral: (v) => v === 0, why: 'Inkwell samples with top_k and top_p' },
  { field: 'typical_p', isNeutral: (v) => v === 1, why: 'Inkwell samples with top_k and top_p' },
  { field: 'min_tokens', isNeutral: (v) => v === 0, why: 'generation always may end at <|endoftext|>' },
  { field: 'ignore_eos', isNeutral: (v) => v === false, why: 'generation always ends at <|endoftext|>' },
  { field: 'use_beam_search', isNeutral: (v) => v === false, why: 'Inkwell samples or decodes greedily; it has no beam search' },
  { field: 'include_stop_str_in_output', isNeutral: (v) => v === false, why: 'the text always ends before the stop string' },
  { field: 'truncate_prompt_tokens', isNeutral: () => false, why: 'Inkwell cuts a prompt that does not fit from the left by itself' },
  { field: 'prompt_logprobs', isNeutral: () => false, why: 'ask for prompt log-probabilities with echo and logprobs' },
  { field: 'guided_json', isNeutral: () => false, why: 'Inkwell has no guided decoding' },
  { field: 'guided_regex', isNeutral: () => false, why: 'Inkwell has no guided decoding' },
  { field: 'guided_choice', isNeutral: () => false, why: 'Inkwell has no guided decoding' },
  { field: 'guided_grammar', isNeutral: () => false, why: 'Inkwell has no guided decoding' },
  { field: 'response_format', isNeutral: () => false, why: 'Inkwell has no guided decoding' },
];

/** A completions request, checked and mapped onto Inkwell's generation parameters. */
export interface CompletionPlan {
  /** The requested model; null means the server's default. */
  model: string | null;
  prompts: string[];
  /** Per prompt; `numReturnSequences` is best_of (which is n unless best_of is larger). */
  params: GenerationParams;
  /** Choices returned per prompt. */
  n: number;
  /** Alternatives per token (0: only the chosen token's logprob); null: no logprobs. */
  logprobs: number | null;
  echo: boolean;
  /** max_tokens 0 with echo: the prompt is scored and nothing generated is returned (vLLM's echo-without-generation). */
  scoreOnly: boolean;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with usage and no choices. */
  includeUsage: boolean;
  /** The caller's `user` field, if any. */
  user: string | null;
  /** Fields the request carried that this server does not read. */
  ignoredFields: string[];
}

const knownFields = new Set(Object.keys(CompletionRequest.shape));

/** Validates a parsed JSON body; throws OpenAiError (400, naming the field) when it cannot be served. */
export function parseCompletionRequest(body: unknown): CompletionPlan {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw OpenAiError.invalidRequest('The request body must be a JSON object.');
  }
  refuseTokenIdPrompts((body as { prompt?: unknown }).prompt);
  const parsed = CompletionRequest.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
    throw OpenAiError.invalidRequest(`Invalid value for '${param ?? 'request'}': ${issue?.message ?? 'invalid'}`, param);
  }
  const request = parsed.data;
  for (const rule of neutralOnly) {
    const value = request[rule.field];
    if (value === undefined || value === null) continue;
    if (!(rule.isNeutral as (v: unknown) => boolean)(value)) {
      throw OpenAiError.invalidRequest(`${rule.field} is not supported: ${rule.why}. Leave it out.`, rule.field, 'unsupported_parameter');
    }
  }

  const echo = request.echo ?? false;
  const maxTokens = request.max_tokens ?? DEFAULT_MAX_TOKENS;
  if (maxTokens === 0 && !echo) {
    throw OpenAiError.invalidRequest('max_tokens must be at least 1 (0 only scores the prompt, which needs echo: true).', 'max_tokens');
  }
  const n = request.n ?? 1;
  const bestOf = request.best_of ?? n;
  if (bestOf < n) throw OpenAiError.invalidRequest(`best_of (${bestOf}) must be at least n (${n}).`, 'best_of');
  const stream = request.stream ?? false;
  if (stream && bestOf > n) throw OpenAiError.invalidRequest('best_of cannot be used with stream: the best choices are known only at the end.', 'best_of');
  if (request.stream_options && !stream) throw OpenAiError.invalidRequest('stream_options is only allowed with stream: true.', 'stream_options');

  const temperature = request.temperature ?? 1;
  const greedy = temperature < GREEDY_TEMPERATURE;
  const stops = typeof request.stop === 'string' ? [request.stop] : (request.stop ?? []);
  const topK = request.top_k ?? 0;
  const params = GenerationParams.safeParse({
    // One token is decoded and dropped to score a prompt, as vLLM does for echo with max_tokens 0.
    maxNewTokens: Math.max(1, maxTokens),
    numReturnSequences: bestOf,
    doSample: !greedy,
    // The schema wants a positive temperature even where greedy decoding never reads it.
    temperature: greedy ? 1 : temperature,
    topK: topK < 0 ? 0 : topK,
    topP: request.top_p ?? 1,
    repetitionPenalty: request.repetition_penalty ?? 1,
    noRepeatNgramSize: request.no_repeat_ngram_size ?? 0,
    ...(request.seed !== undefined && request.seed !== null ? { seed: request.seed } : {}),
    // An empty stop string would match everywhere; vLLM drops them too.
    stop: stops.filter((s) => s.length > 0),
    device: 'auto',
  });
  if (!params.success) {
    const issue = params.error.issues[0];
    throw OpenAiError.invalidRequest(`Invalid generation parameters: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }

  return {
    model: request.model ?? null,
    prompts: typeof request.prompt === 'string' ? [request.prompt] : request.prompt,
    params: params.data,
    n,
    logprobs: request.logprobs ?? null,
    echo,
    scoreOnly: maxTokens === 0,
    stream,
    includeUsage: request.stream_options?.include_usage ?? false,
    user: request.user ?? null,
    ignoredFields: Object.keys(body).filter((key) => !knownFields.has(key)),
  };
}

/** OpenAI allows token-id prompts (`[1, 2]` or `[[1, 2]]`); Inkwell takes text, and says so rather than "expected string". */
function refuseTokenIdPrompts(prompt: unknown): void {
  const isIds = (value: unknown): boolean => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');
  if (isIds(prompt) || (Array.isArray(prompt) && prompt.some(isIds))) {
    throw OpenAiError.invalidRequest('prompt as token ids is not supported: send the text (a string or a list of strings).', 'prompt', 'unsupported_parameter');
  }
}

// ---------------------------------------------------------------- responses

/** Token counts of a response. */
export const CompletionUsage = z.object({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
});
export type CompletionUsage = z.infer<typeof CompletionUsage>;

/** One choice of a response, or its next piece in a stream chunk. */
export const CompletionChoice = z.object({
  index: z.int().min(0).default(0),
  text: z.string(),
  /** The completions format; llama.cpp's server sends the chat shape instead (ContentLogprobs). */
  logprobs: z.union([CompletionLogprobs, ContentLogprobs]).nullish(),
  /** "stop" | "length" from OpenAI and vLLM; TGI says "eos_token" or "stop_sequence"; null until a streamed choice ends. */
  finish_reason: z.string().nullish(),
});
export type CompletionChoice = z.infer<typeof CompletionChoice>;

/** A `text_completion` object: the whole response, or one chunk of a stream. */
export const CompletionResponse = z.object({
  /** TGI sends an empty id. */
  id: z.string().default(''),
  object: z.string().default('text_completion'),
  created: z.number().default(0),
  model: z.string().default(''),
  system_fingerprint: z.string().nullish(),
  choices: z.array(CompletionChoice),
  /** Absent in stream chunks except (with include_usage) the last one; llama.cpp puts it on its last chunk. */
  usage: CompletionUsage.nullish(),
});
export type CompletionResponse = z.infer<typeof CompletionResponse>;

/** What identifies one response (all its chunks share it). */
export interface CompletionIdentity {
  /** `cmpl-…`. */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

/** The non-streaming response. */
export function completionResponse(identity: CompletionIdentity, choices: CompletionChoice[], usage: CompletionUsage): CompletionResponse {
  return { id: identity.id, object: 'text_completion', created: identity.created, model: identity.model, choices, usage };
}

/** One stream chunk carrying the next piece of one choice. */
export function completionChunk(identity: CompletionIdentity, choice: CompletionChoice): CompletionResponse {
  return { id: identity.id, object: 'text_completion', created: identity.created, model: identity.model, choices: [choice], usage: null };
}

/** The last chunk of a stream with include_usage: no choices, the usage of the whole request. */
export function usageChunk(identity: CompletionIdentity, usage: CompletionUsage): CompletionResponse {
  return { id: identity.id, object: 'text_completion', created: identity.created, model: identity.model, choices: [], usage };
}

/** Usage from token counts. */
export function usageOf(promptTokens: number, completionTokens: number): CompletionUsage {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

// ---------------------------------------------------------------- models

/** One entry of `GET /v1/models`. */
export const ModelCard = z.object({
  id: z.string(),
  object: z.string().default('model'),
  created: z.number().default(0),
  owned_by: z.string().default(''),
  /** vLLM's extension: the context window in tokens. */
  max_model_len: z.int().nullish(),
  /** llama.cpp's server: facts about the loaded GGUF file. */
  meta: z.object({ n_ctx_train: z.number().nullish() }).nullish(),
});
export type ModelCard = z.infer<typeof ModelCard>;

/** The `GET /v1/models` body. */
export const ModelList = z.object({
  object: z.string().default('list'),
  data: z.array(ModelCard),
});
export type ModelList = z.infer<typeof ModelList>;

/** What a server says about one of its models. */
export interface ServedModelInfo {
  id: string;
  /** Unix seconds (e.g. when it was imported). */
  created: number;
  ownedBy: string;
  /** Context window in tokens. */
  contextLength?: number;
}

/** A model card for `GET /v1/models` (with vLLM's max_model_len, which front ends read for the context size). */
export function modelCard(model: ServedModelInfo): ModelCard {
  return {
    id: model.id,
    object: 'model',
    created: model.created,
    owned_by: model.ownedBy,
    ...(model.contextLength !== undefined ? { max_model_len: model.contextLength } : {}),
  };
}

/** The `GET /v1/models` body. */
export function modelList(models: readonly ServedModelInfo[]): ModelList {
  return { object: 'list', data: models.map(modelCard) };
}
