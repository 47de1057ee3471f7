/**
 * The Hub connection rules: HF_ENDPOINT and HF_TOKEN as huggingface_hub reads
 * them, the token only for the endpoint's origin, repository ids, and the
 * tree listing's pagination (Link: rel="next") against the fake Hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HUB_ENDPOINT, hubConnectionFromEnv, mayCarryToken } from '../../../../src/main/engine/models/hub-http';
import { checkRepoId, listRepoFiles, resolveUrl } from '../../../../src/main/engine/models/hub-repo';
import { EngineError } from '../../../../src/main/engine/types';
import { gitBlobOid, startFakeHub, type FakeHub } from '../../../helpers/fake-hub';
import { TransferMeter } from '../../../../src/main/engine/models/transfer-meter';

let hub: FakeHub;
beforeAll(async () => {
  const files = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`file-${i}.txt`, `content ${i}`]));
  hub = await startFakeHub({ pageSize: 3, repos: { 'o/paged': { files: { ...files, 'w.safetensors': Buffer.alloc(10, 1) } } } });
});
afterAll(() => hub.close());

describe('hub connection', () => {
  it('reads HF_ENDPOINT (default the public Hub, trailing slash dropped) and HF_TOKEN or HUGGING_FACE_HUB_TOKEN', () => {
    expect(hubConnectionFromEnv({})).toEqual({ endpoint: DEFAULT_HUB_ENDPOINT });
    expect(hubConnectionFromEnv({ HF_ENDPOINT: 'https://mirror.example/hf/', HF_TOKEN: ' hf_x ' })).toEqual({ endpoint: 'https://mirror.example/hf', token: 'hf_x' });
    expect(hubConnectionFromEnv({ HUGGING_FACE_HUB_TOKEN: 'hf_old' }).token).toBe('hf_old');
    expect(() => hubConnectionFromEnv({ HF_ENDPOINT: 'not a url' })).toThrow(EngineError);
    expect(() => hubConnectionFromEnv({ HF_ENDPOINT: 'file:///etc' })).toThrow(/http\(s\)/);
  });

  it('sends the token to the endpoint origin only, never to a redirect target elsewhere', () => {
    const connection = { endpoint: 'https://huggingface.co', token: 'hf_x' };
    expect(mayCarryToken('https://huggingface.co/gpt2/resolve/main/config.json', connection)).toBe(true);
    expect(mayCarryToken('https://cdn-lfs.huggingface.co/repos/x', connection)).toBe(false);
    expect(mayCarryToken('http://huggingface.co/x', connection)).toBe(false);
    expect(mayCarryToken('https://huggingface.co:8443/x', connection)).toBe(false);
    expect(mayCarryToken('https://huggingface.co/x', { endpoint: 'https://huggingface.co' })).toBe(false);
  });

  it('accepts Hub repository ids and refuses paths', () => {
    for (const ok of ['gpt2', 'openai-community/gpt2', 'a.b/c_d-e']) expect(() => checkRepoId(ok)).not.toThrow();
    for (const bad of ['', '../etc', 'a/b/c', 'a--b/c', 'a/..', '/abs', 'a/b.git', 'sp ace/x', 'x'.repeat(97)]) expect(() => checkRepoId(bad), bad).toThrow(EngineError);
    expect(resolveUrl({ endpoint: 'https://h' }, 'o/r', 'sub dir/f#1.json')).toBe('https://h/o/r/resolve/main/sub%20dir/f%231.json');
  });

  it('follows the tree listing over its pages, with git blob ids and LFS sha256', async () => {
    const files = await listRepoFiles('o/paged', { endpoint: hub.url });
    expect(files.map((f) => f.path).sort()).toEqual([...Array.from({ length: 7 }, (_, i) => `file-${i}.txt`), 'w.safetensors']);
    expect(hub.requests.filter((r) => r.path.includes('/tree/'))).toHaveLength(3);
    expect(files.find((f) => f.path === 'file-0.txt')).toEqual({ path: 'file-0.txt', size: 9, gitOid: gitBlobOid(Buffer.from('content 0')) });
    expect(files.find((f) => f.path === 'w.safetensors')?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('TransferMeter', () => {
  it('measures speed over the last seconds and estimates the time left', () => {
    let now = 0;
    const meter = new TransferMeter(1000, 100, () => now);
    now = 1000;
    expect(meter.update(200)).toEqual({ bytesPerSecond: 100, secondsLeft: 8 });
    now = 2000;
    expect(meter.update(400).bytesPerSecond).toBe(150);
    // A stall: after the window passes with no bytes, the speed falls to 0 and no time left is claimed.
    now = 9000;
    meter.update(400);
    now = 15000;
    expect(meter.update(400)).toEqual({ bytesPerSecond: 0 });
  });
});
