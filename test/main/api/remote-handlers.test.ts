/**
 * Remote engines in the API: keys are stored only as the keychain's ciphertext (never plain text in
 * the database file), the environment variable wins, a keyring-less Linux refuses to store; engines
 * are added, renamed (the key moves) and removed; a server that drops the stream mid-way ends the
 * generation with the text that arrived and a warning.
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteArea } from '../../../src/main/api/remote-handlers';
import { createRemoteKeyStore, type KeyVault } from '../../../src/main/api/remote-keys';
import { ApiError, GenerationParams } from '../../../src/shared/api';
import { RemoteStandin, readRecording } from '../../helpers/remote-standin';
import { useDatabaseFixture } from '../history/database-fixture';

const openDatabase = useDatabaseFixture();
const standins: RemoteStandin[] = [];
afterEach(async () => {
  for (const standin of standins.splice(0)) await standin.close();
});

/** A stand-in keychain: reversible, and its output never contains the plain text. */
function fakeVault(status: Awaited<ReturnType<KeyVault['status']>> = { canStore: true }): KeyVault {
  const flip = (bytes: Buffer): Buffer => Buffer.from(bytes.map((b) => b ^ 0x5a));
  return {
    status: async () => status,
    encrypt: async (plain) => Buffer.concat([Buffer.from('v10'), flip(Buffer.from(plain, 'utf8'))]),
    decrypt: async (ciphertext) => ({ plain: flip(ciphertext.subarray(3)).toString('utf8'), reEncrypt: false }),
  };
}

const KEY = 'sk-very-secret-key-1234567890';

describe('remote engine keys', () => {
  it('a stored key is only ciphertext in the database file, and comes back decrypted', async () => {
    const { database, file } = openDatabase();
    const keys = createRemoteKeyStore({ env: {}, vault: fakeVault(), secrets: database.secrets });
    const area = createRemoteArea({ settings: database.settings, keys });
    await area.handlers['remoteEngines.save']({ engine: { name: 'lab', baseUrl: 'http://gpu-box:8000/v1', kind: 'vllm', timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 } } });
    expect(await area.handlers['remoteEngines.setKey']({ name: 'lab', key: KEY })).toMatchObject({ hasApiKey: true, keySource: 'keychain' });
    expect(await keys.get('lab')).toBe(KEY);
    database.close();
    const raw = new Database(file, { readonly: true });
    const everything = JSON.stringify([raw.prepare('SELECT * FROM secrets').all(), raw.prepare('SELECT * FROM settings').all()]);
    raw.close();
    expect(everything).not.toContain(KEY);
    for (const suffix of ['', '-wal']) {
      let bytes = '';
      try {
        bytes = readFileSync(file + suffix, 'latin1');
      } catch {
        continue;
      }
      expect(bytes.includes(KEY)).toBe(false);
    }
  });

  it('the environment variable wins over a stored key, and serve mode (no vault) refuses to store one', async () => {
    const { database } = openDatabase();
    const env: NodeJS.ProcessEnv = { INKWELL_REMOTE_KEY_LAB_GPU: 'from-env' };
    const inApp = createRemoteKeyStore({ env, vault: fakeVault(), secrets: database.secrets });
    await inApp.set('lab-gpu', 'stored');
    expect([inApp.source('lab-gpu'), await inApp.get('lab-gpu')]).toEqual(['environment', 'from-env']);
    delete env.INKWELL_REMOTE_KEY_LAB_GPU;
    expect([inApp.source('lab-gpu'), await inApp.get('lab-gpu')]).toEqual(['keychain', 'stored']);

    const serve = createRemoteKeyStore({ env: {} });
    expect(await serve.storage()).toMatchObject({ canStore: false, reason: expect.stringMatching(/INKWELL_REMOTE_KEY_<NAME>/) });
    await expect(serve.set('lab', 'x')).rejects.toMatchObject({ kind: 'refused', message: expect.stringContaining('INKWELL_REMOTE_KEY_LAB') });
  });

  it('a Linux keychain that would use basic_text is refused, with the reason', async () => {
    const { database } = openDatabase();
    const keys = createRemoteKeyStore({ env: {}, vault: fakeVault({ canStore: false, reason: 'no OS keyring was found' }), secrets: database.secrets });
    await expect(keys.set('lab', KEY)).rejects.toBeInstanceOf(ApiError);
    expect(database.secrets.names()).toEqual([]);
  });
});

describe('remote engines in Settings', () => {
  it('adds, refuses a duplicate name, renames (moving the key), and removes with its key and the default model', async () => {
    const { database } = openDatabase();
    const keys = createRemoteKeyStore({ env: {}, vault: fakeVault(), secrets: database.secrets });
    const { handlers } = createRemoteArea({ settings: database.settings, keys });
    const engine = { name: 'lab', baseUrl: 'http://gpu-box:8000/v1', kind: 'auto' as const, timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 } };
    await handlers['remoteEngines.save']({ engine });
    await expect(Promise.resolve().then(() => handlers['remoteEngines.save']({ engine }))).rejects.toMatchObject({ kind: 'invalid_request' });
    await handlers['remoteEngines.setKey']({ name: 'lab', key: KEY });
    expect(await handlers['remoteEngines.save']({ engine: { ...engine, name: 'team' }, previousName: 'lab' })).toMatchObject({ name: 'team', keySource: 'keychain' });
    expect(await keys.get('team')).toBe(KEY);
    expect(keys.source('lab')).toBeNull();
    database.settings.set({ defaultModelId: 'remote:team/gpt2-large' });
    handlers['remoteEngines.remove']({ name: 'team' });
    expect((await handlers['remoteEngines.list']({})).engines).toEqual([]);
    expect(database.secrets.names()).toEqual([]);
    expect(database.settings.get().defaultModelId).toBeNull();
  });
});

describe('generation on a remote engine', () => {
  it('a server that drops the stream mid-way ends the generation with the text that arrived and a warning', async () => {
    const { database } = openDatabase();
    const vllm = await RemoteStandin.start('vllm');
    standins.push(vllm);
    vllm.completions.push({ fixture: 'completions-stream.sse', delivery: { kind: 'drop', events: 2 } });
    const area = createRemoteArea({ settings: database.settings, keys: createRemoteKeyStore({ env: {} }) });
    await area.handlers['remoteEngines.save']({ engine: { name: 'lab', baseUrl: vllm.origin, kind: 'vllm', timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000 } } });
    const streamed: string[] = [];
    const outcome = await area.generate(
      { modelId: 'remote:lab/gpt2', prompt: 'The lighthouse', memory: '', params: GenerationParams.parse({ maxNewTokens: 16, numReturnSequences: 1, seed: 1 }) },
      { onDelta: (_sequence, text) => streamed.push(text) },
    );
    expect(streamed.join('').length).toBeGreaterThan(0);
    expect(outcome.sequences[0]).toMatchObject({ text: streamed.join(''), finishReason: 'cancelled' });
    expect(outcome).toMatchObject({ device: 'remote', precision: null, warning: expect.stringMatching(/remote engine "lab".*(ended|closed|disconnected|went away|before)/i) });
  });

  /** One remote generation of 4 tokens on a stand-in of `flavour` with engine kind `kind`. */
  async function generateOn(flavour: 'vllm' | 'llama.cpp', kind: 'auto' | 'tgi', answer?: Parameters<RemoteStandin['completions']['push']>[0]) {
    const { database } = openDatabase();
    const server = await RemoteStandin.start(flavour);
    standins.push(server);
    if (answer) server.completions.push(answer);
    const area = createRemoteArea({ settings: database.settings, keys: createRemoteKeyStore({ env: {} }) });
    await area.handlers['remoteEngines.save']({ engine: { name: 'lab', baseUrl: server.origin, kind, timeouts: { connectMs: 2000, firstByteMs: 2000, idleMs: 2000 } } });
    const outcome = await area.generate({ modelId: 'remote:lab/gpt2-large', prompt: 'The lighthouse keeper', memory: '', params: GenerationParams.parse({ maxNewTokens: 4, numReturnSequences: 1, seed: 1, topK: 0 }) }, {});
    return { outcome, server };
  }

  /** The recording's tokens and log-probabilities, read independently of the client. */
  function recordedTokens(flavour: 'vllm' | 'llama.cpp'): { texts: string[]; logprobs: number[]; ids: number[] } {
    const out = { texts: [] as string[], logprobs: [] as number[], ids: [] as number[] };
    for (const line of readRecording(flavour, 'completions-stream-logprobs.sse').split('\n')) {
      if (!line.startsWith('data: {')) continue;
      const lp = (JSON.parse(line.slice(6)) as { choices: { logprobs: Record<string, unknown> | null }[] }).choices[0]?.logprobs;
      if (!lp) continue;
      if (Array.isArray(lp.content)) {
        for (const t of lp.content as { id: number; token: string; logprob: number }[]) {
          out.texts.push(t.token);
          out.logprobs.push(t.logprob);
          out.ids.push(t.id);
        }
      } else {
        out.texts.push(...(lp.tokens as string[]));
        out.logprobs.push(...(lp.token_logprobs as number[]));
      }
    }
    return out;
  }

  it("vLLM: each candidate carries the server's token log-probabilities and texts (no ids: the completions format has none)", async () => {
    const { outcome, server } = await generateOn('vllm', 'auto');
    expect(server.completionBodies[0]?.logprobs).toBe(1);
    const recorded = recordedTokens('vllm');
    expect(outcome.sequences[0]).toMatchObject({ text: ' was a café owner', tokenIds: [], tokenLogprobs: recorded.logprobs, tokenTexts: recorded.texts });
  });

  it("llama.cpp's server: the candidate also carries the token ids it sends", async () => {
    const { outcome } = await generateOn('llama.cpp', 'auto');
    const recorded = recordedTokens('llama.cpp');
    expect(recorded.ids).toHaveLength(4);
    expect(outcome.sequences[0]).toMatchObject({ tokenIds: recorded.ids, tokenLogprobs: recorded.logprobs, tokenTexts: recorded.texts });
  });

  it('a server that returns no logprobs gives candidates without them (the UI says so), and TGI is not asked for a field it lacks', async () => {
    const plain = await generateOn('vllm', 'auto', { fixture: 'completions-stream.sse' });
    expect(plain.outcome.sequences[0]?.text).toBe(' was a café owner');
    expect(plain.outcome.sequences[0]?.tokenLogprobs).toBeUndefined();
    expect(plain.outcome.sequences[0]?.tokenTexts).toBeUndefined();
    const tgi = await generateOn('vllm', 'tgi', { fixture: 'completions-stream.sse' });
    expect(tgi.server.completionBodies[0]).not.toHaveProperty('logprobs');
  });
});
