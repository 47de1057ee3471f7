/**
 * Pulling from the Hub's HTTP API against a fake Hub on 127.0.0.1
 * (test/helpers/fake-hub.ts) that serves generated GPT-2 repositories: a full
 * pull, cut transfers resumed (within a pull and by a later one), a server
 * that ignores Range, a damaged file, 404, 401 without and success with a
 * token, the token never sent to the CDN, a renamed repository, 5xx, a stall,
 * a full disk, cancellation, refusals (pickle-only, not GPT-2) and the BERT
 * tokenizer files. After every failure the store holds no model.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../src/main/engine/checkpoint';
import { HubError, type HubConnection } from '../../../../src/main/engine/models/hub-http';
import { downloadDir, pull, resolvePullTarget, type PullOptions, type PullProgress } from '../../../../src/main/engine/models/pull';
import { ModelStore, type OnnxBuilder } from '../../../../src/main/engine/models/store';
import { EngineError } from '../../../../src/main/engine/types';
import type { WeightDtype } from '../../../../src/main/engine/types';
import { encodeSafetensors, makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';
import { repoFilesFromFolder, startFakeHub, type FakeHub } from '../../../helpers/fake-hub';
import { useTempDirs } from '../../../helpers/tmp';

const tempDir = useTempDirs('inkwell-pull-');
const REPO = 'owner/tiny';
const TOKEN = 'hf_test_token_0123456789';
const GENERATION_CONFIG = '{"bos_token_id": 50256, "eos_token_id": 50256}';

let hub: FakeHub;
let checkpoint: string;
let files: Record<string, Buffer>;

/** A graph builder that writes placeholder graphs: these tests are about the files, and the real build is tested elsewhere. */
const stubBuilder: OnnxBuilder = async (_ckpt, outDir) => {
  mkdirSync(outDir, { recursive: true });
  const { writeFileSync } = await import('node:fs');
  writeFileSync(join(outDir, 'model.onnx'), 'decoder');
  writeFileSync(join(outDir, 'model_all_logits.onnx'), 'full');
  return { decoderPath: join(outDir, 'model.onnx'), fullLogitsPath: join(outDir, 'model_all_logits.onnx') };
};

function store(home = tempDir(), freeDiskBytes?: () => Promise<number>): ModelStore {
  return new ModelStore(home, { buildOnnx: stubBuilder, ...(freeDiskBytes ? { freeDiskBytes } : {}) });
}

function connection(token?: string): HubConnection {
  return { endpoint: hub.url, ...(token ? { token } : {}), stallTimeoutMs: 2_000 };
}

const quick: Partial<PullOptions> = { retryDelayMs: () => 5 };

async function pullError(promise: Promise<unknown>): Promise<EngineError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

const weightRequests = (server: 'hub' | 'cdn' = 'cdn') => hub.requests.filter((r) => r.server === server && (server === 'cdn' || r.path.endsWith('model.safetensors')));

/** model.safetensors split in two shards and an index, as save_pretrained writes a large model. */
function shard(repoFiles: Record<string, Buffer>): Record<string, Buffer> {
  const buf = repoFiles['model.safetensors'] as Buffer;
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: WeightDtype; shape: number[]; data_offsets: [number, number] }>;
  const parts = [new Map<string, { dtype: WeightDtype; shape: number[]; bytes: Uint8Array }>(), new Map<string, { dtype: WeightDtype; shape: number[]; bytes: Uint8Array }>()];
  const weightMap: Record<string, string> = {};
  for (const [key, value] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const which = key.startsWith('h.') ? 1 : 0;
    parts[which]?.set(key, { dtype: value.dtype, shape: value.shape, bytes: buf.subarray(8 + n + value.data_offsets[0], 8 + n + value.data_offsets[1]) });
    weightMap[key] = `model-0000${which + 1}-of-00002.safetensors`;
  }
  return {
    'model-00001-of-00002.safetensors': encodeSafetensors(parts[0] ?? new Map()),
    'model-00002-of-00002.safetensors': encodeSafetensors(parts[1] ?? new Map()),
    'model.safetensors.index.json': Buffer.from(JSON.stringify({ metadata: {}, weight_map: weightMap })),
  };
}

beforeAll(async () => {
  checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 5 });
  files = repoFilesFromFolder(checkpoint);
  hub = await startFakeHub({
    token: TOKEN,
    renamed: { 'old-owner/tiny': REPO },
    repos: {
      [REPO]: {
        files: {
          ...files,
          'generation_config.json': GENERATION_CONFIG,
          'README.md': '# tiny',
          'pytorch_model.bin': 'never fetched',
          'vocab.json': '{}',
          'merges.txt': '',
        },
      },
      'owner/private': { private: true, files },
      'owner/pickled': { files: { 'config.json': files['config.json'] ?? '', 'pytorch_model.bin': 'x', 'tokenizer.json': files['tokenizer.json'] ?? '' } },
      'owner/bert': { files: { ...files, 'config.json': '{"model_type": "bert"}' } },
      'owner/sharded': { files: { ...shard(files), 'config.json': files['config.json'] ?? '', 'tokenizer.json': files['tokenizer.json'] ?? '' } },
      'google-bert/bert-base-uncased': { files: { 'vocab.txt': '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n', 'tokenizer_config.json': '{"do_lower_case": true}', 'config.json': '{}' } },
    },
  });
});

afterAll(() => hub.close());

beforeEach(() => {
  hub.requests.length = 0;
  for (const repo of [REPO, 'owner/private']) for (const path of Object.keys(files)) hub.fault(repo, path, undefined);
});

describe('pull from the Hub', () => {
  it('pulls only the needed files, verifies them, imports the model and removes the download folder', async () => {
    const s = store();
    const progress: PullProgress[] = [];
    const result = await pull(s, REPO, { connection: connection(), onProgress: (p) => progress.push(p), ...quick });
    if (result.kind !== 'model') throw new Error('expected a model');
    expect(result.model.id).toBe('tiny');
    expect(result.model.origin).toEqual({ kind: 'hub', repo: REPO, endpoint: hub.url, revision: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(result.model.weightsLinked).toBe(true);
    expect(readFileSync(join(result.model.dir, 'model.safetensors')).equals(files['model.safetensors'] as Buffer)).toBe(true);
    expect((await readCheckpoint(result.model.dir)).config.nLayer).toBe(1);
    const fetched = hub.requests.filter((r) => r.server === 'hub' && r.path.includes('/resolve/')).map((r) => r.path.split('/').pop()).sort();
    expect(fetched).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(hub.requests.filter((r) => r.server === 'cdn')).toHaveLength(1);
    expect(existsSync(downloadDir(s.home, REPO))).toBe(false);
    expect(s.list().map((m) => m.id)).toEqual(['tiny']);

    const phases = progress.map((p) => p.phase);
    expect(phases[0]).toBe('listing');
    expect(phases).toContain('downloading');
    expect(phases.at(-1)).toBe('importing');
    const downloading = progress.filter((p) => p.phase === 'downloading');
    const total = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json'].reduce((sum, name) => sum + (files[name]?.byteLength ?? 0), 0)
      + Buffer.byteLength(GENERATION_CONFIG);
    expect(downloading.at(-1)?.bytesDone).toBe(downloading.at(-1)?.bytesTotal);
    expect(downloading.at(-1)?.bytesTotal).toBe(total);
    for (const p of downloading) expect(p.bytesDone).toBeLessThanOrEqual(p.bytesTotal);
    for (let i = 1; i < downloading.length; i++) {
      if (downloading[i]?.bytesTotal === downloading[i - 1]?.bytesTotal) {
        expect(downloading[i]?.bytesDone).toBeGreaterThanOrEqual(downloading[i - 1]?.bytesDone ?? 0);
      }
    }
  });

  it('a transfer cut in the middle resumes with Range + If-Range and ends verified', async () => {
    hub.fault(REPO, 'model.safetensors', { cutAfterBytes: 1_000_000, times: 1 });
    const s = store();
    const result = await pull(s, REPO, { connection: connection(), ...quick });
    expect(result.kind).toBe('model');
    const cdn = weightRequests();
    expect(cdn.map((r) => r.status)).toEqual([200, 206]);
    // What arrived before the cut (bytes still in the stream's buffer when the socket closed are dropped, not trusted).
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[1]?.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(1_000_000);
    expect(cdn[1]?.ifRange).toMatch(/^"[0-9a-f]{64}"$/);
    if (result.kind === 'model') expect(readFileSync(join(result.model.dir, 'model.safetensors')).equals(files['model.safetensors'] as Buffer)).toBe(true);
  });

  it('a pull that gives up keeps the partial file, and the next pull (a restart) resumes it', async () => {
    hub.fault(REPO, 'model.safetensors', { cutAfterBytes: 1_500_000, times: 1 });
    const home = tempDir();
    const error = await pullError(pull(store(home), REPO, { connection: connection(), retries: 0, ...quick }));
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).reason).toBe('network');
    expect(error.message).toContain('the partial file is kept');
    const partial = join(downloadDir(home, REPO), 'model.safetensors.partial');
    const kept = statSync(partial).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(1_500_000);
    expect(store(home).list()).toEqual([]);

    hub.requests.length = 0;
    const progress: PullProgress[] = [];
    const result = await pull(store(home), REPO, { connection: connection(), onProgress: (p) => progress.push(p), ...quick });
    expect(result.kind === 'model' && result.resumedBytes).toBeGreaterThanOrEqual(kept);
    for (const p of progress.filter((e) => e.phase === 'downloading')) expect(p.bytesDone).toBeLessThanOrEqual(p.bytesTotal);
    expect(weightRequests().map((r) => [r.status, r.range])).toEqual([[206, `bytes=${kept}-`]]);
    // config.json and the tokenizer were finished and verified in the first run: not fetched again.
    expect(hub.requests.filter((r) => r.path.endsWith('/config.json') || r.path.endsWith('/tokenizer.json'))).toHaveLength(0);
  });

  it('progress stays within the total when a resumed pull fetches config.json again beside a partial weights file', async () => {
    hub.fault(REPO, 'model.safetensors', { cutAfterBytes: 1_500_000, times: 1 });
    const home = tempDir();
    await pullError(pull(store(home), REPO, { connection: connection(), retries: 0, ...quick }));
    rmSync(join(downloadDir(home, REPO), 'config.json.done.json'));
    const progress: PullProgress[] = [];
    await pull(store(home), REPO, { connection: connection(), onProgress: (p) => progress.push(p), ...quick });
    const downloading = progress.filter((e) => e.phase === 'downloading');
    expect(downloading.length).toBeGreaterThan(0);
    for (const p of downloading) expect(p.bytesDone, `${p.file}`).toBeLessThanOrEqual(p.bytesTotal);
  });

  it('a server that ignores Range (200 instead of 206) is read again from byte 0, correctly', async () => {
    hub.fault(REPO, 'model.safetensors', { cutAfterBytes: 700_000, times: 1 });
    const home = tempDir();
    await pullError(pull(store(home), REPO, { connection: connection(), retries: 0, ...quick }));
    const kept = statSync(join(downloadDir(home, REPO), 'model.safetensors.partial')).size;
    expect(kept).toBeGreaterThan(0);
    hub.fault(REPO, 'model.safetensors', { ignoreRange: true });
    hub.requests.length = 0;
    const result = await pull(store(home), REPO, { connection: connection(), ...quick });
    expect(weightRequests().map((r) => [r.status, r.range])).toEqual([[200, `bytes=${kept}-`]]);
    if (result.kind !== 'model') throw new Error('expected a model');
    expect(readFileSync(join(result.model.dir, 'model.safetensors')).equals(files['model.safetensors'] as Buffer)).toBe(true);
  });

  it('a wrong hash is refused, the damaged file deleted, and no model installed', async () => {
    hub.fault(REPO, 'model.safetensors', { corrupt: true });
    const home = tempDir();
    const error = await pullError(pull(store(home), REPO, { connection: connection(), ...quick }));
    expect((error as HubError).reason).toBe('hash_mismatch');
    expect(error.kind).toBe('bad_input');
    expect(error.message).toMatch(/model\.safetensors: the downloaded bytes have sha256 [0-9a-f]{64}, but the repository lists [0-9a-f]{64}/);
    expect(existsSync(join(downloadDir(home, REPO), 'model.safetensors.partial'))).toBe(false);
    expect(existsSync(join(downloadDir(home, REPO), 'model.safetensors'))).toBe(false);
    expect(store(home).list()).toEqual([]);
  });

  it('404: an unknown repository', async () => {
    const home = tempDir();
    const error = await pullError(pull(store(home), 'owner/missing', { connection: connection(), ...quick }));
    expect(error.kind).toBe('not_found');
    expect(error.message).toMatch(/owner\/missing was not found on 127\.0\.0\.1:\d+ \(HTTP 404: Repository not found\)/);
    expect(existsSync(join(home, 'models'))).toBe(false);
  });

  it('401 without a token; with HF_TOKEN it succeeds, and the token never reaches the CDN', async () => {
    const home = tempDir();
    const error = await pullError(pull(store(home), 'owner/private', { connection: connection(), ...quick }));
    expect((error as HubError).reason).toBe('unauthorized');
    expect(error.message).toContain('set HF_TOKEN');
    const wrong = await pullError(pull(store(home), 'owner/private', { connection: connection('hf_wrong'), ...quick }));
    expect(wrong.message).toMatch(/refused HF_TOKEN .*HTTP 401: Invalid credentials/);
    expect(wrong.message).not.toContain('hf_wrong');

    hub.requests.length = 0;
    const result = await pull(store(home), 'owner/private', { connection: connection(TOKEN), ...quick });
    expect(result.kind).toBe('model');
    const toHub = hub.requests.filter((r) => r.server === 'hub');
    expect(toHub.length).toBeGreaterThan(0);
    expect(toHub.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    const toCdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(toCdn).toHaveLength(1);
    expect(toCdn[0]?.authorization).toBeUndefined();
  });

  it('takes an alias, owner/name or a repository page URL', () => {
    expect(resolvePullTarget('gpt2-large')).toEqual({ kind: 'model', repo: 'openai-community/gpt2-large', defaultId: 'gpt2-large' });
    expect(resolvePullTarget('someone/my-gpt2')).toEqual({ kind: 'model', repo: 'someone/my-gpt2', defaultId: 'my-gpt2' });
    expect(resolvePullTarget('https://huggingface.co/someone/my-gpt2/')).toEqual({ kind: 'model', repo: 'someone/my-gpt2', defaultId: 'my-gpt2' });
    expect(resolvePullTarget('bert-base-uncased').kind).toBe('tokenizer');
    expect(() => resolvePullTarget('https://huggingface.co/a/b/c')).toThrow(EngineError);
  });

  it('follows a renamed repository (a relative redirect on the same host)', async () => {
    const result = await pull(store(), 'old-owner/tiny', { connection: connection(), ...quick });
    expect(result.kind === 'model' && result.model.id).toBe('tiny');
    expect(hub.requests.some((r) => r.status === 307)).toBe(true);
  });

  it('5xx: retried, then a clear error naming the status', async () => {
    hub.fault(REPO, 'config.json', { status: 503 });
    const home = tempDir();
    const error = await pullError(pull(store(home), REPO, { connection: connection(), retries: 2, ...quick }));
    expect((error as HubError).reason).toBe('server');
    expect(error.message).toMatch(/failed to serve config\.json \(HTTP 503\).*gave up after 3 attempts/);
    expect(hub.requests.filter((r) => r.path.endsWith('config.json'))).toHaveLength(3);
    expect(store(home).list()).toEqual([]);
  });

  it('a stalled transfer times out and is resumed', async () => {
    hub.fault(REPO, 'model.safetensors', { stall: true, times: 1 });
    const result = await pull(store(), REPO, { connection: { ...connection(), stallTimeoutMs: 300 }, ...quick });
    expect(result.kind).toBe('model');
    expect(weightRequests()).toHaveLength(2);
  });

  it('free disk is checked before the weights are downloaded', async () => {
    const home = tempDir();
    const error = await pullError(pull(store(home, async () => 2_000_000), REPO, { connection: connection(), ...quick }));
    expect(error.kind).toBe('refused');
    expect(error.message).toMatch(/not enough disk space for downloading owner\/tiny: it needs [\d.]+ MiB .* and 1\.9 MiB is free/);
    expect(weightRequests()).toEqual([]);
    expect(store(home).list()).toEqual([]);
  });

  it('cancelling stops the download, keeps the part for a resume, installs nothing', async () => {
    hub.fault(REPO, 'model.safetensors', { stall: true, times: 1 });
    const home = tempDir();
    const abort = new AbortController();
    const pending = pull(store(home), REPO, {
      connection: connection(),
      signal: abort.signal,
      onProgress: (p) => {
        if (p.file === 'tokenizer.json' || p.file === 'model.safetensors') setTimeout(() => abort.abort(), 50);
      },
      ...quick,
    });
    const error = await pullError(pending);
    expect(error.kind).toBe('cancelled');
    expect(store(home).list()).toEqual([]);
    expect(existsSync(downloadDir(home, REPO))).toBe(true);
  });

  it('refuses a repository with only pytorch_model.bin (with the conversion command) and one that is not GPT-2', async () => {
    const home = tempDir();
    const pickled = await pullError(pull(store(home), 'owner/pickled', { connection: connection(), ...quick }));
    expect(pickled.kind).toBe('refused');
    expect(pickled.message).toContain('pytorch_model.bin');
    expect(pickled.message).toContain("from_pretrained('owner/pickled').save_pretrained('OUT', safe_serialization=True)");
    expect(hub.requests.filter((r) => r.path.includes('/resolve/'))).toEqual([]);

    const bert = await pullError(pull(store(home), 'owner/bert', { connection: connection(), ...quick }));
    expect(bert.kind).toBe('refused');
    expect(bert.message).toContain('model_type is "bert"');
    expect(weightRequests()).toEqual([]);
    expect(store(home).list()).toEqual([]);
  });

  it('refuses an id already in use before contacting the Hub', async () => {
    const s = store();
    await pull(s, REPO, { connection: connection(), ...quick });
    hub.requests.length = 0;
    const error = await pullError(pull(s, REPO, { connection: connection(), ...quick }));
    expect(error.message).toContain('already exists');
    expect(hub.requests).toEqual([]);
    const other = await pull(s, REPO, { id: 'tiny-2', connection: connection(), ...quick });
    expect(other.kind === 'model' && other.model.id).toBe('tiny-2');
  });

  it('pulls a sharded checkpoint: the index first, then the shards it names', async () => {
    const result = await pull(store(), 'owner/sharded', { connection: connection(), ...quick });
    if (result.kind !== 'model') throw new Error('expected a model');
    const ckpt = await readCheckpoint(result.model.dir);
    expect(ckpt.tensors.get('h.0.ln_1.weight')?.file).toBe(join(result.model.dir, 'model-00002-of-00002.safetensors'));
    const order = hub.requests.filter((r) => r.server === 'hub' && r.path.includes('/resolve/')).map((r) => r.path.split('/').pop());
    expect(order.slice(0, 2).sort()).toEqual(['config.json', 'model.safetensors.index.json']);
    expect(order).toContain('model-00001-of-00002.safetensors');
  });

  it('pulls bert-base-uncased as tokenizer files into <home>/tokenizers/bert-base-uncased', async () => {
    const home = tempDir();
    const result = await pull(store(home), 'bert-base-uncased', { connection: connection(), ...quick });
    expect(result).toMatchObject({ kind: 'tokenizer', repo: 'google-bert/bert-base-uncased', dir: join(home, 'tokenizers', 'bert-base-uncased') });
    expect(readdirSync(join(home, 'tokenizers', 'bert-base-uncased')).sort()).toEqual(['inkwell-tokenizer.json', 'tokenizer_config.json', 'vocab.txt']);
    expect(readFileSync(join(home, 'tokenizers', 'bert-base-uncased', 'vocab.txt'), 'utf8')).toContain('[UNK]');
    expect(hub.requests.some((r) => r.path.endsWith('config.json') && !r.path.endsWith('tokenizer_config.json'))).toBe(false);
    // A second pull replaces the folder in one step.
    await pull(store(home), 'bert-base-uncased', { connection: connection(), ...quick });
    expect(readdirSync(join(home, 'tokenizers')).sort()).toEqual(['bert-base-uncased']);
  });
});

describe('pull onto a real full disk (a tiny tmpfs)', () => {
  const mounted: string[] = [];
  afterAll(() => {
    for (const dir of mounted) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  });

  it('ENOSPC while downloading: "disk is full", no model installed', async (ctx) => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      ctx.skip('cannot mount a tmpfs here (needs root on Linux); the injected ENOSPC tests in store-disk.test.ts cover the error mapping');
      return;
    }
    const home = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1536k', 'tmpfs', home], { stdio: 'ignore' });
    mounted.push(home);
    // The free-space check passes, as if another program filled the disk after it.
    const error = await pullError(pull(store(home, async () => Number.MAX_SAFE_INTEGER), REPO, { connection: connection(), ...quick }));
    expect(error.kind).toBe('refused');
    expect(error.message).toMatch(/the disk holding .* is full: downloading model\.safetensors stopped/);
    expect(existsSync(join(home, 'models')) ? readdirSync(join(home, 'models')) : []).toEqual([]);
  });
});
