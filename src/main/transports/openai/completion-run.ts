/**
 * Runs one `POST /v1/completions` request over a CompletionsPort: each prompt
 * in turn, n choices per prompt (choice index = prompt index × n + candidate,
 * as OpenAI and vLLM number them), either collected into one response or
 * streamed as chunks. Writing bytes is the caller's (routes.ts).
 */
import type { CompletionPlan, CompletionChoice, CompletionIdentity, CompletionResponse } from '../../../shared/openai/completions';
import { completionChunk, completionResponse, usageChunk, usageOf } from '../../../shared/openai/completions';
import { OpenAiError } from '../../../shared/openai/errors';
import { CompletionLogprobsCursor, codePointLength, concatCompletionLogprobs, type CompletionLogprobs, type TokenLogprob } from '../../../shared/openai/logprobs';
import type { CompletionJob, CompletionOutcome, CompletionSequence, CompletionStart, CompletionsPort } from './port';

/** Everything one request's run needs. */
export interface CompletionRunContext {
  plan: CompletionPlan;
  /** The resolved model (the request's, or the default). */
  modelId: string;
  identity: CompletionIdentity;
  port: CompletionsPort;
  /** Aborted when the client goes away or the server closes; the run then throws the signal's reason. */
  signal: AbortSignal;
}

/** Where a streamed run writes. */
export interface CompletionStreamSink {
  /** Called once, when the first prompt has started (errors before it can still be a plain HTTP error). */
  begin(): void;
  chunk(chunk: CompletionResponse): void;
}

/** Runs every prompt and returns the whole response (best_of ranked). */
export async function collectCompletion(ctx: CompletionRunContext): Promise<CompletionResponse> {
  const { plan } = ctx;
  const choices: CompletionChoice[] = [];
  let promptTokens = 0;
  let completionTokens = 0;
  for (const [promptIndex, prompt] of plan.prompts.entries()) {
    let start: CompletionStart | null = null;
    const outcome = await runJob(ctx, prompt, { onStart: (info) => (start = info), onDelta: () => {} });
    promptTokens += outcome.promptTokens;
    const promptLogprobs = (start as CompletionStart | null)?.promptLogprobs;
    const chosen = chooseBest(outcome.sequences, plan.n, plan.params.numReturnSequences > plan.n);
    for (const [i, sequence] of chosen.entries()) {
      const choice = new ChoiceText(promptIndex * plan.n + i, prompt, plan);
      const parts: CompletionChoice[] = [];
      if (plan.echo) parts.push(choice.echo(promptLogprobs));
      if (!plan.scoreOnly) {
        if (plan.logprobs !== null && sequence.logprobs === undefined) throw OpenAiError.engineFailed('The engine returned no log-probabilities for a request that asked for them.');
        parts.push(choice.piece(sequence.text, sequence.logprobs));
        completionTokens += sequence.tokenCount;
      }
      choices.push({
        index: choice.index,
        text: parts.map((p) => p.text).join(''),
        logprobs: plan.logprobs === null ? null : concatCompletionLogprobs(parts.map((p) => p.logprobs as CompletionLogprobs)),
        finish_reason: finishReasonOf(plan, sequence),
      });
    }
  }
  return completionResponse(ctx.identity, choices, usageOf(promptTokens, completionTokens));
}

/** Runs every prompt, writing chunks as text arrives; ends with the usage chunk when asked (the caller writes [DONE]). */
export async function streamCompletion(ctx: CompletionRunContext, sink: CompletionStreamSink): Promise<void> {
  const { plan, identity } = ctx;
  let begun = false;
  let promptTokens = 0;
  let completionTokens = 0;
  for (const [promptIndex, prompt] of plan.prompts.entries()) {
    const choices = Array.from({ length: plan.n }, (_, i) => new ChoiceText(promptIndex * plan.n + i, prompt, plan));
    const outcome = await runJob(ctx, prompt, {
      onStart: (info) => {
        if (!begun) {
          begun = true;
          sink.begin();
        }
        if (plan.echo) for (const choice of choices) sink.chunk(completionChunk(identity, choice.echo(info.promptLogprobs)));
      },
      onDelta: (sequence, delta) => {
        const choice = choices[sequence];
        if (!choice || plan.scoreOnly || (delta.text.length === 0 && !delta.tokens?.length)) return;
        sink.chunk(completionChunk(identity, choice.piece(delta.text, delta.tokens)));
      },
    });
    if (!begun) {
      // A port that never called onStart still gets its chunks a stream to go into.
      begun = true;
      sink.begin();
    }
    promptTokens += outcome.promptTokens;
    for (const [i, sequence] of outcome.sequences.slice(0, plan.n).entries()) {
      if (!plan.scoreOnly) completionTokens += sequence.tokenCount;
      sink.chunk(completionChunk(identity, { index: promptIndex * plan.n + i, text: '', logprobs: null, finish_reason: finishReasonOf(plan, sequence) }));
    }
  }
  if (plan.includeUsage) sink.chunk(usageChunk(identity, usageOf(promptTokens, completionTokens)));
}

/** Runs one prompt's job; a cancelled run throws the abort reason, a short one is an engine failure. */
async function runJob(ctx: CompletionRunContext, prompt: string, events: Parameters<CompletionsPort['complete']>[1]): Promise<CompletionOutcome> {
  const { plan, signal } = ctx;
  const job: CompletionJob = {
    modelId: ctx.modelId,
    prompt,
    params: plan.params,
    // best_of ranks by log-probability, so it needs them even when the client did not ask.
    logprobs: plan.logprobs ?? (plan.params.numReturnSequences > plan.n ? 0 : null),
    promptLogprobs: plan.echo && plan.logprobs !== null,
  };
  signal.throwIfAborted();
  const outcome = await ctx.port.complete(job, events, signal);
  signal.throwIfAborted();
  if (outcome.sequences.length < plan.params.numReturnSequences) {
    throw OpenAiError.engineFailed(`The engine returned ${outcome.sequences.length} of the ${plan.params.numReturnSequences} candidates asked for.`);
  }
  if (outcome.sequences.some((s) => s.finishReason === 'cancelled')) {
    throw OpenAiError.unavailable('The engine stopped the generation before it finished.', 5);
  }
  return outcome;
}

/**
 * The n choices to return: all of them, or with best_of the n with the
 * highest mean log-probability per token (OpenAI's definition of "best"),
 * best first. A candidate with no tokens ranks last.
 */
function chooseBest(sequences: readonly CompletionSequence[], n: number, rank: boolean): CompletionSequence[] {
  if (!rank) return sequences.slice(0, n);
  if (sequences.some((s) => s.logprobs === undefined)) throw OpenAiError.engineFailed('The engine returned no log-probabilities to rank best_of candidates by.');
  const score = (s: CompletionSequence): number => {
    const logprobs = s.logprobs ?? [];
    if (logprobs.length === 0) return Number.NEGATIVE_INFINITY;
    return logprobs.reduce((sum, t) => sum + (t.logprob ?? 0), 0) / logprobs.length;
  };
  return sequences
    .map((sequence, order) => ({ sequence, order, score: score(sequence) }))
    .sort((a, b) => b.score - a.score || a.order - b.order)
    .slice(0, n)
    .map((ranked) => ranked.sequence);
}

function finishReasonOf(plan: CompletionPlan, sequence: CompletionSequence): 'stop' | 'length' {
  // Scoring a prompt generates nothing the client sees: it ended at max_tokens 0.
  if (plan.scoreOnly) return 'length';
  return sequence.finishReason === 'stop' ? 'stop' : 'length';
}

/** One choice's pieces, keeping its logprob offsets running. */
class ChoiceText {
  readonly index: number;
  readonly #prompt: string;
  readonly #withLogprobs: boolean;
  readonly #cursor: CompletionLogprobsCursor;

  constructor(index: number, prompt: string, plan: CompletionPlan) {
    this.index = index;
    this.#prompt = prompt;
    this.#withLogprobs = plan.logprobs !== null;
    this.#cursor = new CompletionLogprobsCursor(plan.echo ? 0 : codePointLength(prompt));
  }

  /** The prompt itself, first in an echoed choice. */
  echo(promptLogprobs: TokenLogprob[] | undefined): CompletionChoice {
    return { index: this.index, text: this.#prompt, logprobs: this.#logprobs(promptLogprobs), finish_reason: null };
  }

  /** The next generated text. */
  piece(text: string, tokens: TokenLogprob[] | undefined): CompletionChoice {
    return { index: this.index, text, logprobs: this.#logprobs(tokens), finish_reason: null };
  }

  #logprobs(tokens: TokenLogprob[] | undefined): CompletionLogprobs | null {
    return this.#withLogprobs ? this.#cursor.format(tokens ?? []) : null;
  }
}
