/**
 * Remote engine settings and model ids: `remote:<engine>/<model>` where the
 * model may contain slashes, and base URLs that cannot carry a secret.
 */
import { describe, expect, it } from 'vitest';
import { RemoteEngineConfig, isRemoteModelId, parseRemoteModelId, remoteModelId } from '../../src/shared/remote-engines';

describe('remote model ids', () => {
  it('split at the first slash after the engine name, so server ids with slashes survive', () => {
    expect(parseRemoteModelId('remote:lab/gpt2-large')).toEqual({ engine: 'lab', model: 'gpt2-large' });
    expect(parseRemoteModelId('remote:lab/openai-community/gpt2-large')).toEqual({ engine: 'lab', model: 'openai-community/gpt2-large' });
    expect(remoteModelId({ engine: 'lab', model: 'openai-community/gpt2-large' })).toBe('remote:lab/openai-community/gpt2-large');
    expect(parseRemoteModelId(remoteModelId({ engine: 'gpu-1', model: 'gpt2.gguf' }))).toEqual({ engine: 'gpu-1', model: 'gpt2.gguf' });
  });

  it('reject ids that are not remote or have no engine or no model', () => {
    for (const id of ['gpt2', 'remote:', 'remote:lab', 'remote:lab/', 'remote:/gpt2', 'remote:la b/gpt2', `remote:lab/${'m'.repeat(257)}`]) {
      expect(parseRemoteModelId(id), id).toBeNull();
      expect(isRemoteModelId(id)).toBe(false);
    }
  });
});

describe('RemoteEngineConfig', () => {
  it('fills in the kind, key flag and timeouts', () => {
    expect(RemoteEngineConfig.parse({ name: 'lab', baseUrl: 'http://gpu-box:8000/v1' })).toEqual({
      name: 'lab',
      baseUrl: 'http://gpu-box:8000/v1',
      kind: 'auto',
      hasApiKey: false,
      timeouts: { connectMs: 10_000, firstByteMs: 120_000, idleMs: 60_000 },
    });
  });

  it.each([
    ['ftp://gpu-box/v1', /http:\/\/ or https:\/\//],
    ['gpu-box:8000', /http:\/\/ or https:\/\//],
    ['http://user:sk-secret@gpu-box:8000/v1', /API key in its own field/],
    ['http://gpu-box:8000/v1?api_key=sk-secret', /query or a fragment/],
  ])('refuses the base URL %s', (baseUrl, message) => {
    const result = RemoteEngineConfig.safeParse({ name: 'lab', baseUrl });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(message);
  });

  it('refuses an API key stored in the config itself', () => {
    expect(RemoteEngineConfig.safeParse({ name: 'lab', baseUrl: 'http://gpu:8000', apiKey: 'sk-x' }).success).toBe(false);
  });
});
