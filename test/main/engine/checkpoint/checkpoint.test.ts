import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../src/main/engine/checkpoint';
import { decodeToFloat64 } from '../../../../src/main/engine/checkpoint/dtype';
import type { WeightDtype } from '../../../../src/main/engine/types';
import { EngineError } from '../../../../src/main/engine/types';
import {
  encodeSafetensors, GPT2_VOCAB_SIZE, makeRandomCheckpoint, readSafetensorsAsFloat64, type RandomCheckpointOptions,
} from '../../../helpers/checkpoint-factory';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-ckpt-');

type RawTensor = { dtype: WeightDtype; shape: number[]; bytes: Uint8Array };

/** Parses a safetensors file with plain code, independent of src (header JSON + data bytes). */
function readRaw(file: string): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>; data: Buffer } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')), data: buf.subarray(8 + n) };
}

/** Rewrites only the header JSON of a safetensors file, keeping its data bytes. */
type HeaderEntry = { dtype: string; shape: number[]; data_offsets: number[] };
type Header = Record<string, HeaderEntry>;

/** The header entry `key`, which the test expects to exist. */
function at(header: Header, key: string): HeaderEntry {
  const entry = header[key];
  if (!entry) throw new Error(`no ${key} in header`);
  return entry;
}

function rewriteHeader(file: string, mutate: (header: Header) => void): void {
  const { header, data } = readRaw(file);
  mutate(header as Header);
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.byteLength));
  writeFileSync(file, Buffer.concat([length, json, data]));
}

/** Rewrites the tensors of a safetensors file (a well-formed file with a different tensor set). */
function rewriteTensors(file: string, mutate: (tensors: Map<string, RawTensor>) => void): void {
  const { header, data } = readRaw(file);
  const tensors = new Map<string, RawTensor>();
  for (const [key, value] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const v = value as { dtype: WeightDtype; shape: number[]; data_offsets: [number, number] };
    tensors.set(key, { dtype: v.dtype, shape: v.shape, bytes: data.subarray(v.data_offsets[0], v.data_offsets[1]) });
  }
  mutate(tensors);
  writeFileSync(file, encodeSafetensors(tensors));
}

function editConfig(dir: string, mutate: (config: Record<string, unknown>) => void): void {
  const file = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  mutate(config);
  writeFileSync(file, JSON.stringify(config));
}

async function expectEngineError(promise: Promise<unknown>, kind: EngineError['kind'], ...fragments: string[]): Promise<EngineError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error, 'expected an EngineError').toBeInstanceOf(EngineError);
  const engineError = error as EngineError;
  expect(engineError.kind, engineError.message).toBe(kind);
  for (const fragment of fragments) expect(engineError.message).toContain(fragment);
  return engineError;
}

const NLAYER = 2;
const NEMBD = 16;

describe('readCheckpoint on factory checkpoints', () => {
  const variants: (Partial<RandomCheckpointOptions> & { label: string })[] = [
    { label: 'F32, plain keys, tied, tokenizer.json', dtype: 'F32' },
    { label: 'F16, transformer. keys, explicit lm_head, vocab+merges', dtype: 'F16', prefixed: true, tiedLmHead: false, tokenizer: 'vocab+merges' },
    { label: 'BF16, transformer. keys, tied, odd heads', dtype: 'BF16', prefixed: true, nHead: 1 },
    { label: 'F32, plain keys, explicit lm_head', dtype: 'F32', tiedLmHead: false, nPositions: 40 },
  ];

  it.each(variants)('$label', async ({ label: _label, ...overrides }) => {
    const dir = tempDir();
    const opts: RandomCheckpointOptions = { nLayer: NLAYER, nEmbd: NEMBD, nHead: 4, seed: 7, ...overrides };
    await makeRandomCheckpoint(dir, opts);
    const ckpt = await readCheckpoint(dir);
    const tied = opts.tiedLmHead ?? true;
    expect(ckpt.dir).toBe(dir);
    expect(ckpt.config).toEqual({
      modelType: 'gpt2', nLayer: NLAYER, nEmbd: NEMBD, nHead: opts.nHead, nPositions: opts.nPositions ?? 64,
      vocabSize: GPT2_VOCAB_SIZE, layerNormEpsilon: 1e-5, bosTokenId: 50256, eosTokenId: 50256,
    });
    expect(ckpt.tiedLmHead).toBe(tied);
    expect(ckpt.tensors.size).toBe(4 + 12 * NLAYER + (tied ? 0 : 1));
    expect(ckpt.tensors.get('h.1.attn.c_attn.weight')?.shape).toEqual([NEMBD, 3 * NEMBD]);
    expect(ckpt.tensors.get('h.0.mlp.c_proj.weight')?.shape).toEqual([4 * NEMBD, NEMBD]);

    // Every location's bytes decode to exactly what an independent reader of the file sees.
    const reference = readSafetensorsAsFloat64(join(dir, 'model.safetensors'));
    const file = await open(join(dir, 'model.safetensors'), 'r');
    try {
      for (const [name, loc] of ckpt.tensors) {
        expect(loc.name).toBe(name);
        expect(loc.dtype).toBe(opts.dtype);
        expect(loc.file).toBe(join(dir, 'model.safetensors'));
        const bytes = Buffer.alloc(loc.byteLength);
        await file.read(bytes, 0, loc.byteLength, loc.offset);
        const ref = reference.get(name);
        expect(ref, name).toBeDefined();
        expect(loc.shape).toEqual(ref?.shape);
        const decoded = decodeToFloat64(bytes, loc.dtype);
        const refData = ref?.data ?? new Float64Array();
        expect(decoded.length).toBe(refData.length);
        // Element-wise loop: toEqual on million-element typed arrays is needlessly slow.
        expect(decoded.findIndex((v, i) => v !== refData[i]), name).toBe(-1);
      }
    } finally {
      await file.close();
    }
  });
});

describe('checkpoint factory', () => {
  it('writes a valid safetensors layout with HF names, deterministic per seed', async () => {
    const a = tempDir();
    const b = tempDir();
    const c = tempDir();
    await makeRandomCheckpoint(a, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 3, prefixed: true, tiedLmHead: false });
    await makeRandomCheckpoint(b, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 3, prefixed: true, tiedLmHead: false });
    await makeRandomCheckpoint(c, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 4, prefixed: true, tiedLmHead: false });
    const bytesA = readFileSync(join(a, 'model.safetensors'));
    expect(bytesA.equals(readFileSync(join(b, 'model.safetensors')))).toBe(true);
    expect(bytesA.equals(readFileSync(join(c, 'model.safetensors')))).toBe(false);

    const headerLength = Number(bytesA.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const { header } = readRaw(join(a, 'model.safetensors'));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(Object.keys(header)).toContain('transformer.h.0.attn.c_attn.weight');
    expect(Object.keys(header)).toContain('lm_head.weight');

    const t = readSafetensorsAsFloat64(join(a, 'model.safetensors'));
    const wte = t.get('wte.weight')?.data ?? new Float64Array();
    const lmHead = t.get('lm_head.weight')?.data ?? new Float64Array();
    expect(wte.length).toBe(GPT2_VOCAB_SIZE * 16);
    expect(lmHead.some((v, i) => v !== wte[i])).toBe(true);
    const mean = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / x.length;
    const std = (x: Float64Array) => Math.sqrt(mean(x.map((v) => v * v)) - mean(x) ** 2);
    // Layer norms near 1, biases small but nonzero, embeddings spread enough to separate logits.
    expect(mean(t.get('h.0.ln_1.weight')?.data ?? new Float64Array())).toBeCloseTo(1, 0);
    expect(t.get('h.0.attn.c_attn.bias')?.data.every((v) => v !== 0)).toBe(true);
    expect(std(wte)).toBeGreaterThan(0.1);
    expect(std(wte)).toBeLessThan(0.6);

    const config = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ model_type: 'gpt2', n_layer: 1, n_embd: 16, n_head: 2, n_positions: 64, n_ctx: 64, architectures: ['GPT2LMHeadModel'] });
    const tokenizerJson = JSON.parse(readFileSync(join(a, 'tokenizer.json'), 'utf8'));
    expect(tokenizerJson.model.type).toBe('BPE');
    expect(Object.keys(tokenizerJson.model.vocab)).toHaveLength(GPT2_VOCAB_SIZE);
    expect(tokenizerJson.model.merges).toHaveLength(50000);
    expect(tokenizerJson.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: '<|endoftext|>', special: true })]);
  });

  it('stores F16 and BF16 values as the nearest representable numbers of the F32 weights', async () => {
    const dirs = { F32: tempDir(), F16: tempDir(), BF16: tempDir() };
    for (const [dtype, dir] of Object.entries(dirs)) {
      await makeRandomCheckpoint(dir, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 11, dtype: dtype as WeightDtype });
    }
    const f32 = readSafetensorsAsFloat64(join(dirs.F32, 'model.safetensors')).get('h.0.mlp.c_fc.weight')?.data ?? new Float64Array();
    for (const [dtype, relTol] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
      const low = readSafetensorsAsFloat64(join(dirs[dtype], 'model.safetensors')).get('h.0.mlp.c_fc.weight')?.data ?? new Float64Array();
      expect(low.length).toBe(f32.length);
      let worst = 0;
      f32.forEach((v, i) => { worst = Math.max(worst, Math.abs((low[i] ?? 0) - v) / Math.max(Math.abs(v), 2 ** -14)); });
      expect(worst, dtype).toBeLessThanOrEqual(relTol);
      expect(worst, `${dtype} differs from F32 at all`).toBeGreaterThan(0);
    }
  });
});

describe('readCheckpoint refuses bad input', () => {
  let template: string;
  beforeAll(async () => {
    template = join(tempDir(), 'ckpt');
    await makeRandomCheckpoint(template, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 1 });
  });
  const fresh = (): string => {
    const dir = join(tempDir(), 'ckpt');
    cpSync(template, dir, { recursive: true });
    return dir;
  };
  const weights = (dir: string) => join(dir, 'model.safetensors');

  it('a folder that does not exist, or a file', async () => {
    const missing = join(tempDir(), 'nope');
    await expectEngineError(readCheckpoint(missing), 'not_found', missing);
    const dir = fresh();
    await expectEngineError(readCheckpoint(join(dir, 'config.json')), 'bad_input', 'not a folder');
  });

  it('missing or malformed config.json', async () => {
    const dir = fresh();
    rmSync(join(dir, 'config.json'));
    await expectEngineError(readCheckpoint(dir), 'not_found', 'config.json', 'missing');
    writeFileSync(join(dir, 'config.json'), '{"model_type": "gpt2", ');
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'malformed JSON');
    writeFileSync(join(dir, 'config.json'), '[1, 2]');
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'not a JSON object');
  });

  it('model_type other than gpt2', async () => {
    const dir = fresh();
    editConfig(dir, (c) => { c.model_type = 'llama'; });
    await expectEngineError(readCheckpoint(dir), 'refused', 'config.json', 'model_type', 'llama');
  });

  it.each([
    ['n_layer', 1.5], ['n_layer', -1], ['n_head', 0], ['n_embd', '16'], ['vocab_size', null], ['n_positions', 2 ** 60],
  ])('config field %s = %j', async (field, value) => {
    const dir = fresh();
    editConfig(dir, (c) => { c[field] = value; });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', field);
  });

  it('bad epsilon, token ids and unsupported architecture switches', async () => {
    const cases: [Record<string, unknown>, EngineError['kind'], string][] = [
      [{ layer_norm_epsilon: -1 }, 'bad_input', 'layer_norm_epsilon'],
      [{ eos_token_id: 60000 }, 'bad_input', 'eos_token_id'],
      [{ n_head: 3 }, 'bad_input', 'not divisible by n_head 3'],
      [{ activation_function: 'relu' }, 'refused', 'activation_function'],
      [{ n_inner: 100 }, 'refused', 'n_inner'],
      [{ scale_attn_by_inverse_layer_idx: true }, 'refused', 'scale_attn_by_inverse_layer_idx'],
    ];
    for (const [patch, kind, fragment] of cases) {
      const dir = fresh();
      editConfig(dir, (c) => Object.assign(c, patch));
      await expectEngineError(readCheckpoint(dir), kind, 'config.json', fragment);
    }
  });

  it('accepts a config with n_ctx only and the gelu_pytorch_tanh spelling', async () => {
    const dir = fresh();
    editConfig(dir, (c) => { delete c.n_positions; c.activation_function = 'gelu_pytorch_tanh'; });
    expect((await readCheckpoint(dir)).config.nPositions).toBe(64);
  });

  it('missing model.safetensors', async () => {
    const dir = fresh();
    rmSync(weights(dir));
    await expectEngineError(readCheckpoint(dir), 'not_found', 'model.safetensors', 'missing');
  });

  it('pickle weights only: refused with the conversion command, never read', async () => {
    const dir = fresh();
    rmSync(weights(dir));
    // Not a real pickle: the reader must refuse on the name alone, without opening it.
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not a pickle');
    const error = await expectEngineError(readCheckpoint(dir), 'refused', 'pytorch_model.bin', 'safetensors', 'save_pretrained', 'safe_serialization=True');
    expect(error.message).toContain(dir);
  });

  it('pickle weights with an old-style config: still the pickle refusal, not a config error', async () => {
    const dir = fresh();
    rmSync(weights(dir));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not a pickle');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
    await expectEngineError(readCheckpoint(dir), 'refused', 'pytorch_model.bin', 'safe_serialization=True');
  });

  it('truncated safetensors', async () => {
    const dir = fresh();
    const size = readFileSync(weights(dir)).byteLength;
    truncateSync(weights(dir), size - 100);
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'truncated');
    truncateSync(weights(dir), 5);
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'truncated');
    truncateSync(weights(dir), 200);
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'truncated', 'header');
  });

  it('absurd header length', async () => {
    const dir = fresh();
    const buf = readFileSync(weights(dir));
    buf.writeBigUInt64LE(2n ** 62n, 0);
    writeFileSync(weights(dir), buf);
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'absurd');
  });

  it('malformed header JSON', async () => {
    const dir = fresh();
    const buf = readFileSync(weights(dir));
    buf.write('x', 8);
    writeFileSync(weights(dir), buf);
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'JSON');
  });

  it('data_offsets with the wrong byte length for shape and dtype', async () => {
    const dir = fresh();
    rewriteHeader(weights(dir), (h) => {
      const [begin = 0, end = 0] = at(h, 'h.0.ln_1.bias').data_offsets;
      at(h, 'h.0.ln_1.bias').data_offsets = [begin, end + 4];
    });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'h.0.ln_1.bias', 'needs 64');
  });

  it('overlapping data_offsets', async () => {
    const dir = fresh();
    rewriteHeader(weights(dir), (h) => { at(h, 'h.0.ln_1.bias').data_offsets = [...at(h, 'h.0.ln_1.weight').data_offsets]; });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'overlap');
  });

  it('data_offsets past the end of the file', async () => {
    const dir = fresh();
    const { data } = readRaw(weights(dir));
    rewriteHeader(weights(dir), (h) => {
      const [begin = 0, end = 0] = at(h, 'ln_f.bias').data_offsets;
      at(h, 'ln_f.bias').data_offsets = [data.byteLength + 64, data.byteLength + 64 + end - begin];
    });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'ln_f.bias');
  });

  it('bytes not described by the header (not contiguous)', async () => {
    const dir = fresh();
    appendFileSync(weights(dir), Buffer.alloc(16));
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', '16 bytes after the last tensor');
    const other = fresh();
    rewriteHeader(weights(other), (h) => { delete h['ln_f.bias']; });
    await expectEngineError(readCheckpoint(other), 'bad_input', 'model.safetensors', 'hole');
  });

  it('unknown dtype, and a known dtype that is not a float weight', async () => {
    const dir = fresh();
    rewriteHeader(weights(dir), (h) => { at(h, 'h.0.ln_2.weight').dtype = 'F99'; });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'h.0.ln_2.weight', 'unknown dtype');
    const other = fresh();
    rewriteHeader(weights(other), (h) => { at(h, 'wpe.weight').dtype = 'I32'; });
    await expectEngineError(readCheckpoint(other), 'refused', 'model.safetensors', 'wpe.weight', 'I32');
  });

  it('missing tensor', async () => {
    const dir = fresh();
    rewriteTensors(weights(dir), (t) => { t.delete('h.0.mlp.c_fc.bias'); });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'missing tensor h.0.mlp.c_fc.bias');
  });

  it('a shape that disagrees with config.json names the tensor, expected and actual', async () => {
    const dir = fresh();
    editConfig(dir, (c) => { c.n_positions = 32; });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'wpe.weight', '[64, 16]', '[32, 16]');
    const deeper = fresh();
    editConfig(deeper, (c) => { c.n_layer = 2; });
    await expectEngineError(readCheckpoint(deeper), 'bad_input', 'config.json', 'n_layer is 2', 'holds 1 layer');
  });

  it('an unexpected tensor, and one stored under both key layouts', async () => {
    const dir = fresh();
    rewriteTensors(weights(dir), (t) => { t.set('h.3.ln_1.weight', { dtype: 'F32', shape: [16], bytes: new Uint8Array(64) }); });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors', 'unexpected tensor h.3.ln_1.weight');
    const dup = fresh();
    rewriteTensors(weights(dup), (t) => {
      const ln = t.get('ln_f.bias');
      if (ln) t.set('transformer.ln_f.bias', ln);
    });
    await expectEngineError(readCheckpoint(dup), 'bad_input', 'model.safetensors', 'ln_f.bias', 'duplicates');
  });

  it('ignores attention-mask buffers', async () => {
    const dir = fresh();
    rewriteTensors(weights(dir), (t) => {
      t.set('h.0.attn.bias', { dtype: 'F32', shape: [1, 1, 4, 4], bytes: new Uint8Array(64) });
      t.set('h.0.attn.masked_bias', { dtype: 'F32', shape: [], bytes: new Uint8Array(4) });
    });
    const ckpt = await readCheckpoint(dir);
    expect(ckpt.tensors.has('h.0.attn.bias')).toBe(false);
    expect(ckpt.tensors.size).toBe(16);
  });

  it('tie_word_embeddings false without lm_head.weight', async () => {
    const dir = fresh();
    editConfig(dir, (c) => { c.tie_word_embeddings = false; });
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'lm_head.weight', 'tie_word_embeddings');
  });

  it('missing or malformed tokenizer files', async () => {
    const dir = fresh();
    rmSync(join(dir, 'tokenizer.json'));
    await expectEngineError(readCheckpoint(dir), 'not_found', 'tokenizer.json', 'vocab.json + merges.txt');
    writeFileSync(join(dir, 'vocab.json'), '{"a": 0}');
    await expectEngineError(readCheckpoint(dir), 'not_found', 'merges.txt');
    const bad = fresh();
    writeFileSync(join(bad, 'tokenizer.json'), '{"model": ');
    await expectEngineError(readCheckpoint(bad), 'bad_input', 'tokenizer.json', 'malformed JSON');
    const big = fresh();
    editConfig(big, (c) => { c.vocab_size = 50000; c.bos_token_id = 0; c.eos_token_id = 0; });
    rewriteTensors(weights(big), (t) => {
      const wte = t.get('wte.weight');
      if (wte) t.set('wte.weight', { ...wte, shape: [50000, 16], bytes: wte.bytes.subarray(0, 50000 * 16 * 4) });
    });
    await expectEngineError(readCheckpoint(big), 'bad_input', 'token id 50256', 'vocab_size is 50000');
  });

  it('sharded safetensors with an index', async () => {
    const dir = fresh();
    const { header, data } = readRaw(weights(dir));
    const shardA = new Map<string, RawTensor>();
    const shardB = new Map<string, RawTensor>();
    for (const [key, value] of Object.entries(header)) {
      if (key === '__metadata__') continue;
      const v = value as { dtype: WeightDtype; shape: number[]; data_offsets: [number, number] };
      (key.startsWith('h.') ? shardB : shardA).set(key, { dtype: v.dtype, shape: v.shape, bytes: data.subarray(...v.data_offsets) });
    }
    rmSync(weights(dir));
    writeFileSync(join(dir, 'model-00001-of-00002.safetensors'), encodeSafetensors(shardA));
    writeFileSync(join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors(shardB));
    const weightMap = Object.fromEntries([
      ...[...shardA.keys()].map((k) => [k, 'model-00001-of-00002.safetensors']),
      ...[...shardB.keys()].map((k) => [k, 'model-00002-of-00002.safetensors']),
    ]);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const ckpt = await readCheckpoint(dir);
    expect(ckpt.tensors.get('h.0.ln_1.weight')?.file).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    expect(ckpt.tensors.get('wte.weight')?.file).toBe(join(dir, 'model-00001-of-00002.safetensors'));

    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, 'wte.weight': '../elsewhere.safetensors' } }));
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'model.safetensors.index.json', 'wte.weight');
  });
});

/** Resolves with what `promise` settled to, or rejects after `ms` (a hang fails the test instead of stalling it). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('checkpoint faults (issue 6, fault 3.4)', () => {
  let template: string;
  let legacy: string;
  beforeAll(async () => {
    template = join(tempDir(), 'ckpt');
    legacy = join(tempDir(), 'legacy');
    await makeRandomCheckpoint(template, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 1 });
    await makeRandomCheckpoint(legacy, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 1, tokenizer: 'vocab+merges' });
  });
  const fresh = (from = template): string => {
    const dir = join(tempDir(), 'ckpt');
    cpSync(from, dir, { recursive: true });
    return dir;
  };

  it('n_layer 1e9 in config.json fails at once, checked against the layers the header lists, before anything is built', async () => {
    const dir = fresh();
    editConfig(dir, (c) => { c.n_layer = 1e9; });
    const started = performance.now();
    const error = await within(expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'n_layer', '1000000000', '1 layer'), 10_000, 'readCheckpoint');
    expect(error.message).toContain('model.safetensors');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a header that names layer h.999999999 is refused by its layer count, not expanded', async () => {
    const dir = fresh();
    rewriteTensors(join(dir, 'model.safetensors'), (t) => {
      t.set('h.999999999.ln_1.weight', { dtype: 'F32', shape: [16], bytes: new Uint8Array(64) });
    });
    editConfig(dir, (c) => { c.n_layer = 1e9; });
    await within(expectEngineError(readCheckpoint(dir), 'bad_input', 'n_layer is 1000000000', 'model.safetensors', 'none of layer h.1'), 10_000, 'readCheckpoint');
  });

  it('model.safetensors that is a folder, or a symlink to /etc, is refused as not a regular file (no EISDIR)', async () => {
    const folder = fresh();
    rmSync(join(folder, 'model.safetensors'));
    mkdirSync(join(folder, 'model.safetensors'));
    await expectEngineError(readCheckpoint(folder), 'bad_input', 'model.safetensors', 'not a regular file');
    const linked = fresh();
    rmSync(join(linked, 'model.safetensors'));
    symlinkSync('/etc', join(linked, 'model.safetensors'));
    await expectEngineError(readCheckpoint(linked), 'bad_input', 'model.safetensors', 'not a regular file');
  });

  it('config.json that is a FIFO is refused at once instead of hanging the import', async () => {
    const dir = fresh();
    rmSync(join(dir, 'config.json'));
    execFileSync('mkfifo', [join(dir, 'config.json')]);
    await within(expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'not a regular file'), 5_000, 'readCheckpoint on a FIFO');
  });

  it('tokenizer.json that is a FIFO or a device is refused too', async () => {
    const dir = fresh();
    rmSync(join(dir, 'tokenizer.json'));
    symlinkSync('/dev/zero', join(dir, 'tokenizer.json'));
    await within(expectEngineError(readCheckpoint(dir), 'bad_input', 'tokenizer.json', 'not a regular file'), 5_000, 'readCheckpoint on /dev/zero');
  });

  it('an HF-cache style symlink to a regular blob file is followed', async () => {
    const dir = fresh();
    const blobs = join(tempDir(), 'blobs');
    mkdirSync(blobs);
    for (const name of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      renameSync(join(dir, name), join(blobs, `blob-${name}`));
      symlinkSync(join(blobs, `blob-${name}`), join(dir, name));
    }
    expect((await readCheckpoint(dir)).config.nLayer).toBe(1);
  });

  it('error messages never echo file contents: config.json linked to a passwd-like file', async () => {
    const secretFile = join(tempDir(), 'passwd');
    writeFileSync(secretFile, 'root:x:0:0:SECRET-LINE:/root:/bin/bash\n');
    const dir = fresh();
    rmSync(join(dir, 'config.json'));
    symlinkSync(secretFile, join(dir, 'config.json'));
    const error = await expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'malformed JSON');
    expect(error.message).not.toMatch(/root|SECRET/);

    const jsonSecret = fresh();
    editConfig(jsonSecret, (c) => { c.model_type = 'a-long-secret-value-0123456789abcdef'; c.n_layer = 'another-secret-0123456789'; });
    const typeError = await expectEngineError(readCheckpoint(jsonSecret), 'refused', 'config.json', 'model_type');
    expect(typeError.message).not.toContain('secret');
  });

  it('oversized JSON files are refused without being read whole', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), Buffer.alloc(5 * 1024 * 1024, 0x20));
    await expectEngineError(readCheckpoint(dir), 'bad_input', 'config.json', 'MiB');
  });

  const BAD_MERGES: unknown[] = [[1, 2], null, { a: 1 }, 'x'];

  it('malformed merges in tokenizer.json ([[1,2],null,{"a":1},"x"]) are refused', async () => {
    for (const bad of [BAD_MERGES, ...BAD_MERGES.map((m) => [m])]) {
      const dir = fresh();
      const file = join(dir, 'tokenizer.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as { model: { merges: unknown[] } };
      json.model.merges = [...json.model.merges.slice(0, 5), ...bad];
      writeFileSync(file, JSON.stringify(json));
      await expectEngineError(readCheckpoint(dir), 'bad_input', 'tokenizer.json', 'merges[5]');
    }
  });

  it('merges naming tokens outside the vocabulary, or mixing both merge forms, are refused', async () => {
    const cases: [unknown[], string][] = [
      [['Ġ t', 'zzzq qqqz'], 'merges[1]'],
      [['Ġ t', ['h', 'e']], 'merges[1]'],
      [[['Ġ', 't'], ['h', 'e', 'x']], 'merges[1]'],
      [['Ġ t', 'Ġ  t'], 'merges[1]'],
    ];
    for (const [merges, fragment] of cases) {
      const dir = fresh();
      const file = join(dir, 'tokenizer.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as { model: { merges: unknown[] } };
      json.model.merges = merges;
      writeFileSync(file, JSON.stringify(json));
      await expectEngineError(readCheckpoint(dir), 'bad_input', 'tokenizer.json', fragment);
    }
    const pairs = fresh();
    const file = join(pairs, 'tokenizer.json');
    const json = JSON.parse(readFileSync(file, 'utf8')) as { model: { merges: string[] } };
    json.model.merges = json.model.merges.map((m) => m.split(' ')) as unknown as string[];
    writeFileSync(file, JSON.stringify(json));
    await expect(readCheckpoint(pairs)).resolves.toBeDefined();
  });

  it('malformed merges.txt lines are refused with their line number', async () => {
    for (const line of ['[1, 2]', 'null', '{"a":1}', 'x', 'Ġ t extra', 'zzzq qqqz']) {
      const dir = fresh(legacy);
      const file = join(dir, 'merges.txt');
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.splice(3, 0, line);
      writeFileSync(file, lines.join('\n'));
      await expectEngineError(readCheckpoint(dir), 'bad_input', 'merges.txt', 'line 4');
    }
  });

  it('a vocabulary with duplicate ids or without the 256 byte symbols is refused', async () => {
    const dup = fresh(legacy);
    const vocabFile = join(dup, 'vocab.json');
    const vocab = JSON.parse(readFileSync(vocabFile, 'utf8')) as Record<string, number>;
    writeFileSync(vocabFile, JSON.stringify({ ...vocab, 'Ġduplicate': 5 }));
    await expectEngineError(readCheckpoint(dup), 'bad_input', 'vocab.json', 'id 5');
    const bytes = fresh(legacy);
    const { a: _a, ...withoutA } = vocab;
    writeFileSync(join(bytes, 'vocab.json'), JSON.stringify(withoutA));
    await expectEngineError(readCheckpoint(bytes), 'bad_input', 'vocab.json', 'byte');
  });
});
