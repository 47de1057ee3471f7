/**
 * The decoding loop: prefill the prompt once at batch 1, repeat its KV cache
 * to the K sequences, then decode one token per sequence per step, streaming
 * text as it completes.
 *
 * Finished sequences are dropped from the batch (KvCache.select keeps only the
 * rows still running) rather than padded: every remaining row then has the same
 * length with no masked positions, later steps do no work for finished rows, and
 * the price — one cache copy when a sequence ends — is paid at most K−1 times.
 */
import type { Candidate, FinishReason, GenerationParams, GenerationStartInfo } from '../../../shared/api';
import type { DecoderSession, KvCache, StepInput, StepOutput } from '../runtime';
import type { Gpt2Tokenizer } from '../tokenizer';
import { EngineError } from '../types';
import { planContext } from './context-window';
import { TokenChooser } from './next-token';
import { sequenceRng } from './rng';
import { StopStringFilter } from './stop-strings';
import { TokenTextStream } from './text-stream';

/** What is known once the prompt is tokenized, before the first token (declared in src/shared/api.ts). */
export type { GenerationStartInfo } from '../../../shared/api';

/** One generation over an open decoder. */
export interface GenerationRun {
  session: DecoderSession;
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
  /** Checked before every step: an abort ends all running sequences with 'cancelled'. */
  signal?: AbortSignal | undefined;
  /** What is known before the first token; the Engine adds the precision of the session it opened. */
  onStart?: ((info: Omit<GenerationStartInfo, 'precision'>) => void) | undefined;
  /** Streamed text of sequence `sequence`; the pieces concatenate to its final text. */
  onDelta?: ((sequence: number, text: string) => void) | undefined;
}

/** The sequences and how long each phase took. */
export interface GenerationOutcome {
  promptTokens: number;
  truncatedPromptTokens: number;
  sequences: Candidate[];
  prefillMs: number;
  /** From the prefill's logits to the last token. */
  decodeMs: number;
  /** New tokens computed, all sequences together, per second of decoding. */
  tokensPerSecond: number;
}

/**
 * One independently decoded row of the batch. Greedy decoding gives every
 * sequence the same tokens, so it runs one lane shared by all K sequences.
 */
interface Lane {
  readonly sequences: readonly number[];
  readonly chooser: TokenChooser;
  readonly text: TokenTextStream;
  readonly stops: StopStringFilter;
  readonly tokenIds: number[];
  finishReason: FinishReason | null;
}

/** Runs the loop; sessions and tokenizers are owned by the caller. */
export async function runGeneration(run: GenerationRun): Promise<GenerationOutcome> {
  const { session, tokenizer, params, signal } = run;
  const config = session.config;
  const vocab = config.vocabSize;
  const eos = tokenizer.eosTokenId;
  const plan = planContext({
    memoryIds: run.memory ? tokenizer.encode(run.memory) : [],
    promptIds: tokenizer.encode(run.prompt),
    nPositions: config.nPositions,
    maxNewTokens: params.maxNewTokens,
    maxLength: params.maxLength,
    bosTokenId: config.bosTokenId,
  });
  const promptLength = plan.inputIds.length;
  const numSequences = params.numReturnSequences;
  run.onStart?.({
    device: session.device.used,
    seed: run.seed,
    promptTokens: promptLength,
    truncatedPromptTokens: plan.truncatedPromptTokens,
    numSequences,
  });

  const laneCount = params.doSample ? numSequences : 1;
  const lanes: Lane[] = [];
  for (let i = 0; i < laneCount; i++) {
    lanes.push({
      sequences: params.doSample ? [i] : Array.from({ length: numSequences }, (_, s) => s),
      chooser: new TokenChooser(params, sequenceRng(run.seed, (run.firstSequence ?? 0) + i), plan.inputIds),
      text: new TokenTextStream((id) => tokenizer.tokenBytes(id)),
      stops: new StopStringFilter(params.stop),
      tokenIds: [],
      finishReason: null,
    });
  }
  const emit = (lane: Lane, text: string): void => {
    if (text.length === 0 || !run.onDelta) return;
    for (const s of lane.sequences) run.onDelta(s, text);
  };
  const finish = (lane: Lane, reason: FinishReason): void => {
    lane.finishReason = reason;
    if (lane.stops.stopped) return;
    const update = lane.stops.push(lane.text.end());
    emit(lane, update.emit);
    emit(lane, lane.stops.end());
  };

  let prefillMs = 0;
  let decodeStart = performance.now();
  let cache: KvCache | null = null;
  try {
    if (signal?.aborted) {
      for (const lane of lanes) finish(lane, 'cancelled');
    } else {
      const prefillStart = performance.now();
      const prefill = await step(session, {
        batch: 1,
        inputIds: plan.inputIds,
        seqLen: promptLength,
        attentionMask: new Array<number>(promptLength).fill(1),
        positionIds: Array.from({ length: promptLength }, (_, i) => i),
        past: null,
      });
      decodeStart = performance.now();
      prefillMs = decodeStart - prefillStart;
      cache = prefill.present;
      let logits = prefill.logits;
      /** Lanes whose rows are in `cache`/`logits`, in row order; after the prefill all share row 0. */
      let active = lanes.slice();
      let sharedRow = true;
      let length = promptLength;
      for (;;) {
        for (let row = 0; row < active.length; row++) {
          const lane = active[row] as Lane;
          const offset = sharedRow ? 0 : row * vocab;
          // The prefill row is shared by all lanes and processors write in place: copy it.
          const scores = sharedRow ? logits.slice(0, vocab) : logits.subarray(offset, offset + vocab);
          let token = lane.chooser.choose(scores);
          if (token < 0) token = eos; // every token banned: nothing sensible can follow
          if (token === eos) {
            finish(lane, 'stop');
            continue;
          }
          lane.tokenIds.push(token);
          const update = lane.stops.push(lane.text.push(token));
          emit(lane, update.emit);
          if (update.stopped) finish(lane, 'stop');
          else if (lane.tokenIds.length >= plan.maxNewTokens || length + 1 >= config.nPositions) finish(lane, 'length');
        }
        if (signal?.aborted) {
          for (const lane of active) if (lane.finishReason === null) finish(lane, 'cancelled');
          break;
        }
        const running = active.filter((lane) => lane.finishReason === null);
        if (running.length === 0) break;
        const rows = running.map((lane) => (sharedRow ? 0 : active.indexOf(lane)));
        if (sharedRow ? rows.length > 1 : rows.length < active.length) {
          const selected: KvCache = cache.select(rows);
          cache.dispose();
          cache = selected;
        }
        active = running;
        sharedRow = false;
        const batch = active.length;
        const next: StepOutput = await step(session, {
          batch,
          inputIds: active.map((lane) => lane.tokenIds[lane.tokenIds.length - 1] as number),
          seqLen: 1,
          attentionMask: new Array<number>(batch * (length + 1)).fill(1),
          positionIds: new Array<number>(batch).fill(length),
          past: cache,
        });
        cache.dispose();
        cache = next.present;
        logits = next.logits;
        length++;
      }
    }
  } finally {
    cache?.dispose();
  }
  const decodeMs = performance.now() - decodeStart;

  const sequences: Candidate[] = new Array<Candidate>(numSequences);
  let newTokens = 0;
  for (const lane of lanes) {
    newTokens += lane.tokenIds.length;
    for (const s of lane.sequences) {
      sequences[s] = { text: lane.stops.text, tokenIds: lane.tokenIds.slice(), finishReason: lane.finishReason ?? 'cancelled' };
    }
  }
  return {
    promptTokens: promptLength,
    truncatedPromptTokens: plan.truncatedPromptTokens,
    sequences,
    prefillMs,
    decodeMs,
    tokensPerSecond: decodeMs > 0 ? (newTokens * 1000) / decodeMs : 0,
  };
}

/** One decoder call; failures that are not already typed become internal errors naming the step. */
async function step(session: DecoderSession, input: StepInput): Promise<StepOutput> {
  try {
    return await session.step(input);
  } catch (error) {
    if (error instanceof EngineError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new EngineError('internal', `decoder step (batch ${input.batch}, ${input.seqLen} tokens) failed: ${message}`, { cause: error });
  }
}
