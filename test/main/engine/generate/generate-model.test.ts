/**
 * The decoding loop on a real (tiny, random) GPT-2 through onnxruntime: against
 * transformers.js's own generate loop, against full recomputation without a
 * KV cache, batch against single runs, and streaming of multi-byte text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForCausalLM, env, Tensor as HfTensor } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationParams, type GenerationParamsInput } from '../../../../src/shared/api';
import { runGeneration, type DecodeOutcome } from '../../../../src/main/engine/generate/generate';
import { DecodeScheduler } from '../../../../src/main/engine/generate/scheduler';
import { runSpeculative } from '../../../../src/main/engine/generate/speculative';
import { loadReferenceGpt2, referenceLogits } from '../../../helpers/reference-gpt2';
import { ModelStore, type StoredModel } from '../../../../src/main/engine/models/store';
import { decoderPaths } from '../../../../src/main/engine';
import { openDecoder, type DecoderBatch, type DecoderSession } from '../../../../src/main/engine/runtime';
import { loadTokenizer, type Gpt2Tokenizer } from '../../../../src/main/engine/tokenizer';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { TRICKY_TEXTS } from './unicode-fixtures';

const PROMPTS = ['The quick brown fox', 'Once upon a time, in a land far away,', 'Inkwell', '日本語 and émojis 🚀'];

let home: string;
let model: StoredModel;
let session: DecoderSession;
let tokenizer: Gpt2Tokenizer;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'inkwell-genmodel-'));
  const src = join(home, 'src');
  await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 32, nHead: 4, nPositions: 64, seed: 11 });
  model = await new ModelStore(home).import(src, 'tiny-gen');
  session = await openDecoder(await decoderPaths(model), model.config, 'cpu');
  tokenizer = await loadTokenizer(model.dir);
});

afterAll(async () => {
  await session?.release();
  rmSync(home, { recursive: true, force: true });
});

const BASE: GenerationParamsInput = {
  doSample: false, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, noRepeatNgramSize: 0, numReturnSequences: 1, maxNewTokens: 16,
};

async function generate(
  prompt: string,
  params: GenerationParamsInput,
  opts: { seed?: number; firstSequence?: number; decoder?: DecoderSession } = {},
): Promise<{ outcome: DecodeOutcome; deltas: string[][] }> {
  const parsed = GenerationParams.parse(params);
  const deltas: string[][] = Array.from({ length: parsed.numReturnSequences }, () => []);
  const outcome = await runGeneration({
    session: opts.decoder ?? session,
    tokenizer,
    prompt,
    params: parsed,
    seed: opts.seed ?? 0,
    firstSequence: opts.firstSequence,
    onDelta: (s, text) => deltas[s]?.push(text),
  });
  return { outcome, deltas };
}

function argmax(row: ArrayLike<number>, from = 0, length = row.length): { id: number; margin: number } {
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  let second = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < length; i++) {
    const v = row[from + i] as number;
    if (v > bestValue) {
      second = bestValue;
      bestValue = v;
      best = i;
    } else if (v > second) {
      second = v;
    }
  }
  return { id: best, margin: bestValue - second };
}

describe('greedy decoding on a real model', () => {
  it('gives the same tokens as transformers.js generate() on the stored folder', async () => {
    env.localModelPath = join(home, 'models');
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    const hf = await AutoModelForCausalLM.from_pretrained('tiny-gen', { dtype: 'fp32', device: 'cpu' });
    try {
      for (const prompt of PROMPTS) {
        const ids = tokenizer.encode(prompt);
        const maxNewTokens = 20;
        const output = (await hf.generate({
          input_ids: new HfTensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]),
          max_new_tokens: maxNewTokens,
          do_sample: false,
        })) as { data: BigInt64Array };
        let theirs = Array.from(output.data, Number).slice(ids.length);
        // transformers.js keeps the end-of-text token it stopped on; Inkwell reports it as finish_reason 'stop'.
        const eosAt = theirs.indexOf(tokenizer.eosTokenId);
        if (eosAt >= 0) theirs = theirs.slice(0, eosAt);
        const { outcome } = await generate(prompt, { ...BASE, maxNewTokens });
        expect(outcome.sequences[0]?.tokenIds, prompt).toEqual(theirs);
        expect(theirs.length).toBeGreaterThan(0);
      }
    } finally {
      await hf.dispose();
    }
  });

  it('KV-cache decoding equals argmax of a full recomputation on the growing sequence', async () => {
    const vocab = model.config.vocabSize;
    for (const prompt of PROMPTS.slice(0, 2)) {
      const { outcome } = await generate(prompt, { ...BASE, maxNewTokens: 12 });
      const generated = outcome.sequences[0]?.tokenIds ?? [];
      const sequence = tokenizer.encode(prompt);
      let smallestMargin = Number.POSITIVE_INFINITY;
      for (const token of generated) {
        const all = await session.logitsAll(sequence);
        const { id, margin } = argmax(all, (sequence.length - 1) * vocab, vocab);
        smallestMargin = Math.min(smallestMargin, margin);
        expect(token).toBe(id);
        sequence.push(token);
      }
      // Equal tokens mean something only if no step was a near tie (float32 differences are ~1e-5).
      expect(smallestMargin).toBeGreaterThan(1e-4);
    }
  });
});

describe('sampling on a real model', () => {
  it('gives sequence i of a batch the same tokens as a single run of stream i, whatever K', async () => {
    // Exact equality is expected: the batch and single runs see the same prefill (batch 1) and each
    // row's decode logits differ at most by GEMM rounding, far below the gaps a draw could straddle.
    const params: GenerationParamsInput = { ...BASE, doSample: true, temperature: 1.3, topK: 40, topP: 0.95, repetitionPenalty: 1.2, maxNewTokens: 14 };
    const batch = await generate(PROMPTS[1] as string, { ...params, numReturnSequences: 4 }, { seed: 2024 });
    expect(new Set(batch.outcome.sequences.map((s) => s.tokenIds.join())).size).toBeGreaterThan(1);
    for (let i = 0; i < 4; i++) {
      const alone = await generate(PROMPTS[1] as string, { ...params, numReturnSequences: 1 }, { seed: 2024, firstSequence: i });
      expect(alone.outcome.sequences[0]).toEqual(batch.outcome.sequences[i]);
    }
    const again = await generate(PROMPTS[1] as string, { ...params, numReturnSequences: 2 }, { seed: 2024 });
    expect(again.outcome.sequences).toEqual(batch.outcome.sequences.slice(0, 2));
  });

  it('streams deltas that concatenate to the final text, which is the decode of the tokens', async () => {
    // Hot sampling over the whole vocabulary reaches byte tokens and multi-byte pieces.
    const params: GenerationParamsInput = { ...BASE, doSample: true, temperature: 5, maxNewTokens: 40, numReturnSequences: 3 };
    for (const seed of [1, 2, 3]) {
      const { outcome, deltas } = await generate('Unicode: ', params, { seed });
      outcome.sequences.forEach((s, i) => {
        expect(deltas[i]?.join('')).toBe(s.text);
        expect(s.text).toBe(tokenizer.decode(s.tokenIds));
        for (const d of deltas[i] ?? []) expect(/[\uD800-\uDBFF]$/.test(d)).toBe(false);
      });
    }
  });
});

describe('different prompts decoded together (continuous batching) on a real model', () => {
  it('gives every request the tokens, text and log-probabilities it gives alone, greedy and sampled', async () => {
    const requests: { prompt: string; params: GenerationParamsInput; seed: number }[] = [
      { prompt: PROMPTS[0] as string, params: { ...BASE, maxNewTokens: 18 }, seed: 1 },
      { prompt: PROMPTS[1] as string, params: { ...BASE, doSample: true, temperature: 1.2, topK: 40, numReturnSequences: 3, maxNewTokens: 14 }, seed: 2 },
      { prompt: PROMPTS[2] as string, params: { ...BASE, doSample: true, topP: 0.9, repetitionPenalty: 1.3, maxNewTokens: 25 }, seed: 3 },
      { prompt: PROMPTS[3] as string, params: { ...BASE, numReturnSequences: 2, maxNewTokens: 9 }, seed: 4 },
    ];
    const alone: DecodeOutcome[] = [];
    for (const r of requests) alone.push((await generate(r.prompt, r.params, { seed: r.seed })).outcome);
    // The second half arrives while the first is decoding: it joins the running batch.
    const scheduler = new DecodeScheduler(session);
    const submit = (r: (typeof requests)[number]): Promise<DecodeOutcome> =>
      scheduler.submit({ tokenizer, prompt: r.prompt, params: GenerationParams.parse(r.params), seed: r.seed });
    const first = requests.slice(0, 2).map(submit);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const together = await Promise.all([...first, ...requests.slice(2).map(submit)]);
    scheduler.close();
    together.forEach((o, i) => expect(o.sequences, requests[i]?.prompt).toEqual(alone[i]?.sequences));
    expect(scheduler.status.rowSteps).toBeGreaterThan(scheduler.status.steps);
  });
});

describe('token log-probabilities on a real model', () => {
  it('equal the float64 log-softmax of the reference logits, before any logits processor, with the top alternatives', async () => {
    const reference = loadReferenceGpt2(model.dir);
    // Hot sampling with a repetition penalty: the processed distribution differs from the raw one
    // the log-probabilities are taken from.
    const params = GenerationParams.parse({ ...BASE, doSample: true, temperature: 1.8, topK: 30, repetitionPenalty: 1.4, maxNewTokens: 12, numReturnSequences: 2 });
    const prompt = PROMPTS[1] as string;
    const outcome = await runGeneration({ session, tokenizer, prompt, params, seed: 77, topLogprobs: 5 });
    const promptIds = tokenizer.encode(prompt);
    for (const sequence of outcome.sequences) {
      const ids = [...promptIds, ...sequence.tokenIds];
      const logits = referenceLogits(reference, ids);
      expect(sequence.tokenLogprobs).toHaveLength(sequence.tokenIds.length);
      sequence.tokenIds.forEach((token, i) => {
        const row = logits[promptIds.length - 1 + i] as Float64Array;
        let max = Number.NEGATIVE_INFINITY;
        for (const v of row) max = Math.max(max, v);
        let sum = 0;
        for (const v of row) sum += Math.exp(v - max);
        const logZ = max + Math.log(sum);
        // Logits agree to 1e-5·max(1, |logit|) (export-fixture's tolerance); a log-softmax adds at most the same again.
        const tolerance = 2e-5 * Math.max(1, max);
        expect(Math.abs((sequence.tokenLogprobs[i] as number) - (row[token] as number - logZ))).toBeLessThanOrEqual(tolerance);
        const top = sequence.topLogprobs?.[i] ?? [];
        const referenceTop = Array.from(row.keys()).sort((a, b) => (row[b] as number) - (row[a] as number)).slice(0, 5);
        expect(top.map((t) => t.tokenId)).toEqual(referenceTop);
        top.forEach((t) => expect(Math.abs(t.logprob - ((row[t.tokenId] as number) - logZ))).toBeLessThanOrEqual(tolerance));
      });
    }
  });
});

describe('speculative decoding on a real model', () => {
  it('gives the tokens of plain greedy decoding with the model itself and with another model as the draft', async () => {
    const otherSrc = join(home, 'draft-src');
    await makeRandomCheckpoint(otherSrc, { nLayer: 1, nEmbd: 16, nHead: 2, nPositions: 64, seed: 12 });
    const other = await new ModelStore(home).import(otherSrc, 'tiny-draft');
    const otherSession = await openDecoder(await decoderPaths(other), other.config, 'cpu');
    try {
      for (const prompt of PROMPTS.slice(0, 2)) {
        const params = GenerationParams.parse({ ...BASE, maxNewTokens: 24 });
        const plain = await runGeneration({ session, tokenizer, prompt, params, seed: 0 });
        const self = await runSpeculative(session, { tokenizer, prompt, params, seed: 0 }, { draft: session, draftTokens: 4 });
        const drafted = await runSpeculative(session, { tokenizer, prompt, params, seed: 0 }, { draft: otherSession, draftTokens: 3 });
        expect(self.sequences[0]?.tokenIds, prompt).toEqual(plain.sequences[0]?.tokenIds);
        expect(drafted.sequences[0]?.tokenIds, prompt).toEqual(plain.sequences[0]?.tokenIds);
        expect(self.speculative.acceptanceRate).toBe(1);
        expect(drafted.speculative.acceptanceRate).toBeLessThan(1);
        // Fewer target passes than tokens: several tokens per pass of the target.
        expect(self.speculative.targetPasses).toBeLessThan((plain.sequences[0]?.tokenIds.length ?? 0) / 2);
        // Log-probabilities come from the verification pass: equal to the step-by-step ones to float32 rounding.
        self.sequences[0]?.tokenLogprobs.forEach((p, i) => expect(Math.abs(p - (plain.sequences[0]?.tokenLogprobs[i] as number))).toBeLessThan(1e-4));
      }
    } finally {
      await otherSession.release();
    }
  });
});

/** Wraps the real decoder and forces the next token to follow `target` (teacher forcing through the real KV cache). */
function forcing(inner: DecoderSession, promptLength: number, target: readonly number[]): DecoderSession {
  const vocab = inner.config.vocabSize;
  const force = (logits: Float32Array, lengths: readonly number[]): void => {
    lengths.forEach((length, b) => {
      logits[b * vocab + (target[length - promptLength] ?? tokenizer.eosTokenId)] = 1e4;
    });
  };
  return {
    device: inner.device,
    config: inner.config,
    logitsAll: (ids) => inner.logitsAll(ids),
    release: () => inner.release(),
    step: (input) => inner.step(input),
    createBatch(): DecoderBatch {
      const batch = inner.createBatch();
      return {
        get rows() {
          return batch.rows;
        },
        get kvBytes() {
          return batch.kvBytes;
        },
        lengthOf: (row) => batch.lengthOf(row),
        truncate: (row, length) => batch.truncate(row, length),
        remove: (rows) => batch.remove(rows),
        dispose: () => batch.dispose(),
        async prefill(tokens, copies) {
          const result = await batch.prefill(tokens, copies);
          force(result.out.logits, [tokens.length]);
          return result;
        },
        async decode(rows, tokens) {
          const out = await batch.decode(rows, tokens);
          force(out.logits, rows.map((row) => batch.lengthOf(row)));
          return out;
        },
        extend: (row, tokens) => batch.extend(row, tokens),
      };
    },
  };
}

describe('streaming multi-byte characters end to end', () => {
  it('never emits a broken character when emoji, ZWJ sequences, accents and CJK span several tokens', async () => {
    const prompt = 'Say:';
    const promptLength = tokenizer.encode(prompt).length;
    let heldBack = 0;
    for (const text of TRICKY_TEXTS) {
      const target = tokenizer.encode(text);
      const { outcome, deltas } = await generate(prompt, { ...BASE, maxNewTokens: 100, numReturnSequences: 2, doSample: true, topK: 5 }, {
        decoder: forcing(session, promptLength, target),
      });
      for (let s = 0; s < 2; s++) {
        expect(outcome.sequences[s]?.tokenIds).toEqual(target);
        expect(outcome.sequences[s]?.finishReason).toBe('stop');
        expect(outcome.sequences[s]?.text).toBe(text);
        expect(deltas[s]?.join('')).toBe(text);
        for (const d of deltas[s] ?? []) {
          expect(d.includes('\uFFFD'), JSON.stringify(d)).toBe(false);
          expect(/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/.test(d), JSON.stringify(d)).toBe(false);
        }
        heldBack += target.length - (deltas[s]?.length ?? 0);
      }
    }
    // Tokens that ended inside a character produced no delta of their own.
    expect(heldBack).toBeGreaterThan(5);
  });
});
