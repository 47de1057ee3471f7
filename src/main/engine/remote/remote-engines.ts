/**
 * Remote engines as a model source: the engines configured in Settings, their
 * models under `remote:<engine>/<model>` ids for the model picker, Compare and
 * the CLI, and generation on them by id. Settings and the keychain stay with
 * the caller: it hands over the configs and a key lookup.
 */
import { createHash } from 'node:crypto';
import { parseRemoteModelId, remoteModelId, type RemoteEngineConfig } from '../../../shared/remote-engines';
import { EngineError } from '../types';
import { RemoteCompletionsClient, type RemoteClientOptions, type RemoteCompletionRequest, type RemoteCompletionResult, type RemoteScoredToken } from './client';

/** Where the engines and their keys come from. */
export interface RemoteEngineSource {
  /** The engines in Settings now. */
  engines(): readonly RemoteEngineConfig[];
  /** The engine's key from the OS keychain (Electron safeStorage), or undefined when it has none. */
  apiKey(engine: string): Promise<string | undefined>;
}

/** One remote model in the picker. */
export interface RemoteModelEntry {
  /** `remote:<engine>/<model>`. */
  id: string;
  engine: string;
  /** The server's id. */
  model: string;
  ownedBy: string;
  contextLength?: number;
}

/** An engine that could not list its models, and why. */
export interface RemoteEngineProblem {
  engine: string;
  message: string;
}

/** Every configured engine, one client each (kept while its settings and key stay the same). */
export class RemoteEngines {
  readonly #source: RemoteEngineSource;
  readonly #clientOptions: Pick<RemoteClientOptions, 'createConnection'>;
  readonly #clients = new Map<string, { fingerprint: string; client: RemoteCompletionsClient }>();

  constructor(source: RemoteEngineSource, clientOptions: Pick<RemoteClientOptions, 'createConnection'> = {}) {
    this.#source = source;
    this.#clientOptions = clientOptions;
  }

  /** The models of every engine, asked in parallel; an engine that fails is a problem, not an error. */
  async listModels(signal?: AbortSignal): Promise<{ models: RemoteModelEntry[]; problems: RemoteEngineProblem[] }> {
    const engines = this.#source.engines();
    const answers = await Promise.allSettled(engines.map(async (config) => ({ config, models: await (await this.#client(config)).listModels(signal) })));
    const models: RemoteModelEntry[] = [];
    const problems: RemoteEngineProblem[] = [];
    for (const [i, answer] of answers.entries()) {
      const engine = (engines[i] as RemoteEngineConfig).name;
      if (answer.status === 'rejected') {
        problems.push({ engine, message: answer.reason instanceof Error ? answer.reason.message : String(answer.reason) });
        continue;
      }
      for (const model of answer.value.models) {
        models.push({
          id: remoteModelId({ engine, model: model.id }),
          engine,
          model: model.id,
          ownedBy: model.ownedBy,
          ...(model.contextLength !== undefined ? { contextLength: model.contextLength } : {}),
        });
      }
    }
    return { models, problems };
  }

  /** Generates on the model `id` (`remote:<engine>/<model>`); the request's `model` is filled in. */
  async complete(id: string, request: Omit<RemoteCompletionRequest, 'model'>): Promise<RemoteCompletionResult> {
    const { client, model } = await this.resolve(id);
    return client.complete({ ...request, model });
  }

  /** The server's log-probabilities of `continuation`'s tokens after `prompt` on the model `id` (see RemoteCompletionsClient.scoreContinuation). */
  async scoreContinuation(id: string, prompt: string, continuation: string, signal?: AbortSignal): Promise<RemoteScoredToken[]> {
    const { client, model } = await this.resolve(id);
    return client.scoreContinuation(model, prompt, continuation, signal);
  }

  /** The client and the server's model id for a remote model id; not_found for an unknown engine. */
  async resolve(id: string): Promise<{ client: RemoteCompletionsClient; model: string }> {
    const ref = parseRemoteModelId(id);
    if (!ref) throw new EngineError('bad_input', `"${id.slice(0, 200)}" is not a remote model id (remote:<engine>/<model>)`);
    const config = this.#source.engines().find((e) => e.name === ref.engine);
    if (!config) throw new EngineError('not_found', `no remote engine named "${ref.engine}": add it in Settings → Remote engines`);
    return { client: await this.#client(config), model: ref.model };
  }

  async #client(config: RemoteEngineConfig): Promise<RemoteCompletionsClient> {
    const apiKey = config.hasApiKey ? await this.#source.apiKey(config.name) : undefined;
    // The key is part of what makes a client stale, but must not be kept in a readable fingerprint.
    const fingerprint = JSON.stringify([config, apiKey === undefined ? null : fingerprintOf(apiKey)]);
    const cached = this.#clients.get(config.name);
    if (cached && cached.fingerprint === fingerprint) return cached.client;
    const client = new RemoteCompletionsClient({ name: config.name, baseUrl: config.baseUrl, apiKey, kind: config.kind, timeouts: config.timeouts, ...this.#clientOptions });
    this.#clients.set(config.name, { fingerprint, client });
    return client;
  }
}

/** A digest of a key, enough to notice that it changed. */
function fingerprintOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
