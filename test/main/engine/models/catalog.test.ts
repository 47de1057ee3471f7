/**
 * The catalog's figures against independent references: parameter counts as
 * transformers reports them (model.num_parameters()), model.safetensors sizes
 * as the Hub lists them, and MatMulNBits sizes from the op's shape definitions.
 */
import { describe, expect, it } from 'vitest';
import { catalog, catalogEntry, catalogEntryForRepo, type CatalogModel } from '../../../../src/main/engine/models/catalog';
import { checkpointBytes, matMulNBitsBytes, parameterCount, weightBytes } from '../../../../src/main/engine/models/footprint';

const models = () => catalog().filter((e): e is CatalogModel => e.kind === 'model');

describe('catalog', () => {
  it('offers the five GPT-2 checkpoints under their aliases and Hub repositories, and the BERT tokenizer', () => {
    expect(catalog().map((e) => [e.alias, e.repo, e.kind])).toEqual([
      ['distilgpt2', 'distilbert/distilgpt2', 'model'],
      ['gpt2', 'openai-community/gpt2', 'model'],
      ['gpt2-medium', 'openai-community/gpt2-medium', 'model'],
      ['gpt2-large', 'openai-community/gpt2-large', 'model'],
      ['gpt2-xl', 'openai-community/gpt2-xl', 'model'],
      ['bert-base-uncased', 'google-bert/bert-base-uncased', 'tokenizer'],
    ]);
    expect(catalogEntryForRepo('gpt2')?.repo).toBe('openai-community/gpt2');
    expect(catalogEntryForRepo('openai-community/gpt2-large')?.alias).toBe('gpt2-large');
    expect(catalogEntry('nope')).toBeUndefined();
  });

  it.each([
    // GPT2LMHeadModel.from_pretrained(repo).num_parameters() (tied lm_head counted once).
    ['distilgpt2', 81_912_576], ['gpt2', 124_439_808], ['gpt2-medium', 354_823_168], ['gpt2-large', 774_030_080], ['gpt2-xl', 1_557_611_200],
  ])('%s has %d parameters', (alias, expected) => {
    const entry = catalogEntry(alias) as CatalogModel;
    expect(entry.parameters).toBe(expected);
    expect(parameterCount(entry.dims)).toBe(expected);
  });

  it.each([
    // model.safetensors sizes on the Hub (openai-community/gpt2: 548,105,171 bytes; the others as the Hub shows them, 3 digits).
    ['gpt2', 548_105_171, 1e-5], ['distilgpt2', 353e6, 5e-3], ['gpt2-medium', 1.52e9, 5e-3], ['gpt2-large', 3.25e9, 5e-3], ['gpt2-xl', 6.43e9, 5e-3],
  ])('the computed size of %s model.safetensors matches the Hub', (alias, hubBytes, tolerance) => {
    const entry = catalogEntry(alias) as CatalogModel;
    expect(Math.abs(checkpointBytes(entry.dims) - hubBytes) / hubBytes).toBeLessThan(tolerance);
    expect(entry.downloadBytes).toBeGreaterThan(checkpointBytes(entry.dims));
    expect(entry.downloadBytes - checkpointBytes(entry.dims)).toBeLessThan(2e6);
  });

  it('sizes MatMulNBits weights as the variants store them: B [N, ceil(K/32), 32*bits/8] uint8, N*ceil(K/32) fp32 scales, and int4 zero points two per byte', () => {
    for (const [k, n] of [[64, 3], [40, 5], [768, 2304], [3072, 768], [100, 7]] as const) {
      const blocks = Math.floor((k + 31) / 32);
      expect(matMulNBitsBytes(k, n, 'int8')).toBe(n * blocks * 32 + n * blocks * 4);
      expect(matMulNBitsBytes(k, n, 'int4')).toBe(n * blocks * 16 + n * blocks * 4 + n * Math.ceil(blocks / 2));
    }
    expect(matMulNBitsBytes(64, 3, 'int4')).toBe(123);
  });

  it('gives every model fp32 > fp16 > int8 > int4 weights, with the embedding reading the quantized lm_head', () => {
    for (const entry of models()) {
      const { fp32, fp16, int8, int4 } = entry.precisions;
      const { nLayer, nEmbd: d, vocabSize: v, nPositions } = entry.dims;
      const matrixParams = nLayer * 12 * d * d + v * d;
      const floatParams = entry.parameters - matrixParams;
      expect(fp32.weightBytes).toBe(entry.parameters * 4);
      expect(fp16.weightBytes).toBe(matrixParams * 2 + floatParams * 4);
      // Per element: bits/8 of data + 4/32 of scale (+ 0.5/32 of zero point for int4); wpe, biases and LayerNorms fp32.
      expect(int8.weightBytes / (matrixParams * (1 + 4 / 32) + floatParams * 4)).toBeCloseTo(1, 3);
      expect(int4.weightBytes / (matrixParams * (0.5 + 4 / 32 + 0.5 / 32) + floatParams * 4)).toBeCloseTo(1, 3);
      expect(int8.weightBytes).toBeLessThan(fp16.weightBytes);
      expect(int4.weightBytes).toBeLessThan(int8.weightBytes);
      expect(int4.weightBytes).toBeGreaterThan(nPositions * d * 4);
      expect(fp32.diskBytes).toBe(checkpointBytes(entry.dims));
      expect(int4.diskBytes).toBe(checkpointBytes(entry.dims) + int4.weightBytes);
      expect(int4.bytesPerToken).toBeLessThan(int8.bytesPerToken);
      expect(fp32.memory.totalBytes).toBeGreaterThan(fp32.weightBytes);
    }
    // GPT-2 per-token reads in fp32: the 12 blocks' matrices and the tied lm_head, as docs/performance.md states (494 MB).
    const gpt2 = catalogEntry('gpt2') as CatalogModel;
    expect(Math.round(gpt2.precisions.fp32.bytesPerToken / 1e6)).toBe(494);
    expect(weightBytes(gpt2.dims, 'int4') / weightBytes(gpt2.dims, 'fp32')).toBeCloseTo(0.166, 2);
  });

  it('says what a download is before it starts', () => {
    const gpt2 = catalogEntry('gpt2') as CatalogModel;
    // 549 MB (decimal, as the Hub's page says) in the binary units every Inkwell surface uses.
    expect(gpt2.notice).toMatch(/^Downloads about 52[34]\.\d MiB from the Hugging Face Hub \(openai-community\/gpt2\)/);
    expect(gpt2.notice).toContain('MIT');
    expect(gpt2.notice).toContain('nothing you write is sent anywhere');
    expect(catalogEntry('bert-base-uncased')?.notice).toContain('No model weights');
  });
});
