/**
 * Remote engines: OpenAI-compatible completion servers (vLLM, Text
 * Generation Inference, llama.cpp's server) the user adds in Settings. Their
 * models are named `remote:<engine>/<model>` in the model picker, on the
 * Compare page and in the CLI (`--model remote:lab/gpt2-large`). The API key
 * is never part of this shape: the app keeps it in the OS keychain (Electron
 * safeStorage) and hands it to the client when a request is made.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports.
 */
import { z } from 'zod';

/** The prefix of every remote model id. */
export const REMOTE_MODEL_PREFIX = 'remote:';

/** An engine's name: short, and free of the `/` that separates it from the model in a model id. */
export const RemoteEngineName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an engine name may use letters, digits, ".", "_" and "-"');

/**
 * Which server it is. 'auto' detects it from `GET /v1/models`; the kind
 * decides how candidates are asked for (vLLM and another Inkwell take `n`;
 * llama.cpp's server and TGI get one request per candidate) and which
 * sampling fields are sent.
 */
export const RemoteServerKind = z.enum(['auto', 'vllm', 'tgi', 'llama.cpp', 'openai', 'inkwell', 'generic']);
export type RemoteServerKind = z.infer<typeof RemoteServerKind>;

/** Time limits of one request, in milliseconds. */
export const RemoteTimeouts = z.strictObject({
  /** Until the TCP (and TLS) connection is up. */
  connectMs: z.int().min(100).max(600_000).default(10_000),
  /** From the request sent to the first byte of the body: covers the server's queue and the prompt's prefill. */
  firstByteMs: z.int().min(100).max(3_600_000).default(120_000),
  /** Longest silence between two pieces of a streamed body (keep-alive comments count as pieces). */
  idleMs: z.int().min(100).max(3_600_000).default(60_000),
});
export type RemoteTimeouts = z.infer<typeof RemoteTimeouts>;

const BaseUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'the base URL must be an http:// or https:// address, e.g. http://gpu-box:8000/v1')
  .refine((value) => {
    const url = URL.canParse(value) ? new URL(value) : null;
    return url === null || (url.username === '' && url.password === '');
  }, 'put the API key in its own field, not in the URL')
  .refine((value) => {
    const url = URL.canParse(value) ? new URL(value) : null;
    return url === null || (url.search === '' && url.hash === '');
  }, 'the base URL must not have a query or a fragment');

/** One remote engine as Settings stores it: where it is and how to talk to it, never its key. */
export const RemoteEngineSettings = z.strictObject({
  name: RemoteEngineName,
  /** Where its OpenAI-compatible API lives; a bare origin means `<origin>/v1`. */
  baseUrl: BaseUrl,
  kind: RemoteServerKind.default('auto'),
  timeouts: RemoteTimeouts.default(RemoteTimeouts.parse({})),
});
export type RemoteEngineSettings = z.infer<typeof RemoteEngineSettings>;
export type RemoteEngineSettingsInput = z.input<typeof RemoteEngineSettings>;

/** Most remote engines Settings holds. */
export const MAX_REMOTE_ENGINES = 16;

/** The engines in Settings: at most MAX_REMOTE_ENGINES, each name once. */
export const RemoteEngineList = z
  .array(RemoteEngineSettings)
  .max(MAX_REMOTE_ENGINES, `at most ${MAX_REMOTE_ENGINES} remote engines`)
  .refine((engines) => new Set(engines.map((e) => e.name)).size === engines.length, 'two remote engines have the same name');

/** One remote engine as the client of one server sees it: its settings and whether a key is stored for it. */
export const RemoteEngineConfig = z.strictObject({
  ...RemoteEngineSettings.shape,
  /** True when a key is stored for it (the OS keychain, or an INKWELL_REMOTE_KEY_<NAME> variable). */
  hasApiKey: z.boolean().default(false),
});
export type RemoteEngineConfig = z.infer<typeof RemoteEngineConfig>;
export type RemoteEngineConfigInput = z.input<typeof RemoteEngineConfig>;

/** Where an engine's key comes from: the OS keychain (the desktop app), or the environment variable remoteKeyVariable(name). */
export const RemoteKeySource = z.enum(['keychain', 'environment']);
export type RemoteKeySource = z.infer<typeof RemoteKeySource>;

/** A remote engine as the UI shows it: settings, and where its key is (never the key). */
export const RemoteEngineInfo = z.strictObject({
  ...RemoteEngineConfig.shape,
  /** Null when it has no key. */
  keySource: RemoteKeySource.nullable(),
  /** The environment variable that gives it a key (and overrides a stored one). */
  keyVariable: z.string(),
});
export type RemoteEngineInfo = z.infer<typeof RemoteEngineInfo>;

/** Whether keys can be stored here, and why not when they cannot. */
export const RemoteKeyStorage = z.strictObject({
  /** True when remoteEngines.setKey can store a key (the desktop app with a working OS keychain). */
  canStore: z.boolean(),
  /** Why keys cannot be stored here, and what to do instead (the environment variable). */
  reason: z.string().optional(),
});
export type RemoteKeyStorage = z.infer<typeof RemoteKeyStorage>;

/** A model a remote engine offers, for the model picker. */
export const RemoteModelSummary = z.strictObject({
  /** `remote:<engine>/<model>`. */
  id: z.string(),
  engine: RemoteEngineName,
  /** The server's own id. */
  model: z.string(),
  ownedBy: z.string(),
  /** Context window in tokens, where the server says. */
  contextLength: z.int().optional(),
});
export type RemoteModelSummary = z.infer<typeof RemoteModelSummary>;

/** An engine whose models could not be listed, and why. */
export const RemoteEngineProblem = z.strictObject({ engine: RemoteEngineName, message: z.string() });
export type RemoteEngineProblem = z.infer<typeof RemoteEngineProblem>;

/** What "Test connection" found. */
export const RemoteEngineTestResult = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    /** The server it turned out to be (vllm, llama.cpp, tgi, inkwell, …). */
    serverKind: RemoteServerKind.exclude(['auto']),
    models: z.array(z.string()),
    latencyMs: z.number(),
  }),
  z.strictObject({
    ok: z.literal(false),
    /** What went wrong (unreachable, timeout, unauthorized, not_found, malformed, …). */
    failure: z.string(),
    message: z.string(),
  }),
]);
export type RemoteEngineTestResult = z.infer<typeof RemoteEngineTestResult>;

/**
 * The environment variable holding an engine's key: INKWELL_REMOTE_KEY_ and the name in upper
 * case with every character that is not a letter or digit as "_" (lab-gpu → INKWELL_REMOTE_KEY_LAB_GPU).
 * It is where serve mode and the CLI, which have no OS keychain, find keys; in the app it overrides the keychain.
 */
export function remoteKeyVariable(engine: string): string {
  return `INKWELL_REMOTE_KEY_${engine.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** A remote model id taken apart. */
export interface RemoteModelRef {
  engine: string;
  /** The server's own model id; may contain `/` (e.g. `openai-community/gpt2-large`). */
  model: string;
}

/** True for ids of the form `remote:<engine>/<model>`. */
export function isRemoteModelId(id: string): boolean {
  return parseRemoteModelId(id) !== null;
}

/** Splits `remote:<engine>/<model>` at the first `/` after the engine name; null for anything else. */
export function parseRemoteModelId(id: string): RemoteModelRef | null {
  if (!id.startsWith(REMOTE_MODEL_PREFIX)) return null;
  const rest = id.slice(REMOTE_MODEL_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return null;
  const engine = rest.slice(0, slash);
  const model = rest.slice(slash + 1);
  if (!RemoteEngineName.safeParse(engine).success || model.length > 256) return null;
  return { engine, model };
}

/** Most characters of a remote model id (the prefix, an engine name, "/" and a server id of 256). */
export const MAX_REMOTE_MODEL_ID_CHARS = REMOTE_MODEL_PREFIX.length + 64 + 1 + 256;

/** A `remote:<engine>/<model>` id, checked. */
export const RemoteModelId = z
  .string()
  .max(MAX_REMOTE_MODEL_ID_CHARS, `a remote model id is at most ${MAX_REMOTE_MODEL_ID_CHARS} characters`)
  .refine(isRemoteModelId, 'a remote model id is remote:<engine>/<model>');

/** The model id `remote:<engine>/<model>`. */
export function remoteModelId(ref: RemoteModelRef): string {
  return `${REMOTE_MODEL_PREFIX}${ref.engine}/${ref.model}`;
}
