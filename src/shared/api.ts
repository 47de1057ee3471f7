/**
 * The one API contract between the UI and the back end.
 *
 * Every method is declared once in `methods` (request schema + response type).
 * Electron IPC (preload contextBridge) and serve mode (HTTP + WebSocket) both
 * implement it; the renderer only ever sees `InkwellApi`.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports (enforced by lint).
 */
import { z } from 'zod';

// ---------------------------------------------------------------- limits

/** Hard limits enforced at every boundary. */
export const LIMITS = {
  /** Characters in a prompt/document body crossing the boundary (~1 MB of text). */
  maxTextChars: 1_000_000,
  /** GPT-2's context window is 1024; larger fine-tunes are still capped here. */
  maxNewTokens: 1024,
  maxCandidates: 8,
  maxStopStrings: 8,
  maxStopStringChars: 64,
  maxIdChars: 64,
  maxTitleChars: 200,
  maxQueryChars: 500,
  maxPageSize: 200,
} as const;

/** Model ids are file-system safe: they name a folder in the model store. */
export const ModelId = z
  .string()
  .min(1)
  .max(LIMITS.maxIdChars)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'model id may use letters, digits, ".", "_" and "-"');

const Text = z.string().max(LIMITS.maxTextChars, `text is longer than ${LIMITS.maxTextChars} characters`);
const Id = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

// ---------------------------------------------------------------- domain types

export const DeviceRequest = z.enum(['auto', 'cpu', 'webgpu', 'cuda']);
export type DeviceRequest = z.infer<typeof DeviceRequest>;
export type DeviceName = 'cpu' | 'webgpu' | 'cuda';
export type FinishReason = 'stop' | 'length' | 'cancelled';

/** Sampling and length parameters of one generation (camelCase mirror of HF GenerationConfig). */
export const GenerationParams = z.strictObject({
  maxNewTokens: z.int().min(1).max(LIMITS.maxNewTokens).default(40),
  /** Prompt + new tokens, as the original notebook's `max_length`; the smaller bound wins. */
  maxLength: z.int().min(1).max(1_000_000).optional(),
  numReturnSequences: z.int().min(1).max(LIMITS.maxCandidates).default(3),
  doSample: z.boolean().default(true),
  temperature: z.number().gt(0).max(10).default(0.9),
  /** 0 disables top-k. */
  topK: z.int().min(0).max(1_000_000).default(50),
  /** 1 disables nucleus sampling. */
  topP: z.number().gt(0).max(1).default(0.95),
  repetitionPenalty: z.number().min(0.01).max(10).default(1.1),
  /** 0 disables the n-gram block. */
  noRepeatNgramSize: z.int().min(0).max(32).default(0),
  /** Unsigned 32-bit seed; absent means "pick one" (the one used is reported). */
  seed: z.int().min(0).max(0xffff_ffff).optional(),
  stop: z.array(z.string().min(1).max(LIMITS.maxStopStringChars)).max(LIMITS.maxStopStrings).default([]),
  device: DeviceRequest.default('auto'),
});
export type GenerationParams = z.infer<typeof GenerationParams>;
export type GenerationParamsInput = z.input<typeof GenerationParams>;

export interface ModelSummary {
  id: string;
  /** Human label, e.g. "gpt2-large (774M)". */
  name: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nPositions: number;
  vocabSize: number;
  parameters: number;
  /** dtype of the imported weights. */
  dtype: 'F32' | 'F16' | 'BF16';
  sizeBytes: number;
  importedAt: string;
}

export interface DeviceStatus {
  name: DeviceName;
  available: boolean;
  /** Why it is unavailable (probe error, missing CUDA EP, …). */
  reason?: string;
}

export interface EngineStatus {
  state: 'stopped' | 'starting' | 'ready' | 'crashed';
  /** Set after a crash: what happened, in words. */
  message?: string;
  loaded: { modelId: string; device: DeviceName }[];
  devices: DeviceStatus[];
  cudaInstalled: boolean;
}

export interface Timings {
  loadMs: number;
  prefillMs: number;
  decodeMs: number;
  tokensPerSecond: number;
}

export interface Candidate {
  text: string;
  tokenIds: number[];
  finishReason: FinishReason;
}

export interface GenerationResult {
  generationId: string;
  modelId: string;
  device: DeviceName;
  deviceFallbackReason?: string;
  seed: number;
  promptTokens: number;
  truncatedPromptTokens: number;
  sequences: Candidate[];
  timings: Timings;
  /** Id of the history entry; committed before `done` is sent. */
  historyId: number;
}

/** Streamed while a generation runs. */
export type GenerationEvent =
  | { type: 'started'; generationId: string; modelId: string; device: DeviceName; seed: number; promptTokens: number; truncatedPromptTokens: number; numSequences: number }
  | { type: 'delta'; generationId: string; sequence: number; text: string }
  | { type: 'done'; generationId: string; result: GenerationResult }
  | { type: 'error'; generationId: string; error: ApiErrorShape };

/** Everything the back end pushes to the UI. */
export type ServerEvent =
  | { channel: 'generation'; event: GenerationEvent }
  | { channel: 'engine'; status: EngineStatus };

export interface HistoryEntry {
  id: number;
  createdAt: string;
  modelId: string;
  device: DeviceName;
  prompt: string;
  /** The memory sent with the prompt (kept at its start). */
  memory: string;
  params: GenerationParams;
  seed: number;
  candidates: Candidate[];
  acceptedIndex: number | null;
  starred: boolean;
  timings: Timings;
  promptTokens: number;
  truncatedPromptTokens: number;
  documentId: number | null;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  total: number;
}

export interface DocumentSummary {
  id: number;
  title: string;
  updatedAt: string;
  createdAt: string;
  chars: number;
}

export interface DocumentFull extends DocumentSummary {
  content: string;
  /** Kept at the start of every prompt. */
  memory: string;
  /** Inserted a few lines before the cursor. */
  authorsNote: string;
}

export const Theme = z.enum(['system', 'light', 'dark']);
export const Settings = z.strictObject({
  theme: Theme.default('system'),
  defaultModelId: ModelId.nullable().default(null),
  device: DeviceRequest.default('auto'),
  generation: GenerationParams.default(GenerationParams.parse({})),
  /** Lines before the cursor at which the Author's Note is inserted. */
  authorsNoteDepth: z.int().min(0).max(50).default(3),
});
export type Settings = z.infer<typeof Settings>;

export interface AppInfo {
  version: string;
  dataDir: string;
  transport: 'electron' | 'http';
  /** Native open/save dialogs exist only in the desktop app. */
  nativeFileDialogs: boolean;
  /** Things the user must be told at start-up (e.g. a damaged database was set aside). */
  notices: string[];
}

// ---------------------------------------------------------------- errors

export const ApiErrorKind = z.enum([
  'invalid_request', // schema rejected the payload
  'not_found',
  'refused', // e.g. pickle checkpoint, busy model
  'model_error', // the engine could not run the model
  'engine_crashed', // the inference process died mid-request
  'cancelled',
  'unauthorized',
  'internal',
]);
export type ApiErrorKind = z.infer<typeof ApiErrorKind>;
export interface ApiErrorShape {
  kind: ApiErrorKind;
  message: string;
}

/** The only error type that crosses the boundary. */
export class ApiError extends Error {
  readonly kind: ApiErrorKind;
  constructor(kind: ApiErrorKind, message: string) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
  }
  toJSON(): ApiErrorShape {
    return { kind: this.kind, message: this.message };
  }
  /** Rebuilds an ApiError from its wire shape (or anything else, as internal). */
  static from(value: unknown): ApiError {
    if (value instanceof ApiError) return value;
    if (value && typeof value === 'object' && 'kind' in value && 'message' in value) {
      const kind = ApiErrorKind.safeParse((value as { kind: unknown }).kind);
      return new ApiError(kind.success ? kind.data : 'internal', String((value as { message: unknown }).message));
    }
    return new ApiError('internal', value instanceof Error ? value.message : String(value));
  }
}

// ---------------------------------------------------------------- methods

const Empty = z.strictObject({});

const HistoryQuery = z.strictObject({
  /** Free text; always treated as literal words. */
  query: z.string().max(LIMITS.maxQueryChars).default(''),
  modelId: ModelId.optional(),
  /** ISO dates (inclusive). */
  from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  starredOnly: z.boolean().default(false),
  documentId: Id.optional(),
  limit: z.int().min(1).max(LIMITS.maxPageSize).default(50),
  offset: z.int().min(0).max(1_000_000).default(0),
});

/**
 * The method table: request schema per method, response type alongside.
 * Adding a method here is the only place a new call is declared.
 */
export const methods = {
  'app.info': { request: Empty, response: null as unknown as AppInfo },

  'models.list': { request: Empty, response: null as unknown as ModelSummary[] },
  'models.status': { request: Empty, response: null as unknown as EngineStatus },
  'models.import': {
    request: z.strictObject({ path: z.string().min(1).max(4096), id: ModelId }),
    response: null as unknown as ModelSummary,
  },
  'models.remove': { request: z.strictObject({ id: ModelId }), response: null as unknown as { removed: true } },

  'generate.start': {
    request: z.strictObject({
      modelId: ModelId,
      /** Text before the cursor (with the author's note inserted), see composePrompt. */
      prompt: Text,
      /** Kept at the start of the prompt whatever is cut from the left of `prompt` to fit the window. */
      memory: Text.default(''),
      params: GenerationParams,
      documentId: Id.nullable().default(null),
    }),
    response: null as unknown as { generationId: string },
  },
  'generate.cancel': {
    request: z.strictObject({ generationId: z.string().min(1).max(LIMITS.maxIdChars) }),
    response: null as unknown as { cancelled: boolean },
  },
  tokenize: {
    request: z.strictObject({ modelId: ModelId, text: Text }),
    response: null as unknown as { ids: number[]; tokens: string[] },
  },

  'history.list': { request: HistoryQuery, response: null as unknown as HistoryPage },
  'history.get': { request: z.strictObject({ id: Id }), response: null as unknown as HistoryEntry },
  'history.star': {
    request: z.strictObject({ id: Id, starred: z.boolean() }),
    response: null as unknown as HistoryEntry,
  },
  'history.accept': {
    request: z.strictObject({ id: Id, candidateIndex: z.int().min(0).max(LIMITS.maxCandidates - 1).nullable() }),
    response: null as unknown as HistoryEntry,
  },
  'history.delete': { request: z.strictObject({ id: Id }), response: null as unknown as { deleted: boolean } },
  'history.export': {
    request: z.strictObject({
      format: z.enum(['json', 'markdown']),
      ids: z.array(Id).max(10_000).optional(),
    }),
    response: null as unknown as { filename: string; mimeType: string; content: string },
  },

  'documents.list': { request: Empty, response: null as unknown as DocumentSummary[] },
  'documents.get': { request: z.strictObject({ id: Id }), response: null as unknown as DocumentFull },
  'documents.create': {
    request: z.strictObject({
      title: z.string().max(LIMITS.maxTitleChars).default('Untitled'),
      content: Text.default(''),
    }),
    response: null as unknown as DocumentFull,
  },
  'documents.save': {
    request: z.strictObject({
      id: Id,
      title: z.string().min(1).max(LIMITS.maxTitleChars).optional(),
      content: Text.optional(),
      memory: Text.optional(),
      authorsNote: Text.optional(),
    }),
    response: null as unknown as DocumentFull,
  },
  'documents.delete': { request: z.strictObject({ id: Id }), response: null as unknown as { deleted: boolean } },
  /** Desktop only: native open dialog; returns null when the user cancels. */
  'files.open': { request: Empty, response: null as unknown as { name: string; content: string } | null },
  /** Desktop only: native save dialog; returns the saved path or null when cancelled. */
  'files.save': {
    request: z.strictObject({ suggestedName: z.string().min(1).max(255), content: Text }),
    response: null as unknown as { path: string } | null,
  },

  'settings.get': { request: Empty, response: null as unknown as Settings },
  // Every key optional and WITHOUT defaults: zod 4's .partial() keeps defaults, which would reset unsent keys.
  'settings.set': {
    request: z.strictObject({
      theme: Theme.optional(),
      defaultModelId: ModelId.nullable().optional(),
      device: DeviceRequest.optional(),
      generation: GenerationParams.optional(),
      authorsNoteDepth: z.int().min(0).max(50).optional(),
    }),
    response: null as unknown as Settings,
  },
} as const;

export type MethodName = keyof typeof methods;
export type MethodRequest<M extends MethodName> = z.input<(typeof methods)[M]['request']>;
export type MethodParsedRequest<M extends MethodName> = z.output<(typeof methods)[M]['request']>;
export type MethodResponse<M extends MethodName> = (typeof methods)[M]['response'];
export const methodNames = Object.keys(methods) as MethodName[];

/** Validates a request for `method`; throws ApiError('invalid_request') naming the bad field. */
export function parseRequest<M extends MethodName>(method: string, payload: unknown): { method: M; params: MethodParsedRequest<M> } {
  if (!Object.hasOwn(methods, method)) throw new ApiError('invalid_request', `unknown method "${String(method).slice(0, 64)}"`);
  const schema = methods[method as M].request;
  const result = schema.safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'request';
    throw new ApiError('invalid_request', `${method}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return { method: method as M, params: result.data as MethodParsedRequest<M> };
}

/** What the renderer calls: one transport-neutral surface. */
export interface InkwellApi {
  call<M extends MethodName>(method: M, params: MethodRequest<M>): Promise<MethodResponse<M>>;
  /** Subscribes to server events; returns an unsubscribe function. */
  subscribe(listener: (event: ServerEvent) => void): () => void;
}
