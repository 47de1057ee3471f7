import {
  closeSync, copyFileSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync,
  writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../src/main/engine/checkpoint';
import { ModelStore, type OnnxBuilder } from '../../../../src/main/engine/models/store';
import { loadTokenizer } from '../../../../src/main/engine/tokenizer';
import type { Gpt2Checkpoint } from '../../../../src/main/engine/types';
import { EngineError } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-store-');

/** A graph builder that writes placeholder graphs and records what it was given. */
function stubBuilder(seen: Gpt2Checkpoint[] = []): OnnxBuilder {
  return async (ckpt, outDir) => {
    seen.push(ckpt);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'model.onnx'), 'decoder');
    writeFileSync(join(outDir, 'model_all_logits.onnx'), 'full');
    return { decoderPath: join(outDir, 'model.onnx'), fullLogitsPath: join(outDir, 'model_all_logits.onnx') };
  };
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, e) => {
    const p = join(dir, e.name);
    return sum + (e.isDirectory() ? folderBytes(p) : statSync(p).size);
  }, 0);
}

async function engineError(promise: Promise<unknown> | (() => unknown)): Promise<EngineError> {
  const error = typeof promise === 'function'
    ? (() => { try { promise(); return undefined; } catch (e) { return e; } })()
    : await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

describe('ModelStore', () => {
  let ckptDir: string;
  let legacyDir: string;
  beforeAll(async () => {
    ckptDir = join(tempDir(), 'ckpt');
    legacyDir = join(tempDir(), 'legacy');
    await makeRandomCheckpoint(ckptDir, { nLayer: 2, nEmbd: 16, nHead: 2, dtype: 'F16', tiedLmHead: false });
    await makeRandomCheckpoint(legacyDir, { nLayer: 1, nEmbd: 24, nHead: 3, tokenizer: 'vocab+merges', prefixed: true });
  });

  it('imports, lists, gets and removes a model', async () => {
    const home = tempDir();
    const seen: Gpt2Checkpoint[] = [];
    const store = new ModelStore(home, { buildOnnx: stubBuilder(seen) });
    expect(store.list()).toEqual([]);

    const model = await store.import(ckptDir, 'tiny-1');
    const dir = join(home, 'models', 'tiny-1');
    // 2 layers of 12 tensors at d=16, plus wte, wpe, ln_f and an explicit lm_head.
    const d = 16;
    const perLayer = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d);
    const parameters = 2 * 50257 * d + 64 * d + 2 * d + 2 * perLayer;
    expect(model).toMatchObject({
      id: 'tiny-1', dir, dtype: 'F16', parameters, name: 'gpt2-like 2L/16d (1.6M)',
      decoderPath: join(dir, 'onnx', 'model.onnx'), fullLogitsPath: join(dir, 'onnx', 'model_all_logits.onnx'),
    });
    expect(model.config).toMatchObject({ nLayer: 2, nEmbd: 16, nHead: 2, nPositions: 64, vocabSize: 50257 });
    expect(new Date(model.importedAt).toISOString()).toBe(model.importedAt);
    expect(model.sizeBytes).toBe(folderBytes(dir));

    // The graph builder saw the copy inside the store's temporary folder, never the source.
    expect(seen).toHaveLength(1);
    expect(seen[0]?.dir).toMatch(/models[/\\]\.tmp-/);
    expect(seen[0]?.tensors.get('wte.weight')?.file.startsWith(seen[0]?.dir ?? '?')).toBe(true);

    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(ckptDir, 'model.safetensors')))).toBe(true);
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'inkwell-model.json']) expect(existsSync(join(dir, f)), f).toBe(true);

    expect(store.list().map((m) => m.id)).toEqual(['tiny-1']);
    expect(store.get('tiny-1')).toEqual(model);
    expect(new ModelStore(home).get('tiny-1')).toEqual(model);

    store.remove('tiny-1');
    expect(store.list()).toEqual([]);
    expect(readdirSync(join(home, 'models'))).toEqual([]);
    expect((await engineError(() => store.get('tiny-1'))).kind).toBe('not_found');
    expect((await engineError(() => store.remove('tiny-1'))).kind).toBe('not_found');
  });

  it('synthesizes tokenizer.json for a vocab.json + merges.txt checkpoint', async () => {
    const home = tempDir();
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    const model = await store.import(legacyDir, 'legacy');
    expect(existsSync(join(model.dir, 'tokenizer.json'))).toBe(true);
    expect(JSON.parse(readFileSync(join(model.dir, 'tokenizer_config.json'), 'utf8'))).toMatchObject({ model_max_length: 64 });
    // Prove the synthesized files are what transformers.js reads: remove the legacy pair from the copy.
    rmSync(join(model.dir, 'vocab.json'));
    rmSync(join(model.dir, 'merges.txt'));
    const tokenizer = await loadTokenizer(model.dir);
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(model.name).toBe('gpt2-like 1L/24d (1.2M)');
  });

  it('refuses an existing id (also differing only in case) and leaves the store unchanged', async () => {
    const home = tempDir();
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    await store.import(ckptDir, 'dup');
    const before = readdirSync(join(home, 'models'));
    for (const id of ['dup', 'DUP']) {
      const error = await engineError(store.import(legacyDir, id));
      expect(error.kind).toBe('bad_input');
      expect(error.message).toContain('already exists');
    }
    expect(readdirSync(join(home, 'models'))).toEqual(before);
    expect(store.get('dup').config.nLayer).toBe(2);
  });

  it.each(['', '.hidden', '-dash', 'a/b', '../escape', 'sp ace', 'x'.repeat(65), 'con', 'ünï'])('refuses the invalid id %j', async (id) => {
    const home = tempDir();
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    const error = await engineError(store.import(ckptDir, id));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toContain('invalid model id');
    expect(existsSync(join(home, 'models'))).toBe(false);
  });

  it('leaves nothing under models/ when the checkpoint or the graph builder fails', async () => {
    const home = tempDir();
    const bad = join(tempDir(), 'bad');
    await makeRandomCheckpoint(bad, { nLayer: 1, nEmbd: 16, nHead: 2 });
    truncateSync(join(bad, 'model.safetensors'), 1000);
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    expect((await engineError(store.import(bad, 'bad'))).message).toContain('model.safetensors');
    const leftovers = () => (existsSync(join(home, 'models')) ? readdirSync(join(home, 'models')) : []);
    expect(leftovers()).toEqual([]);

    const failing = new ModelStore(home, {
      buildOnnx: async (_ckpt, outDir) => {
        mkdirSync(outDir, { recursive: true });
        writeFileSync(join(outDir, 'model.onnx'), 'half');
        throw new Error('disk full');
      },
    });
    const error = await engineError(failing.import(ckptDir, 'broken'));
    expect(error.kind).toBe('internal');
    expect(error.message).toContain('disk full');
    expect(leftovers()).toEqual([]);

    const lying = new ModelStore(home, { buildOnnx: async () => ({ decoderPath: '/etc/passwd', fullLogitsPath: '/etc/passwd' }) });
    expect((await engineError(lying.import(ckptDir, 'lying'))).kind).toBe('internal');
    expect(leftovers()).toEqual([]);
  });

  it('skips unfinished folders and cleans stale temporary ones', async () => {
    const home = tempDir();
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    await store.import(ckptDir, 'ok');
    const models = join(home, 'models');
    mkdirSync(join(models, '.tmp-fresh'));
    mkdirSync(join(models, '.tmp-stale'));
    mkdirSync(join(models, '.trash-stale'));
    mkdirSync(join(models, 'no-metadata'));
    mkdirSync(join(models, 'bad-metadata'));
    writeFileSync(join(models, 'bad-metadata', 'inkwell-model.json'), '{"id": "bad-metadata"}');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(models, '.tmp-stale'), twoHoursAgo, twoHoursAgo);
    utimesSync(join(models, '.trash-stale'), twoHoursAgo, twoHoursAgo);

    expect(store.list().map((m) => m.id)).toEqual(['ok']);
    expect(readdirSync(models).sort()).toEqual(['.tmp-fresh', 'bad-metadata', 'no-metadata', 'ok']);
    expect((await engineError(() => store.get('no-metadata'))).kind).toBe('not_found');
  });

  it('imports with the real ONNX builder by default', async () => {
    const home = tempDir();
    const model = await new ModelStore(home).import(ckptDir, 'real');
    expect(statSync(model.decoderPath).size).toBeGreaterThan(0);
    expect(statSync(model.fullLogitsPath).size).toBeGreaterThan(0);
    expect(readdirSync(join(home, 'models'))).toEqual(['real']);
  });

  it('counts hard-linked F32 weights once in sizeBytes', async () => {
    const home = tempDir();
    const model = await new ModelStore(home).import(legacyDir, 'f32');
    // The graphs point at a hard link of the F32 weights: those bytes are on disk once, not twice.
    const weights = statSync(join(model.dir, 'model.safetensors'));
    const linked = statSync(join(model.dir, 'onnx', 'model.safetensors'));
    expect(linked.ino).toBe(weights.ino);
    expect(model.sizeBytes).toBe(folderBytes(model.dir) - linked.size);
  });
});

/** Overwrites element `index` of tensor `name` in the checkpoint's model.safetensors with the raw little-endian `bits`. */
async function poke(dir: string, name: string, index: number, bits: number): Promise<void> {
  const location = (await readCheckpoint(dir)).tensors.get(name);
  if (!location) throw new Error(`no tensor ${name}`);
  const width = location.dtype === 'F32' ? 4 : 2;
  const bytes = Buffer.alloc(width);
  if (width === 4) bytes.writeUInt32LE(bits);
  else bytes.writeUInt16LE(bits);
  const fd = openSync(location.file, 'r+');
  try {
    writeSync(fd, bytes, 0, width, location.offset + index * width);
  } finally {
    closeSync(fd);
  }
}

describe('ModelStore import faults (issue 6, fault 3.4)', () => {
  let ckptDir: string;
  beforeAll(async () => {
    ckptDir = join(tempDir(), 'ckpt');
    await makeRandomCheckpoint(ckptDir, { nLayer: 1, nEmbd: 16, nHead: 2 });
  });
  const leftovers = (home: string) => (existsSync(join(home, 'models')) ? readdirSync(join(home, 'models')) : []);

  it.each([
    ['F32', 'h.0.mlp.c_fc.weight', 0x7fc00000, 'NaN'],
    ['F32', 'wte.weight', 0xff800000, '-Inf'],
    ['F16', 'h.1.attn.c_proj.bias', 0x7e00, 'NaN'],
    ['BF16', 'ln_f.weight', 0x7f80, '+Inf'],
  ] as const)('NaN/Inf weights are refused at import, naming the tensor (%s %s, %s %s)', async (dtype, tensor, bits, _label) => {
    const src = join(tempDir(), 'nan');
    await makeRandomCheckpoint(src, { nLayer: 2, nEmbd: 16, nHead: 2, dtype });
    await poke(src, tensor, 7, bits);
    const home = tempDir();
    const error = await engineError(new ModelStore(home, { buildOnnx: stubBuilder() }).import(src, 'nan'));
    expect(error.kind).toBe('bad_input');
    expect(error.message).toContain(`tensor ${tensor} holds 1 NaN or infinite value`);
    expect(error.message).toContain('first at element 7');
    expect(leftovers(home)).toEqual([]);
  });

  it('refuses an import that does not fit on the disk before writing anything', async () => {
    const home = tempDir();
    const store = new ModelStore(home, { buildOnnx: stubBuilder(), freeDiskBytes: async () => 10 * 1024 * 1024 });
    const error = await engineError(store.import(ckptDir, 'big'));
    expect(error.kind).toBe('refused');
    expect(error.message).toMatch(/not enough disk space for importing "big": it needs [\d.]+ MiB in .*models, and 10\.0 MiB is free/);
    expect(leftovers(home)).toEqual([]);
  });

  it('a cancelled import leaves nothing behind', async () => {
    const home = tempDir();
    const abort = new AbortController();
    const store = new ModelStore(home, { buildOnnx: stubBuilder() });
    const phases: string[] = [];
    const error = await engineError(store.import(ckptDir, 'cancel-me', {
      signal: abort.signal,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.phase === 'scanning') abort.abort();
      },
    }));
    expect(error.kind).toBe('cancelled');
    expect(phases).toContain('copying');
    expect(leftovers(home)).toEqual([]);
  });

  it("transfer 'link' hard-links the files a symlinked snapshot points to, and records the origin", async () => {
    const cache = tempDir();
    const blobs = join(cache, 'blobs');
    const snapshot = join(cache, 'snapshots', 'abc123');
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    for (const name of readdirSync(ckptDir)) {
      copyFileSync(join(ckptDir, name), join(blobs, `blob-${name}`));
      symlinkSync(join('..', '..', 'blobs', `blob-${name}`), join(snapshot, name));
    }
    const home = tempDir();
    const origin = { kind: 'hf-cache', repo: 'owner/tiny', revision: 'abc123', path: snapshot } as const;
    const model = await new ModelStore(home).import(snapshot, 'linked', { transfer: 'link', origin });
    const blob = statSync(join(blobs, 'blob-model.safetensors'));
    expect(statSync(join(model.dir, 'model.safetensors')).ino).toBe(blob.ino);
    expect(lstatSync(join(model.dir, 'model.safetensors')).isSymbolicLink()).toBe(false);
    expect(model.weightsLinked).toBe(true);
    expect(model.origin).toEqual(origin);
    expect(new ModelStore(home).get('linked').origin).toEqual(origin);
    // The source is untouched by removing the model.
    new ModelStore(home).remove('linked');
    expect(statSync(join(blobs, 'blob-model.safetensors')).size).toBe(blob.size);
  });
});
