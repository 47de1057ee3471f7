/**
 * The remote-engine methods of the demo back end: engines kept in its Settings, keys "stored" as
 * a set of names (the demo has no keychain and never keeps a key), and a made-up model list, so
 * that the Remote engines panel can be developed and screenshotted without a server.
 */
import { ApiError, type MethodName, type MethodParsedRequest, type MethodResponse, type Settings } from '../../../shared/api';
import { remoteKeyVariable, remoteModelId, type RemoteEngineInfo, type RemoteEngineSettings } from '../../../shared/remote-engines';

type RemoteMethod = Extract<MethodName, `remoteEngines.${string}`>;
type RemoteHandlers = { [M in RemoteMethod]: (params: MethodParsedRequest<M>) => MethodResponse<M> };

/** Handlers over the demo's settings (read and written through the two callbacks). */
export function mockRemoteHandlers(settings: () => Settings, update: (engines: RemoteEngineSettings[]) => void): RemoteHandlers {
  const keyed = new Set<string>();
  const info = (engine: RemoteEngineSettings): RemoteEngineInfo => ({
    ...engine,
    hasApiKey: keyed.has(engine.name),
    keySource: keyed.has(engine.name) ? 'keychain' : null,
    keyVariable: remoteKeyVariable(engine.name),
  });
  const find = (name: string): RemoteEngineSettings => {
    const engine = settings().remoteEngines.find((e) => e.name === name);
    if (!engine) throw new ApiError('not_found', `no remote engine named "${name}" in Settings`);
    return engine;
  };
  const modelsOf = (engine: RemoteEngineSettings): string[] => (engine.kind === 'llama.cpp' ? ['gpt2-large-q8_0.gguf'] : ['gpt2-large', 'gpt2']);
  return {
    'remoteEngines.list': () => ({ engines: settings().remoteEngines.map(info), keyStorage: { canStore: true } }),
    'remoteEngines.save': ({ engine, previousName }) => {
      const list = settings().remoteEngines;
      const at = previousName === undefined ? -1 : list.findIndex((e) => e.name === previousName);
      if (previousName !== undefined && at < 0) throw new ApiError('not_found', `no remote engine named "${previousName}" to change`);
      if (list.some((e, i) => e.name === engine.name && i !== at)) throw new ApiError('invalid_request', `a remote engine named "${engine.name}" already exists: pick another name`);
      update(at < 0 ? [...list, engine] : list.map((e, i) => (i === at ? engine : e)));
      if (previousName !== undefined && keyed.delete(previousName)) keyed.add(engine.name);
      return info(engine);
    },
    'remoteEngines.remove': ({ name }) => {
      find(name);
      update(settings().remoteEngines.filter((e) => e.name !== name));
      keyed.delete(name);
      return { removed: true };
    },
    'remoteEngines.setKey': ({ name }) => {
      const engine = find(name);
      keyed.add(name);
      return info(engine);
    },
    'remoteEngines.deleteKey': ({ name }) => {
      const engine = find(name);
      keyed.delete(name);
      return info(engine);
    },
    'remoteEngines.test': ({ name }) => {
      const engine = find(name);
      return { ok: true, serverKind: engine.kind === 'auto' ? 'vllm' : engine.kind, models: modelsOf(engine), latencyMs: 12 };
    },
    'remoteEngines.models': () => ({
      models: settings().remoteEngines.flatMap((engine) =>
        modelsOf(engine).map((model) => ({ id: remoteModelId({ engine: engine.name, model }), engine: engine.name, model, ownedBy: 'vllm', contextLength: 1024 })),
      ),
      problems: [],
    }),
  };
}
