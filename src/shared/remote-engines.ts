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

/** One remote engine as Settings stores it. */
export const RemoteEngineConfig = z.strictObject({
  name: RemoteEngineName,
  /** Where its OpenAI-compatible API lives; a bare origin means `<origin>/v1`. */
  baseUrl: BaseUrl,
  kind: RemoteServerKind.default('auto'),
  /** True when a key is stored for it in the keychain. */
  hasApiKey: z.boolean().default(false),
  timeouts: RemoteTimeouts.default(RemoteTimeouts.parse({})),
});
export type RemoteEngineConfig = z.infer<typeof RemoteEngineConfig>;
export type RemoteEngineConfigInput = z.input<typeof RemoteEngineConfig>;

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

/** The model id `remote:<engine>/<model>`. */
export function remoteModelId(ref: RemoteModelRef): string {
  return `${REMOTE_MODEL_PREFIX}${ref.engine}/${ref.model}`;
}
