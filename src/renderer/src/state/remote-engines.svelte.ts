/**
 * The Remote engines panel's state: the OpenAI-compatible servers in Settings, where each one's
 * key is (never the key itself: keys are write-only), connection tests, and the models they
 * offer, which the model pickers list beside the local ones as `remote:<engine>/<model>`.
 */
import type { ModelSummary } from '../../../shared/api';
import type { RemoteEngineInfo, RemoteEngineProblem, RemoteEngineSettingsInput, RemoteEngineTestResult, RemoteKeyStorage, RemoteModelSummary } from '../../../shared/remote-engines';
import type { ApiCaller, Reporter } from './deps';

/** What the panel is built from. */
export interface RemoteEnginesDeps {
  api: ApiCaller;
  reporter: Reporter;
}

/** A remote model as the model pickers list it (the shape is a local model's; the sizes are unknown, so zero). */
export function remoteModelAsSummary(model: RemoteModelSummary): ModelSummary {
  return {
    id: model.id,
    name: `${model.model} · ${model.engine} (remote)`,
    nLayer: 0,
    nEmbd: 0,
    nHead: 0,
    // GPT-2's window where the server does not say.
    nPositions: model.contextLength ?? 1024,
    vocabSize: 0,
    parameters: 0,
    dtype: 'F32',
    sizeBytes: 0,
    importedAt: '',
  };
}

/** Remote engines state. */
export class RemoteEnginesState {
  readonly #deps: RemoteEnginesDeps;
  #engines = $state.raw<RemoteEngineInfo[]>([]);
  #keyStorage = $state.raw<RemoteKeyStorage>({ canStore: false });
  #models = $state.raw<RemoteModelSummary[]>([]);
  #problems = $state.raw<RemoteEngineProblem[]>([]);
  #tests = $state.raw<Record<string, RemoteEngineTestResult | 'testing'>>({});
  #busy = $state(false);

  constructor(deps: RemoteEnginesDeps) {
    this.#deps = deps;
  }

  get engines(): RemoteEngineInfo[] {
    return this.#engines;
  }
  /** Whether keys can be stored here (the desktop app's keychain), and why not. */
  get keyStorage(): RemoteKeyStorage {
    return this.#keyStorage;
  }
  /** Every engine's models, for the pickers. */
  get models(): RemoteModelSummary[] {
    return this.#models;
  }
  /** Engines whose models could not be listed. */
  get problems(): RemoteEngineProblem[] {
    return this.#problems;
  }
  /** The last connection test of each engine. */
  get tests(): Record<string, RemoteEngineTestResult | 'testing'> {
    return this.#tests;
  }
  get busy(): boolean {
    return this.#busy;
  }

  /** Loads the engines and their models. */
  async load(): Promise<void> {
    try {
      const { engines, keyStorage } = await this.#deps.api.call('remoteEngines.list', {});
      this.#engines = engines;
      this.#keyStorage = keyStorage;
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not list the remote engines');
      return;
    }
    await this.refreshModels();
  }

  /** Asks every engine for its models again. */
  async refreshModels(): Promise<void> {
    if (this.#engines.length === 0) {
      this.#models = [];
      this.#problems = [];
      return;
    }
    try {
      const { models, problems } = await this.#deps.api.call('remoteEngines.models', {});
      this.#models = models;
      this.#problems = problems;
    } catch (error) {
      this.#deps.reporter.reportError(error, 'Could not list the remote models');
    }
  }

  /** Adds an engine or changes `previousName`, then stores `key` when one was typed; true when saved. */
  async save(engine: RemoteEngineSettingsInput, key: string, previousName?: string): Promise<boolean> {
    this.#busy = true;
    try {
      await this.#deps.api.call('remoteEngines.save', { engine, ...(previousName !== undefined ? { previousName } : {}) });
      if (key.trim().length > 0) await this.#deps.api.call('remoteEngines.setKey', { name: engine.name, key: key.trim() });
      this.#deps.reporter.notify('info', `Remote engine "${engine.name}" saved.`);
      return true;
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not save remote engine "${engine.name}"`);
      return false;
    } finally {
      this.#busy = false;
      await this.load();
    }
  }

  /** Removes an engine and its stored key. */
  async remove(name: string): Promise<void> {
    try {
      await this.#deps.api.call('remoteEngines.remove', { name });
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not remove remote engine "${name}"`);
    }
    await this.load();
  }

  /** Deletes an engine's stored key. */
  async deleteKey(name: string): Promise<void> {
    try {
      await this.#deps.api.call('remoteEngines.deleteKey', { name });
    } catch (error) {
      this.#deps.reporter.reportError(error, `Could not delete the key of "${name}"`);
    }
    await this.load();
  }

  /** Tests the connection (lists the engine's models with its settings and key). */
  async test(name: string): Promise<void> {
    this.#tests = { ...this.#tests, [name]: 'testing' };
    try {
      const result = await this.#deps.api.call('remoteEngines.test', { name });
      this.#tests = { ...this.#tests, [name]: result };
      if (result.ok) await this.refreshModels();
    } catch (error) {
      const { [name]: _dropped, ...rest } = this.#tests;
      this.#tests = rest;
      this.#deps.reporter.reportError(error, `Could not test "${name}"`);
    }
  }
}
