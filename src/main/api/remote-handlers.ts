/**
 * Remote engines in the API: the `remoteEngines.*` methods (the engines kept in Settings, their
 * keys kept apart by a RemoteKeyStore) and generation on a `remote:<engine>/<model>` id, which
 * runs here in the main process (the work is the server's; nothing is loaded locally) and comes
 * back in the same shape as a local generation, so that streaming, cancel and history are the same.
 *
 * A server that fails after it streamed text does not lose that text: the generation ends with
 * what had arrived, its unfinished candidates 'cancelled', and a `warning` naming the failure,
 * and it is saved like any other.
 */
import { LOGPROB_FLOOR, type TokenLogprob } from '../../shared/openai/logprobs';
import {
  ApiError,
  GenerationParams,
  type Candidate,
  type GenerationOutcome,
  type MethodName,
  type MethodParsedRequest,
  type MethodResponse,
} from '../../shared/api';
import {
  RemoteEngineConfig,
  isRemoteModelId,
  parseRemoteModelId,
  remoteKeyVariable,
  type RemoteEngineInfo,
  type RemoteEngineSettings,
} from '../../shared/remote-engines';
import type { InferenceArgs } from '../common/inference-protocol';
import { errorMessage } from '../common/errors';
import { RemoteCompletionsClient, RemoteEngineError, RemoteEngines, type RemoteClientOptions, type RemoteCompletionResult } from '../engine';
import type { SettingsStore } from '../history';
import type { GenerateHandlers } from '../inference/client';
import type { RemoteKeyStore } from './remote-keys';

type RemoteMethod = Extract<MethodName, `remoteEngines.${string}`>;
/** The handlers of the remote-engine methods. */
export type RemoteHandlers = { [M in RemoteMethod]: (params: MethodParsedRequest<M>) => Promise<MethodResponse<M>> | MethodResponse<M> };

/** What the remote-engine area is built from. */
export interface RemoteAreaDeps {
  settings: Pick<SettingsStore, 'get' | 'set'>;
  keys: RemoteKeyStore;
  /** Test seam for the clients' sockets. */
  createConnection?: RemoteClientOptions['createConnection'];
}

/** The remote-engine area: its API handlers, and generation on remote models. */
export interface RemoteArea {
  handlers: RemoteHandlers;
  /** The engines as a model source (also what the CLI and /v1 could list). */
  engines: RemoteEngines;
  /** Throws not_found at once for an engine Settings does not have (before a generation is started). */
  assertKnown(modelId: string): void;
  /** Runs a generation on a remote model as InferenceClient.generate runs one on a local model. */
  generate(args: InferenceArgs<'generate'>, handlers: GenerateHandlers, signal?: AbortSignal): Promise<GenerationOutcome>;
}

/** Builds the area over Settings and a key store. */
export function createRemoteArea(deps: RemoteAreaDeps): RemoteArea {
  const { settings, keys } = deps;
  const connection = deps.createConnection ? { createConnection: deps.createConnection } : {};
  const stored = (): RemoteEngineSettings[] => settings.get().remoteEngines;
  const configOf = (engine: RemoteEngineSettings): RemoteEngineConfig => RemoteEngineConfig.parse({ ...engine, hasApiKey: keys.source(engine.name) !== null });
  const infoOf = (engine: RemoteEngineSettings): RemoteEngineInfo => ({ ...configOf(engine), keySource: keys.source(engine.name), keyVariable: remoteKeyVariable(engine.name) });
  const find = (name: string): RemoteEngineSettings => {
    const engine = stored().find((e) => e.name === name);
    if (!engine) throw new ApiError('not_found', `no remote engine named "${name}" in Settings`);
    return engine;
  };
  const engines = new RemoteEngines({ engines: () => stored().map(configOf), apiKey: (name) => keys.get(name) }, connection);

  const handlers: RemoteHandlers = {
    'remoteEngines.list': async () => ({ engines: stored().map(infoOf), keyStorage: await keys.storage() }),
    'remoteEngines.save': ({ engine, previousName }) => {
      const list = stored();
      const at = previousName === undefined ? -1 : list.findIndex((e) => e.name === previousName);
      if (previousName !== undefined && at < 0) throw new ApiError('not_found', `no remote engine named "${previousName}" to change`);
      if (list.some((e, i) => e.name === engine.name && i !== at)) throw new ApiError('invalid_request', `a remote engine named "${engine.name}" already exists: pick another name`);
      const next = at < 0 ? [...list, engine] : list.map((e, i) => (i === at ? engine : e));
      settings.set({ remoteEngines: next });
      if (previousName !== undefined && previousName !== engine.name) keys.rename(previousName, engine.name);
      return infoOf(engine);
    },
    'remoteEngines.remove': ({ name }) => {
      find(name);
      settings.set({ remoteEngines: stored().filter((e) => e.name !== name) });
      keys.delete(name);
      const settingsNow = settings.get();
      // A default model on the engine just removed would point at nothing.
      if (settingsNow.defaultModelId !== null && parseRemoteModelId(settingsNow.defaultModelId)?.engine === name) settings.set({ defaultModelId: null });
      return { removed: true as const };
    },
    'remoteEngines.setKey': async ({ name, key }) => {
      const engine = find(name);
      await keys.set(name, key.trim());
      return infoOf(engine);
    },
    'remoteEngines.deleteKey': ({ name }) => {
      const engine = find(name);
      keys.delete(name);
      return infoOf(engine);
    },
    'remoteEngines.test': async ({ name }) => {
      const engine = find(name);
      const started = performance.now();
      try {
        const client = new RemoteCompletionsClient({ name, baseUrl: engine.baseUrl, apiKey: await keys.get(name), kind: engine.kind, timeouts: engine.timeouts, ...connection });
        const models = await client.listModels();
        const serverKind = await client.serverKind();
        return { ok: true as const, serverKind, models: models.map((m) => m.id), latencyMs: performance.now() - started };
      } catch (error) {
        return { ok: false as const, failure: error instanceof RemoteEngineError ? error.failure : 'unreachable', message: errorMessage(error) };
      }
    },
    'remoteEngines.models': () => engines.listModels(),
  };

  return {
    handlers,
    engines,
    assertKnown(modelId) {
      const ref = parseRemoteModelId(modelId);
      if (!ref) throw new ApiError('invalid_request', `"${modelId.slice(0, 200)}" is not a remote model id (remote:<engine>/<model>)`);
      find(ref.engine);
    },
    async generate(args, events, signal) {
      const { modelId, prompt, memory } = args;
      const params = GenerationParams.parse(args.params);
      const request = {
        prompt,
        ...(memory !== undefined ? { memory } : {}),
        params,
        // As a local generation keeps each token's log-probability, so that the probability views work.
        logprobsIfSupported: true,
        ...(signal ? { signal } : {}),
        onStart: (info: { seed: number; numSequences: number }) =>
          events.onStart?.({ device: 'remote', precision: null, seed: info.seed, promptTokens: 0, truncatedPromptTokens: 0, numSequences: info.numSequences }),
        onDelta: (sequence: number, text: string) => events.onDelta?.(sequence, text),
      };
      try {
        return outcomeOf(modelId, await engines.complete(modelId, request));
      } catch (error) {
        const partial = error instanceof RemoteEngineError ? (error.partial as RemoteCompletionResult | undefined) : undefined;
        if (partial && partial.sequences.some((s) => s.text.length > 0)) return { ...outcomeOf(modelId, partial), warning: error instanceof Error ? error.message : String(error) };
        throw error;
      }
    },
  };
}

/** A remote result in the shape of a local generation's outcome (the server reports neither device nor precision). */
export function outcomeOf(modelId: string, result: RemoteCompletionResult): GenerationOutcome {
  const firstTokenMs = result.timings.firstTokenMs ?? result.timings.totalMs;
  return {
    modelId,
    device: 'remote',
    precision: null,
    seed: result.seed,
    promptTokens: result.promptTokens ?? 0,
    truncatedPromptTokens: 0,
    // Remote servers send text, not Inkwell's token ids.
    sequences: result.sequences.map((s) => ({ text: s.text, tokenIds: [], finishReason: s.finishReason, ...serverTokens(s.logprobs) })),
    timings: { loadMs: 0, prefillMs: firstTokenMs, decodeMs: Math.max(0, result.timings.totalMs - firstTokenMs), tokensPerSecond: result.timings.tokensPerSecond },
  };
}

/**
 * A remote candidate's token log-probabilities in Candidate's fields: the server's token texts with
 * their log-probabilities, and their ids where the server sent every one (llama.cpp's server).
 * Nothing when the server returned none (or not for every token).
 */
export function serverTokens(tokens: readonly TokenLogprob[] | undefined): Pick<Candidate, 'tokenIds' | 'tokenLogprobs' | 'tokenTexts'> | Record<string, never> {
  if (!tokens || tokens.length === 0 || tokens.some((t) => t.logprob === null)) return {};
  const ids = tokens.map((t) => t.id);
  return {
    tokenIds: ids.every((id) => id !== undefined) ? ids : [],
    tokenLogprobs: tokens.map((t) => t.logprob ?? LOGPROB_FLOOR),
    tokenTexts: tokens.map((t) => t.token),
  };
}

/** Whether a generation on `modelId` runs on a remote engine. */
export const isRemoteGeneration = isRemoteModelId;
