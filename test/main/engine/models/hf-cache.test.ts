/**
 * The local Hugging Face cache in huggingface_hub's layout (models--owner--name/
 * refs/main, snapshots/<commit>/<file> symlinked to ../../blobs/<hash>): where
 * it is found, what is listed with which reason, and an import that hard-links
 * the blobs instead of copying them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCachedRepo, hfHubCacheDir, importFromHfCache, listHfCache } from '../../../../src/main/engine/models/hf-cache';
import { ModelStore } from '../../../../src/main/engine/models/store';
import { EngineError } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { repoFilesFromFolder } from '../../../helpers/fake-hub';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-hfcache-');

/** Writes a repository into `cache` the way huggingface_hub does: content-addressed blobs, relative symlinks per snapshot. */
function cacheRepo(cache: string, repo: string, revision: string, files: Record<string, Buffer | string>, options: { ref?: boolean; incomplete?: string[] } = {}): string {
  const repoDir = join(cache, `models--${repo.split('/').join('--')}`);
  const snapshot = join(repoDir, 'snapshots', revision);
  mkdirSync(join(repoDir, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const blob = createHash('sha256').update(content).digest('hex');
    writeFileSync(join(repoDir, 'blobs', blob), content);
    symlinkSync(join('..', '..', 'blobs', blob), join(snapshot, name));
  }
  for (const name of options.incomplete ?? []) writeFileSync(join(repoDir, 'blobs', `${createHash('sha256').update(name).digest('hex')}.incomplete`), 'part');
  if (options.ref ?? true) {
    mkdirSync(join(repoDir, 'refs'), { recursive: true });
    writeFileSync(join(repoDir, 'refs', 'main'), revision);
  }
  return snapshot;
}

const REV = 'a'.repeat(40);
let cache: string;
let gpt2Files: Record<string, Buffer>;

beforeAll(async () => {
  const ckpt = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(ckpt, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 2 });
  gpt2Files = repoFilesFromFolder(ckpt);
  cache = tempDir();
  cacheRepo(cache, 'openai-community/gpt2', REV, gpt2Files);
  cacheRepo(cache, 'gpt2', 'b'.repeat(40), { 'config.json': gpt2Files['config.json'] ?? '' }, { ref: false });
  cacheRepo(cache, 'owner/pickled', 'c'.repeat(40), { 'config.json': gpt2Files['config.json'] ?? '', 'pytorch_model.bin': 'x', 'tokenizer.json': gpt2Files['tokenizer.json'] ?? '' });
  cacheRepo(cache, 'google-bert/bert-base-uncased', 'd'.repeat(40), { 'config.json': '{"model_type": "bert"}', 'vocab.txt': '[UNK]\n' });
  cacheRepo(cache, 'owner/partial', 'e'.repeat(40), { 'config.json': gpt2Files['config.json'] ?? '', 'tokenizer.json': gpt2Files['tokenizer.json'] ?? '' }, { incomplete: ['model.safetensors'] });
  mkdirSync(join(cache, 'datasets--owner--data', 'snapshots'), { recursive: true });
  writeFileSync(join(cache, 'version.txt'), '1');
});

describe('hfHubCacheDir', () => {
  it('follows huggingface_hub: HF_HUB_CACHE, then HF_HOME/hub, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(hfHubCacheDir({ HF_HUB_CACHE: '/x/hub', HF_HOME: '/y' })).toBe('/x/hub');
    expect(hfHubCacheDir({ HUGGINGFACE_HUB_CACHE: '/old/hub' })).toBe('/old/hub');
    expect(hfHubCacheDir({ HF_HOME: '/y' })).toBe('/y/hub');
    expect(hfHubCacheDir({ HF_HOME: '~/hf' })).toBe(join(homedir(), 'hf', 'hub'));
    expect(hfHubCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/huggingface/hub');
    expect(hfHubCacheDir({})).toBe(join(homedir(), '.cache', 'huggingface', 'hub'));
  });
});

describe('listHfCache', () => {
  it('lists GPT-2 models as importable and the rest with the reason', async () => {
    const listing = await listHfCache(cache);
    expect(listing.exists).toBe(true);
    const byRepo = Object.fromEntries(listing.repos.map((r) => [r.repo, r]));
    expect(Object.keys(byRepo).sort()).toEqual(['google-bert/bert-base-uncased', 'gpt2', 'openai-community/gpt2', 'owner/partial', 'owner/pickled']);
    const gpt2 = byRepo['openai-community/gpt2'];
    expect(gpt2).toMatchObject({ importable: true, revision: REV, refs: ['main'], importedAs: [] });
    expect(gpt2?.config).toMatchObject({ nLayer: 1, nEmbd: 16 });
    expect(gpt2?.sizeBytes).toBe(Object.values(gpt2Files).reduce((s, b) => s + b.byteLength, 0));
    expect(byRepo['owner/pickled']?.reason).toMatch(/pickle weights \(pytorch_model\.bin\)/);
    expect(byRepo['google-bert/bert-base-uncased']?.reason).toBe('not a GPT-2 model (model_type "bert")');
    expect(byRepo['owner/partial']?.reason).toMatch(/model\.safetensors is still downloading/);
    expect(byRepo.gpt2?.reason).toMatch(/no model\.safetensors/);
    expect(await listHfCache(join(cache, 'nope'))).toEqual({ cacheDir: join(cache, 'nope'), exists: false, repos: [] });
  });

  it('finds a catalog model by its alias or old name, preferring an importable snapshot', async () => {
    const listing = await listHfCache(cache);
    expect(findCachedRepo(listing, 'gpt2')?.repo).toBe('openai-community/gpt2');
    expect(findCachedRepo(listing, 'openai-community/gpt2')?.repo).toBe('openai-community/gpt2');
    expect(findCachedRepo(listing, 'owner/pickled')?.importable).toBe(false);
    expect(findCachedRepo(listing, 'owner/none')).toBeUndefined();
  });
});

describe('importFromHfCache', () => {
  it('imports a symlinked snapshot by hard-linking its blobs, and the listing then shows it imported', async () => {
    const home = tempDir();
    const store = new ModelStore(home);
    const model = await importFromHfCache(store, 'gpt2', { cacheDir: cache });
    expect(model.id).toBe('gpt2');
    expect(model.weightsLinked).toBe(true);
    expect(model.origin).toMatchObject({ kind: 'hf-cache', repo: 'openai-community/gpt2', revision: REV });
    const blob = join(cache, 'models--openai-community--gpt2', 'blobs', createHash('sha256').update(gpt2Files['model.safetensors'] as Buffer).digest('hex'));
    expect(statSync(join(model.dir, 'model.safetensors')).ino).toBe(statSync(blob).ino);
    expect(statSync(join(model.dir, 'onnx', 'model.safetensors')).ino).toBe(statSync(blob).ino);
    expect(readFileSync(join(model.dir, 'config.json'))).toEqual(gpt2Files['config.json']);
    const listing = await listHfCache(cache, store);
    expect(listing.repos.find((r) => r.repo === 'openai-community/gpt2')?.importedAs).toEqual(['gpt2']);
  });

  it('refuses what is not there or not importable, with the reason', async () => {
    const store = new ModelStore(tempDir());
    const missing = await importFromHfCache(store, 'owner/none', { cacheDir: cache }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EngineError);
    expect((missing as EngineError).kind).toBe('not_found');
    const pickled = await importFromHfCache(store, 'owner/pickled', { cacheDir: cache }).catch((e: unknown) => e);
    expect((pickled as EngineError).kind).toBe('refused');
    expect((pickled as EngineError).message).toContain('pytorch_model.bin');
    const noCache = await importFromHfCache(store, 'gpt2', { cacheDir: join(cache, 'nope') }).catch((e: unknown) => e);
    expect((noCache as EngineError).message).toContain('HF_HUB_CACHE');
    expect(store.list()).toEqual([]);
  });
});
