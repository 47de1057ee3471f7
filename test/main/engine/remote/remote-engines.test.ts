/**
 * Remote engines as a model source: models of every configured engine under
 * remote:<engine>/<model> ids, an engine that is down listed as a problem
 * rather than failing the list, keys fetched from the keychain lookup only for
 * engines that have one, and generation by id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteEngines } from '../../../../src/main/engine/remote/remote-engines';
import { GenerationParams } from '../../../../src/shared/api';
import { RemoteEngineConfig, type RemoteEngineConfigInput } from '../../../../src/shared/remote-engines';
import { RemoteStandin } from '../../../helpers/remote-standin';

const standins: RemoteStandin[] = [];
afterEach(async () => {
  await Promise.all(standins.splice(0).map((s) => s.close()));
});

function source(engines: RemoteEngineConfigInput[], keys: Record<string, string> = {}) {
  const lookups: string[] = [];
  let configs = engines.map((e) => RemoteEngineConfig.parse(e));
  return {
    lookups,
    set: (next: RemoteEngineConfigInput[]) => (configs = next.map((e) => RemoteEngineConfig.parse(e))),
    source: {
      engines: () => configs,
      apiKey: async (name: string) => {
        lookups.push(name);
        return keys[name];
      },
    },
  };
}

describe('RemoteEngines', () => {
  it('lists the models of every engine as remote ids, and an unreachable one as a problem', async () => {
    const vllm = await RemoteStandin.start('vllm', { apiKey: 'k1' });
    const llama = await RemoteStandin.start('llama.cpp');
    standins.push(vllm, llama);
    const { source: s, lookups } = source(
      [
        { name: 'lab', baseUrl: vllm.origin, hasApiKey: true },
        { name: 'laptop', baseUrl: llama.origin },
        { name: 'gone', baseUrl: 'http://127.0.0.1:9', timeouts: { connectMs: 500 } },
      ],
      { lab: 'k1' },
    );
    const { models, problems } = await new RemoteEngines(s).listModels();
    expect(models).toEqual([
      { id: 'remote:lab/gpt2-large', engine: 'lab', model: 'gpt2-large', ownedBy: 'vllm', contextLength: 1024 },
      { id: 'remote:laptop/gpt2-large-f16.gguf', engine: 'laptop', model: 'gpt2-large-f16.gguf', ownedBy: 'llamacpp', contextLength: 1024 },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.engine).toBe('gone');
    expect(problems[0]?.message).toMatch(/^remote engine "gone" \(http:\/\/127\.0\.0\.1:9\): /);
    expect(lookups).toEqual(['lab']);
  });

  it('generates by remote id, and says which engine is missing', async () => {
    const vllm = await RemoteStandin.start('vllm');
    standins.push(vllm);
    const { source: s } = source([{ name: 'lab', baseUrl: vllm.origin }]);
    const engines = new RemoteEngines(s);
    const result = await engines.complete('remote:lab/gpt2-large', { prompt: 'The lighthouse keeper', params: GenerationParams.parse({ maxNewTokens: 4, numReturnSequences: 1 }) });
    expect(result.sequences[0]?.text).toBe(' was a café owner');
    expect(vllm.completionBodies[0]?.model).toBe('gpt2-large');
    await expect(engines.resolve('remote:other/gpt2')).rejects.toMatchObject({ kind: 'not_found', message: expect.stringContaining('no remote engine named "other"') });
    await expect(engines.resolve('gpt2')).rejects.toMatchObject({ kind: 'bad_input' });
  });

  it('keeps one client per engine until its settings change (the detected server kind is kept)', async () => {
    const vllm = await RemoteStandin.start('vllm');
    standins.push(vllm);
    const { source: s, set } = source([{ name: 'lab', baseUrl: vllm.origin }]);
    const engines = new RemoteEngines(s);
    const first = (await engines.resolve('remote:lab/x')).client;
    expect((await engines.resolve('remote:lab/x')).client).toBe(first);
    set([{ name: 'lab', baseUrl: vllm.origin, kind: 'vllm' }]);
    expect((await engines.resolve('remote:lab/x')).client).not.toBe(first);
  });
});
