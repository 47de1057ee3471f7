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

  it('sizes MatMulNBits weights as the op stores them: B [N, ceil(K/block), block*bits/8] uint8 plus N*ceil(K/block) fp32 scales', () => {
    for (const [k, n, bits, block] of [[64, 3, 4, 32], [40, 5, 4, 32], [768, 2304, 8, 32], [3072, 768, 4, 32], [100, 7, 8, 16]] as const) {
      const blocksPerColumn = Math.floor((k + block - 1) / block);
      const packed = n * blocksPerColumn * ((block * bits) / 8);
      const scales = n * blocksPerColumn * 4;
      expect(matMulNBitsBytes(k, n, bits, block)).toBe(packed + scales);
    }
    expect(matMulNBitsBytes(64, 3, 4)).toBe(120);
  });

  it('gives every model fp32 > fp16, fp32 > int8 > int4 weights, with fp32 embeddings kept in the quantized ones', () => {
    for (const entry of models()) {
      const { fp32, fp16, int8, int4 } = entry.precisions;
      expect(fp32.weightBytes).toBe(entry.parameters * 4);
      expect(fp16.weightBytes).toBeGreaterThan(entry.parameters * 2);
      expect(fp16.weightBytes).toBeLessThan(entry.parameters * 2 * 1.001);
      expect(int8.weightBytes).toBeLessThan(fp32.weightBytes);
      expect(int4.weightBytes).toBeLessThan(int8.weightBytes);
      const embeddings = (entry.dims.vocabSize + entry.dims.nPositions) * entry.dims.nEmbd * 4;
      expect(int4.weightBytes).toBeGreaterThan(embeddings);
      expect(fp32.diskBytes).toBe(checkpointBytes(entry.dims));
      expect(int4.diskBytes).toBe(checkpointBytes(entry.dims) + int4.weightBytes);
      expect(int4.bytesPerToken).toBeLessThan(int8.bytesPerToken);
      expect(fp32.memory.totalBytes).toBeGreaterThan(fp32.weightBytes);
    }
    // GPT-2 per-token reads in fp32: the 12 blocks' matrices and the tied lm_head, as docs/performance.md states (494 MB).
    const gpt2 = catalogEntry('gpt2') as CatalogModel;
    expect(Math.round(gpt2.precisions.fp32.bytesPerToken / 1e6)).toBe(494);
    expect(weightBytes(gpt2.dims, 'int4') / weightBytes(gpt2.dims, 'fp32')).toBeCloseTo(0.47, 1);
  });

  it('says what a download is before it starts', () => {
    const gpt2 = catalogEntry('gpt2') as CatalogModel;
    expect(gpt2.notice).toMatch(/^Downloads about 549 MB from the Hugging Face Hub \(openai-community\/gpt2\)/);
    expect(gpt2.notice).toContain('MIT');
    expect(gpt2.notice).toContain('nothing you write is sent anywhere');
    expect(catalogEntry('bert-base-uncased')?.notice).toContain('No model weights');
  });
});
