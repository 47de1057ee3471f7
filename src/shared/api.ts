/**
 * The one API contract between the UI and the back end.
 *
 * Every shape is a zod schema declared once here, its type derived with z.infer; every method is
 * declared once in `methods` (request and response schema).
 * Electron IPC (preload contextBridge) and serve mode (HTTP + WebSocket) both
 * implement it; the renderer only ever sees `InkwellApi`.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports (enforced by lint).
 */
import { z } from 'zod';
import { DeviceName, DeviceRequest, GenerationDevice, Precision, PrecisionRequest, VariantPrecision } from './devices';
import { CatalogView, HfCacheView, LoadEstimate, ModelDefaultParams, ModelDetails, ModelsOverview, TaskRequest, TaskState } from './models';

export { AUTO_DEVICE_ORDER, DeviceName, DeviceRequest, GenerationDevice, Precision, PrecisionRequest, VariantPrecision } from './devices';
import {
  AttentionLayer,
  AttentionOverview,
  Gpt2Tokens,
  InspectModelId,
  InspectSummary,
  InspectTarget,
  INSPECT_LIMITS,
  LayerIndex,
  LensLayer,
  NextTokenProbabilities,
  PositionalEncodings,
  PositionalRequest,
  WordPieceTokens,
} from './inspect';
import {
  RemoteEngineInfo,
  RemoteEngineList,
  RemoteEngineName,
  RemoteEngineProblem,
  RemoteEngineSettings,
  RemoteEngineTestResult,
  RemoteKeyStorage,
  RemoteModelId,
  RemoteModelSummary,
} from './remote-engines';
import { BATCH_LIMITS, BatchPreview, BatchSource, BatchState } from './batch';

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
  /** Characters of an error message: a message never echoes a hostile request back in full. */
  maxErrorChars: 500,
  /** Nesting of a JSON request body; the deepest request (settings.set) nests 3 levels. */
  maxJsonDepth: 32,
} as const;

// Names Windows refuses as file or folder names (with any extension); refused everywhere, so that a
// model store can move between machines. https://learn.microsoft.com/windows/win32/fileio/naming-a-file
const WINDOWS_RESERVED_NAME = /^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i;

/** Model ids are file-system safe: they name a folder in the model store (the one rule, for the API and the store). */
export const ModelId = z
  .string()
  .min(1, 'model id must not be empty')
  .max(LIMITS.maxIdChars, `model id must be at most ${LIMITS.maxIdChars} characters`)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'model id may use letters, digits, ".", "_" and "-", starting with a letter or digit')
  .refine((id) => !WINDOWS_RESERVED_NAME.test(id), 'model id is a name Windows reserves for devices (CON, PRN, AUX, NUL, COM1-9, LPT1-9)');

/**
 * The model a generation runs on: a stored model's id, or `remote:<engine>/<model>` for a model of
 * a remote engine (src/shared/remote-engines.ts). Only where a generation can run (generate.start,
 * the default model, history filters); importing and removing take a ModelId.
 */
export const GenerationModelId = z.union([ModelId, RemoteModelId], {
  error: 'model id must be a stored model\'s id (letters, digits, ".", "_", "-") or remote:<engine>/<model>',
});

const Text = z.string().max(LIMITS.maxTextChars, `text is longer than ${LIMITS.maxTextChars} characters`);
const Id = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const Count = z.int().min(0);
const Seed = z.int().min(0).max(0xffff_ffff);

// ---------------------------------------------------------------- domain types

/** Why a sequence stopped. */
export const FinishReason = z.enum(['stop', 'length', 'cancelled']);
export type FinishReason = z.infer<typeof FinishReason>;
/** Element types a checkpoint's weights may have. */
export const WeightDtype = z.enum(['F32', 'F16', 'BF16']);
export type WeightDtype = z.infer<typeof WeightDtype>;

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
  seed: Seed.optional(),
  stop: z.array(z.string().min(1).max(LIMITS.maxStopStringChars)).max(LIMITS.maxStopStrings).default([]),
  device: DeviceRequest.default('auto'),
  /** Weight precision: 'auto' is the engine's default for the device among the variants the model has. */
  precision: PrecisionRequest.default('auto'),
});
export type GenerationParams = z.infer<typeof GenerationParams>;
export type GenerationParamsInput = z.input<typeof GenerationParams>;

/** A stored model as the UI sees it. */
export const ModelSummary = z.strictObject({
  id: z.string(),
  /** Human label, e.g. "gpt2-large (774M)". */
  name: z.string(),
  nLayer: z.int(),
  nEmbd: z.int(),
  nHead: z.int(),
  nPositions: z.int(),
  vocabSize: z.int(),
  parameters: z.number(),
  /** dtype of the imported weights. */
  dtype: WeightDtype,
  sizeBytes: z.number(),
  importedAt: z.string(),
});
export type ModelSummary = z.infer<typeof ModelSummary>;

/** Whether one device works here. */
export const DeviceStatus = z.strictObject({
  name: DeviceName,
  available: z.boolean(),
  /** Why it is unavailable (probe error, missing CUDA EP, …). */
  reason: z.string().optional(),
});
export type DeviceStatus = z.infer<typeof DeviceStatus>;

/** A decoder the inference process holds. */
export const LoadedModel = z.strictObject({ modelId: z.string(), device: DeviceName });
export type LoadedModel = z.infer<typeof LoadedModel>;

/** The inference process as the UI shows it. */
export const EngineStatus = z.strictObject({
  state: z.enum(['stopped', 'starting', 'ready', 'crashed']),
  /** Set after a crash: what happened, in words. */
  message: z.string().optional(),
  loaded: z.array(LoadedModel),
  devices: z.array(DeviceStatus),
  cudaInstalled: z.boolean(),
});
export type EngineStatus = z.infer<typeof EngineStatus>;

/** How long each phase of a generation took. */
export const Timings = z.strictObject({
  loadMs: z.number(),
  prefillMs: z.number(),
  decodeMs: z.number(),
  tokensPerSecond: z.number(),
});
export type Timings = z.infer<typeof Timings>;

/** A token and its log-probability (natural log) under the model's raw next-token distribution. */
export const TokenLogprob = z.strictObject({ tokenId: z.int(), logprob: z.number() });
export type TokenLogprob = z.infer<typeof TokenLogprob>;

/** One generated continuation. */
export const Candidate = z.strictObject({
  text: z.string(),
  tokenIds: z.array(z.int()),
  finishReason: FinishReason,
  /**
   * One per tokenIds entry: the token's log-probability under the raw distribution (softmax of the
   * logits at temperature 1, before any logits processor), as OpenAI-compatible servers report
   * logprobs. Absent on history entries saved before it was kept.
   */
  tokenLogprobs: z.array(z.number()).optional(),
  /** When asked for: per generated token, the most likely tokens at that step, best first. */
  topLogprobs: z.array(z.array(TokenLogprob)).optional(),
  /**
   * A remote engine's candidate, when its server returned logprobs: the server's tokens as text
   * (its own tokenization), one per tokenLogprobs entry; tokenIds holds their ids only where the
   * server sent them (llama.cpp's server does, the completions format does not) and is empty
   * otherwise. Not kept in history (which keeps ids with log-probabilities).
   */
  tokenTexts: z.array(z.string()).optional(),
});
export type Candidate = z.infer<typeof Candidate>;

/** What is known once the prompt is tokenized, before the first token (the engine reports it). */
export const GenerationStartInfo = z.strictObject({
  device: GenerationDevice,
  /** Null on a remote engine, which does not say. */
  precision: Precision.nullable(),
  seed: Seed,
  promptTokens: Count,
  truncatedPromptTokens: Count,
  numSequences: z.int().min(1),
});
export type GenerationStartInfo = z.infer<typeof GenerationStartInfo>;

/** A generation's start as the UI sees it: the engine's start info and the model it runs on. */
export const GenerationStarted = z.strictObject({ modelId: z.string(), ...GenerationStartInfo.shape });
export type GenerationStarted = z.infer<typeof GenerationStarted>;

/** How a speculative generation went: the draft that proposed tokens and how many of them the target accepted. */
export const SpeculativeSummary = z.strictObject({
  draftModelId: z.string(),
  draftPrecision: Precision,
  /** Tokens the draft proposes per round. */
  draftTokens: z.int().min(1),
  proposed: Count,
  accepted: Count,
  /** accepted / proposed (0 when nothing was proposed). */
  acceptanceRate: z.number(),
  /** Target passes after the prefill; each scored up to draftTokens + 1 positions. */
  targetPasses: Count,
});
export type SpeculativeSummary = z.infer<typeof SpeculativeSummary>;

/** What a generation produced, as the engine returns it (before the service names it and saves it). */
export const GenerationOutcome = z.strictObject({
  modelId: z.string(),
  device: GenerationDevice,
  /** The weight precision whose graphs ran; null on a remote engine, which does not say. */
  precision: Precision.nullable(),
  deviceFallbackReason: z.string().optional(),
  /**
   * Set when the generation ended early for a reason the writer must be told, e.g. a remote
   * engine that went away mid-stream; the text written before it is kept (and saved).
   */
  warning: z.string().optional(),
  seed: Seed,
  promptTokens: Count,
  truncatedPromptTokens: Count,
  sequences: z.array(Candidate),
  timings: Timings,
  /** With speculative decoding: the draft and how many of its tokens the target accepted. */
  speculative: SpeculativeSummary.optional(),
});
export type GenerationOutcome = z.infer<typeof GenerationOutcome>;

/** A finished generation: its outcome, its id and the history entry it was saved as. */
export const GenerationResult = z.strictObject({
  generationId: z.string(),
  ...GenerationOutcome.shape,
  /** Id of the history entry; committed before `done` is sent. */
  historyId: Id,
});
export type GenerationResult = z.infer<typeof GenerationResult>;

// ---------------------------------------------------------------- errors

/** What kind of failure an API call or a generation reports; the UI and serve mode's HTTP status act on it. */
export const ApiErrorKind = z.enum([
  'invalid_request', // schema rejected the payload, or the request cannot mean anything (from after to, a missing folder)
  'not_found',
  'refused', // e.g. pickle checkpoint, more work than this machine can hold
  'busy', // the machine is at its bound on concurrent work: try again when a generation finishes
  'read_only', // the database or the data folder cannot be written (permissions, read-only disk)
  'disk_full', // the disk holding the data folder is full
  'model_error', // the engine could not run the model
  'engine_crashed', // the inference process died or hung mid-request
  'cancelled',
  'unauthorized',
  'internal',
]);
export type ApiErrorKind = z.infer<typeof ApiErrorKind>;

/** An error as it crosses the boundary. */
export const ApiErrorShape = z.strictObject({ kind: ApiErrorKind, message: z.string() });
export type ApiErrorShape = z.infer<typeof ApiErrorShape>;

/** Error kinds the engine raises (the inference process reports them); common/errors.ts maps them to ApiErrorKind. */
export const EngineErrorKind = z.enum([
  'bad_input', // user-supplied file/request is malformed (exit code 2)
  'not_found', // unknown model id, missing file
  'refused', // e.g. pickle checkpoint, unsupported model_type
  'cancelled',
  'device', // execution provider failed and no fallback was possible
  'internal',
]);
export type EngineErrorKind = z.infer<typeof EngineErrorKind>;

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

// ---------------------------------------------------------------- events and stored data

/** Streamed while a generation runs. */
export const GenerationEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('started'), generationId: z.string(), ...GenerationStarted.shape }),
  z.strictObject({ type: z.literal('delta'), generationId: z.string(), sequence: Count, text: z.string() }),
  z.strictObject({ type: z.literal('done'), generationId: z.string(), result: GenerationResult }),
  z.strictObject({ type: z.literal('error'), generationId: z.string(), error: ApiErrorShape }),
]);
export type GenerationEvent = z.infer<typeof GenerationEvent>;

/** Everything the back end pushes to the UI. */
export const ServerEvent = z.discriminatedUnion('channel', [
  z.strictObject({ channel: z.literal('generation'), event: GenerationEvent }),
  z.strictObject({ channel: z.literal('engine'), status: EngineStatus }),
  /** Background work of the Models page (downloads, imports, conversions, loads): every change of a task. */
  z.strictObject({ channel: z.literal('task'), task: TaskState }),
  z.strictObject({ channel: z.literal('compare'), event: z.lazy(() => CompareEvent) }),
  /** A batch run moved (a row finished or was skipped, or it ended); see the batch methods. */
  z.strictObject({ channel: z.literal('batch'), state: BatchState }),
]);
export type ServerEvent = z.infer<typeof ServerEvent>;

/** A generation as `generate.get` reports it: running (with the text so far) or finished. */
export const GenerationState = z.strictObject({
  generationId: z.string(),
  status: z.enum(['running', 'done', 'error']),
  /** Text of each sequence so far (all of it once done). */
  texts: z.array(z.string()),
  /** Set once the engine has started (it is what the 'started' event carried). */
  started: GenerationStarted.optional(),
  /** Set when status is 'done'. */
  result: GenerationResult.optional(),
  /** Set when status is 'error'. */
  error: ApiErrorShape.optional(),
});
export type GenerationState = z.infer<typeof GenerationState>;

/** One saved generation. */
export const HistoryEntry = z.strictObject({
  id: Id,
  createdAt: z.string(),
  modelId: z.string(),
  device: GenerationDevice,
  prompt: z.string(),
  /** The memory sent with the prompt (kept at its start). */
  memory: z.string(),
  params: GenerationParams,
  seed: Seed,
  candidates: z.array(Candidate),
  acceptedIndex: Count.nullable(),
  starred: z.boolean(),
  timings: Timings,
  promptTokens: Count,
  truncatedPromptTokens: Count,
  documentId: Id.nullable(),
  /** Title of the entry's document; null when it has none or the document was deleted. */
  documentTitle: z.string().nullable(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** One page of history and the number of entries the query matches. */
export const HistoryPage = z.strictObject({ entries: z.array(HistoryEntry), total: Count });
export type HistoryPage = z.infer<typeof HistoryPage>;

/** A document in the list. */
export const DocumentSummary = z.strictObject({
  id: Id,
  title: z.string(),
  updatedAt: z.string(),
  createdAt: z.string(),
  chars: Count,
  /** True while the title follows the first line of the text (created without a title, not renamed since). */
  autoTitle: z.boolean(),
  /** Words in the text (src/shared/documents.ts countWords). */
  words: Count,
});
export type DocumentSummary = z.infer<typeof DocumentSummary>;

/** A document with everything it holds. */
export const DocumentFull = z.strictObject({
  ...DocumentSummary.shape,
  content: z.string(),
  /** Kept at the start of every prompt. */
  memory: z.string(),
  /** Inserted a few lines before the cursor. */
  authorsNote: z.string(),
});
export type DocumentFull = z.infer<typeof DocumentFull>;

export const Theme = z.enum(['system', 'light', 'dark']);
export const Settings = z.strictObject({
  theme: Theme.default('system'),
  defaultModelId: GenerationModelId.nullable().default(null),
  device: DeviceRequest.default('auto'),
  generation: GenerationParams.default(GenerationParams.parse({})),
  /** Lines before the cursor at which the Author's Note is inserted. */
  authorsNoteDepth: z.int().min(0).max(50).default(3),
  /** Generation parameters a model starts with when it is chosen (over `generation`). */
  modelDefaults: z.record(ModelId, ModelDefaultParams).default({}),
  /** OpenAI-compatible servers whose models Inkwell can write with (changed through the remoteEngines.* methods; keys are kept apart). */
  remoteEngines: RemoteEngineList.default([]),
});
export type Settings = z.infer<typeof Settings>;

/** What the UI is told about the back end it talks to. */
export const AppInfo = z.strictObject({
  version: z.string(),
  dataDir: z.string(),
  transport: z.enum(['electron', 'http']),
  /** Native open/save dialogs exist only in the desktop app. */
  nativeFileDialogs: z.boolean(),
  /** Things the user must be told at start-up (e.g. a damaged database was set aside). */
  notices: z.array(z.string()),
});
export type AppInfo = z.infer<typeof AppInfo>;

/** The formats history exports to. */
export const ExportFormat = z.enum(['json', 'markdown']);
export type ExportFormat = z.infer<typeof ExportFormat>;

/** A file the UI can save or download as-is. */
export const ExportFile = z.strictObject({ filename: z.string(), mimeType: z.string(), content: z.string() });
export type ExportFile = z.infer<typeof ExportFile>;

/** Token ids of a text and the display string of each token. */
export const TokenizeResult = z.strictObject({ ids: z.array(z.int()), tokens: z.array(z.string()) });
export type TokenizeResult = z.infer<typeof TokenizeResult>;

// ---------------------------------------------------------------- compare
// One prompt on 2-4 columns (model + precision + device); the arithmetic on these shapes is in compare.ts.

/**
 * Where a column is scheduled: a local device, or `remote:<engine>` (one lane per remote engine,
 * so two columns on one server do not share its GPU while their speeds are measured).
 */
export const CompareLaneName = z.union([DeviceName, z.templateLiteral(['remote:', z.string().min(1)])]);
export type CompareLaneName = z.infer<typeof CompareLaneName>;

/** Fewest and most columns a comparison has. */
export const COMPARE_COLUMNS = { min: 2, max: 4 } as const;

/** What one column runs: a stored model, or a remote engine's (`remote:<engine>/<model>`, whose precision and device are the server's). */
export const CompareColumnSpec = z.strictObject({
  modelId: GenerationModelId,
  precision: PrecisionRequest.default('auto'),
  device: DeviceRequest.default('auto'),
});
export type CompareColumnSpec = z.infer<typeof CompareColumnSpec>;
export type CompareColumnSpecInput = z.input<typeof CompareColumnSpec>;

/** The sampling and length parameters every column shares (one sequence per column, each column names its device). */
export const CompareParams = GenerationParams.omit({ numReturnSequences: true, device: true, maxLength: true });
export type CompareParams = z.infer<typeof CompareParams>;

/** A comparison to run. */
export const CompareRequest = z.strictObject({
  prompt: z.string().min(1, 'the prompt is empty').max(LIMITS.maxTextChars),
  columns: z.array(CompareColumnSpec).min(COMPARE_COLUMNS.min, `a comparison has at least ${COMPARE_COLUMNS.min} columns`).max(COMPARE_COLUMNS.max, `a comparison has at most ${COMPARE_COLUMNS.max} columns`),
  params: CompareParams.default(CompareParams.parse({})),
});
export type CompareRequest = z.infer<typeof CompareRequest>;
export type CompareRequestInput = z.input<typeof CompareRequest>;

const Ms = z.number().min(0);

/** What one column produced and what it cost. */
export const CompareColumnResult = z.strictObject({
  spec: CompareColumnSpec,
  status: z.enum(['done', 'cancelled', 'failed']),
  /** The device the decoder ran on (a fallback names the cpu and gives its reason); 'remote' on a remote engine, which does not say. */
  device: GenerationDevice,
  deviceFallbackReason: z.string().optional(),
  precision: Precision.nullable(),
  /** The lane the column was scheduled in: columns of one lane ran one after another. */
  lane: CompareLaneName,
  text: z.string(),
  tokenIds: z.array(z.int().min(0)),
  /**
   * A remote column's server sends text, not token ids: its tokenIds are this local model's
   * tokenizer's reading of the text (what the local models score and the first divergence counts).
   */
  tokenizedBy: ModelId.optional(),
  finishReason: FinishReason.nullable(),
  promptTokens: z.int().min(0),
  truncatedPromptTokens: z.int().min(0),
  timings: Timings,
  /** From the column's start in the engine to its first streamed text (includes the load when the model was not loaded). */
  ttftMs: Ms.nullable(),
  /** The column's whole run in the engine. */
  totalMs: Ms,
  /** Largest resident set of the process that ran the engine while this column ran; null on a remote engine, whose memory is not ours to measure. */
  peakRssBytes: z.number().min(0).nullable(),
  /** Milliseconds since the comparison started: when the column started and ended (the schedule as it ran). */
  startedAtMs: Ms,
  endedAtMs: Ms,
  error: ApiErrorShape.optional(),
});
export type CompareColumnResult = z.infer<typeof CompareColumnResult>;

/** One column's token at the first divergence, with every column's model's probability for it. */
export const DivergenceToken = z.strictObject({
  column: z.int().min(0),
  /** null: the column had already ended there. */
  tokenId: z.int().min(0).nullable(),
  text: z.string(),
  /** Probability of this token under each column's model (index = scoring column); null where not scored. */
  probabilities: z.array(z.number().min(0).max(1).nullable()),
  /** Per scoring column: why its probability is null (absent or null where there is a number, or on entries saved before notes were kept). */
  notes: z.array(z.string().nullable()).optional(),
});
export type DivergenceToken = z.infer<typeof DivergenceToken>;

/** Where the columns' outputs first differ, token by token. */
export const CompareDivergence = z.strictObject({
  /** Index into the generated tokens (0: the very first new token). */
  position: z.int().min(0),
  /** The text every column shares before that point. */
  commonText: z.string(),
  tokens: z.array(DivergenceToken),
});
export type CompareDivergence = z.infer<typeof CompareDivergence>;

/** A finished comparison as saved to history. */
export const Comparison = z.strictObject({
  id: z.int().min(1),
  createdAt: z.string(),
  prompt: z.string(),
  /** The parameters as run, seed included. */
  params: CompareParams,
  seed: z.int().min(0).max(0xffff_ffff),
  columns: z.array(CompareColumnResult),
  /** perplexity[scorer][column]: how surprised column `scorer`'s model is by column `column`'s output; null where it could not be scored. */
  perplexity: z.array(z.array(z.number().min(0).nullable())),
  /** Per scoring column: why its row of the perplexity matrix has no numbers (e.g. a remote server that returns no prompt log-probabilities). */
  scoreNotes: z.array(z.string().nullable()).optional(),
  /** null when every column wrote the same tokens (or fewer than two produced any). */
  divergence: CompareDivergence.nullable(),
  /** Why there is no divergence although the columns' texts differ (no local tokenizer to count tokens with). */
  divergenceNote: z.string().optional(),
});
export type Comparison = z.infer<typeof Comparison>;

/** A comparison without what the store assigns. */
export type NewComparison = Omit<Comparison, 'id' | 'createdAt'>;

/** One page of saved comparisons. */
export const ComparisonPage = z.strictObject({ entries: z.array(Comparison), total: z.int().min(0) });
export type ComparisonPage = z.infer<typeof ComparisonPage>;

/** Which saved comparisons a list or an export covers. */
export const ComparisonFilters = z.strictObject({
  /** The history search syntax (src/shared/search-syntax.ts) over the prompt and every column's output. */
  query: z.string().max(LIMITS.maxQueryChars).default(''),
  modelId: GenerationModelId.optional(),
});

/** A column's lane, as the schedule is told at the start. */
export const CompareLane = z.strictObject({ device: CompareLaneName, columns: z.array(z.int().min(0)) });
export type CompareLane = z.infer<typeof CompareLane>;

/** Streamed while a comparison runs (ServerEvent channel 'compare'). */
export const CompareEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('started'), comparisonId: z.string(), seed: z.int().min(0), lanes: z.array(CompareLane) }),
  z.strictObject({
    type: z.literal('column-started'),
    comparisonId: z.string(),
    column: z.int().min(0),
    device: GenerationDevice,
    /** null on a remote engine, which does not say. */
    precision: Precision.nullable(),
    promptTokens: z.int().min(0),
  }),
  z.strictObject({ type: z.literal('delta'), comparisonId: z.string(), column: z.int().min(0), text: z.string() }),
  z.strictObject({ type: z.literal('column-done'), comparisonId: z.string(), column: z.int().min(0), result: CompareColumnResult }),
  z.strictObject({ type: z.literal('scoring'), comparisonId: z.string() }),
  z.strictObject({ type: z.literal('done'), comparisonId: z.string(), comparison: Comparison }),
  z.strictObject({ type: z.literal('error'), comparisonId: z.string(), error: ApiErrorShape }),
]);
export type CompareEvent = z.infer<typeof CompareEvent>;

// ---------------------------------------------------------------- methods

const Empty = z.strictObject({});
const Deleted = z.strictObject({ deleted: z.boolean() });

/** Which history entries a list or an export covers. */
const HistoryFilters = z.strictObject({
  /**
   * What the writer typed: `"a phrase"` matches as written, `word*` a word starting with "word",
   * anything else is literal text; every term must occur (prompt, memory or a candidate).
   */
  query: z.string().max(LIMITS.maxQueryChars).default(''),
  modelId: GenerationModelId.optional(),
  /** ISO dates (inclusive); `from` later than `to` is refused. */
  from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
  starredOnly: z.boolean().default(false),
  documentId: Id.optional(),
});

const HistoryQuery = z.strictObject({
  ...HistoryFilters.shape,
  limit: z.int().min(1).max(LIMITS.maxPageSize).default(50),
  offset: z.int().min(0).max(1_000_000).default(0),
});

/**
 * The method table: request and response schema per method. Adding a method here is the only
 * place a new call is declared: the preload's list, the bridge type (shared/bridge.ts), both
 * transports and the service's handler table are derived from it.
 */
export const methods = {
  'app.info': { request: Empty, response: AppInfo },

  'models.list': { request: Empty, response: z.array(ModelSummary) },
  'models.status': { request: Empty, response: EngineStatus },
  'models.import': {
    request: z.strictObject({ path: z.string().min(1).max(4096), id: ModelId }),
    response: ModelSummary,
  },
  'models.remove': { request: z.strictObject({ id: ModelId }), response: z.strictObject({ removed: z.literal(true) }) },

  'generate.start': {
    request: z.strictObject({
      modelId: GenerationModelId,
      /** Text before the cursor (with the author's note inserted), see composePrompt. */
      prompt: Text,
      /** Kept at the start of the prompt whatever is cut from the left of `prompt` to fit the window. */
      memory: Text.default(''),
      params: GenerationParams,
      documentId: Id.nullable().default(null),
    }),
    response: z.strictObject({ generationId: z.string() }),
  },
  'generate.cancel': {
    request: z.strictObject({ generationId: z.string().min(1).max(LIMITS.maxIdChars) }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },
  /**
   * A generation's state: running (with each sequence's text so far) or finished (with its result
   * or error). Finished generations are kept 10 minutes (at most 64); an unknown id is not_found.
   * A client that reconnects its event stream calls this to resync.
   */
  'generate.get': {
    request: z.strictObject({ generationId: z.string().min(1).max(LIMITS.maxIdChars) }),
    response: GenerationState,
  },
  /** A remote model's id is refused: its tokenizer is on the server. */
  tokenize: {
    request: z.strictObject({ modelId: GenerationModelId, text: Text }),
    response: TokenizeResult,
  },

  'history.list': { request: HistoryQuery, response: HistoryPage },
  'history.get': { request: z.strictObject({ id: Id }), response: HistoryEntry },
  'history.star': {
    request: z.strictObject({ id: Id, starred: z.boolean() }),
    response: HistoryEntry,
  },
  'history.accept': {
    request: z.strictObject({ id: Id, candidateIndex: z.int().min(0).max(LIMITS.maxCandidates - 1).nullable() }),
    response: HistoryEntry,
  },
  'history.delete': { request: z.strictObject({ id: Id }), response: Deleted },
  /** Every entry the filters match (all of them, not a page), oldest first; `ids` narrows it to those entries. */
  'history.export': {
    request: z.strictObject({
      format: ExportFormat,
      ids: z.array(Id).max(10_000).optional(),
      ...HistoryFilters.shape,
    }),
    response: ExportFile,
  },

  'documents.list': { request: Empty, response: z.array(DocumentSummary) },
  'documents.get': { request: z.strictObject({ id: Id }), response: DocumentFull },
  'documents.create': {
    request: z.strictObject({
      /** Absent, blank or "Untitled": the document takes its first line as its title (autoTitle). */
      title: z.string().max(LIMITS.maxTitleChars).optional(),
      content: Text.default(''),
    }),
    response: DocumentFull,
  },
  'documents.save': {
    request: z.strictObject({
      id: Id,
      /** A title the writer chose (autoTitle false from then on); null: follow the first line again (autoTitle true). */
      title: z.string().min(1).max(LIMITS.maxTitleChars).nullable().optional(),
      content: Text.optional(),
      memory: Text.optional(),
      authorsNote: Text.optional(),
    }),
    response: DocumentFull,
  },
  'documents.delete': { request: z.strictObject({ id: Id }), response: Deleted },
  /** Desktop only: native open dialog; returns null when the user cancels. */
  'files.open': { request: Empty, response: z.strictObject({ name: z.string(), content: z.string() }).nullable() },
  /** Desktop only: native save dialog; returns the saved path or null when cancelled. */
  'files.save': {
    request: z.strictObject({ suggestedName: z.string().min(1).max(255), content: Text }),
    response: z.strictObject({ path: z.string() }).nullable(),
  },

  // ---- inspect (issue 8; payload encodings: docs/inspect.md, shapes: src/shared/inspect.ts)
  /**
   * Runs the inspect pass over a text or token ids (or finds it held) and returns its summary: the
   * tokens, the model's shape and the payload sizes. Every call below that names the same target
   * reads the held pass; one that is no longer held runs it again. A remote model is refused.
   */
  'inspect.run': { request: z.strictObject({ target: InspectTarget }), response: InspectSummary },
  /** One layer's attention of every head, float16 lower triangles. */
  'inspect.attention': { request: z.strictObject({ target: InspectTarget, layer: LayerIndex }), response: AttentionLayer },
  /** Every layer × head pooled to at most size × size uint8 cells, for the model view. */
  'inspect.overview': {
    request: z.strictObject({ target: InspectTarget, size: z.int().min(1).max(INSPECT_LIMITS.maxOverviewSize).default(64) }),
    response: AttentionOverview,
  },
  /** The logit lens after block `layer`: the top k tokens at every position, read through ln_f and lm_head. */
  'inspect.lens': {
    request: z.strictObject({ target: InspectTarget, layer: LayerIndex, k: z.int().min(1).max(INSPECT_LIMITS.maxLensTop).default(5) }),
    response: LensLayer,
  },
  /** The log-probability of every token given the ones before it, with the top 10 alternatives. */
  'inspect.probs': { request: z.strictObject({ target: InspectTarget }), response: NextTokenProbabilities },
  /** The sinusoidal encoding beside the model's learned position embeddings (wpe), with their cosine similarities. */
  'inspect.positional': { request: PositionalRequest, response: PositionalEncodings },
  /** GPT-2 token chips of a text or of token ids (the tokenizer only: no pass runs, any length). */
  'inspect.tokens': {
    request: z
      .strictObject({ modelId: InspectModelId, text: Text.optional(), tokenIds: z.array(z.int().min(0)).max(1_000_000).optional() })
      .refine((r) => (r.text === undefined) !== (r.tokenIds === undefined), 'give either text or tokenIds, not both'),
    response: Gpt2Tokens,
  },
  /** BERT WordPiece tokens (bert-base-uncased), or how to get its tokenizer when it is not installed. */
  'inspect.wordpiece': { request: z.strictObject({ text: Text }), response: WordPieceTokens },
  /** Installs bert-base-uncased's tokenizer from a folder holding its tokenizer.json or vocab.txt. */
  'inspect.importBertTokenizer': {
    request: z.strictObject({ path: z.string().min(1).max(4096) }),
    response: z.strictObject({ imported: z.literal(true) }),
  },

  'settings.get': { request: Empty, response: Settings },
  // Every key optional and WITHOUT defaults: zod 4's .partial() keeps defaults, which would reset unsent keys.
  'settings.set': {
    request: z.strictObject({
      theme: Theme.optional(),
      defaultModelId: GenerationModelId.nullable().optional(),
      device: DeviceRequest.optional(),
      generation: GenerationParams.optional(),
      authorsNoteDepth: z.int().min(0).max(50).optional(),
      modelDefaults: z.record(ModelId, ModelDefaultParams).optional(),
    }),
    response: Settings,
  },

  // ---- models
  /** The models Inkwell offers (GPT-2 family, BERT's tokenizer) with their sizes per precision, and where pulls go. */
  'models.catalog': { request: Empty, response: CatalogView },
  /** What the local Hugging Face cache holds. */
  'models.hfCache': { request: Empty, response: HfCacheView },
  /** Stored models with their variants and measured figures, what is loaded, and the free memory. */
  'models.overview': { request: Empty, response: ModelsOverview },
  /** The memory loading `id` in `precision` takes for `batch` × `sequenceLength` tokens, and whether it fits now. */
  'models.estimate': {
    request: z.strictObject({
      id: ModelId,
      precision: PrecisionRequest.default('auto'),
      batch: z.int().min(1).max(LIMITS.maxCandidates).default(1),
      sequenceLength: z.int().min(1).max(1_000_000).optional(),
    }),
    response: LoadEstimate,
  },
  /** Starts a background task; its progress arrives on the `task` channel. */
  'models.startTask': { request: TaskRequest, response: TaskState },
  'models.cancelTask': { request: z.strictObject({ taskId: z.string().min(1).max(LIMITS.maxIdChars) }), response: z.strictObject({ cancelled: z.boolean() }) },
  /** Running tasks and those finished in the last 10 minutes (a reconnecting client resyncs with it). */
  'models.tasks': { request: Empty, response: z.array(TaskState) },
  'models.unload': { request: z.strictObject({ id: ModelId }), response: z.strictObject({ unloaded: z.boolean() }) },
  'models.removeVariant': { request: z.strictObject({ id: ModelId, precision: VariantPrecision }), response: ModelDetails },
  /** Desktop only: the native folder picker; null when the user cancels. */
  'models.pickFolder': { request: Empty, response: z.strictObject({ path: z.string() }).nullable() },
  // ---- compare
    /** Runs a comparison; progress arrives as 'compare' events, the saved result with 'done'. */
    'compare.start': { request: CompareRequest, response: z.strictObject({ comparisonId: z.string() }) },
    'compare.cancel': {
      request: z.strictObject({ comparisonId: z.string().min(1).max(LIMITS.maxIdChars) }),
      response: z.strictObject({ cancelled: z.boolean() }),
    },
    'compare.list': {
      request: z.strictObject({
        ...ComparisonFilters.shape,
        limit: z.int().min(1).max(LIMITS.maxPageSize).default(50),
        offset: z.int().min(0).max(1_000_000).default(0),
      }),
      response: ComparisonPage,
    },
    'compare.get': { request: z.strictObject({ id: z.int().min(1) }), response: Comparison },
    'compare.delete': { request: z.strictObject({ id: z.int().min(1) }), response: z.strictObject({ deleted: z.boolean() }) },
    /** Every saved comparison the filters match (or just `ids`), oldest first. */
    'compare.export': {
      request: z.strictObject({ format: ExportFormat, ids: z.array(z.int().min(1)).max(10_000).optional(), ...ComparisonFilters.shape }),
      response: z.strictObject({ filename: z.string(), mimeType: z.string(), content: z.string() }),
    },
  // ---- remote engines (src/shared/remote-engines.ts): OpenAI-compatible servers as model sources
  /** The engines in Settings, where each one's key is, and whether keys can be stored here. */
  'remoteEngines.list': { request: Empty, response: z.strictObject({ engines: z.array(RemoteEngineInfo), keyStorage: RemoteKeyStorage }) },
  /** Adds an engine, or changes the one named `previousName` (renaming moves its key). */
  'remoteEngines.save': {
    request: z.strictObject({ engine: RemoteEngineSettings, previousName: RemoteEngineName.optional() }),
    response: RemoteEngineInfo,
  },
  /** Removes an engine and its stored key. */
  'remoteEngines.remove': { request: z.strictObject({ name: RemoteEngineName }), response: z.strictObject({ removed: z.literal(true) }) },
  /** Stores an engine's API key in the OS keychain (write-only: no method returns it); refused where there is no keychain. */
  'remoteEngines.setKey': {
    request: z.strictObject({ name: RemoteEngineName, key: z.string().min(1, 'the key is empty').max(4096, 'the key is longer than 4096 characters') }),
    response: RemoteEngineInfo,
  },
  /** Deletes an engine's stored key. */
  'remoteEngines.deleteKey': { request: z.strictObject({ name: RemoteEngineName }), response: RemoteEngineInfo },
  /** Lists the engine's models with its current settings and key ("Test connection"); a failure is an answer, not an error. */
  'remoteEngines.test': { request: z.strictObject({ name: RemoteEngineName }), response: RemoteEngineTestResult },
  /** The models of every engine, for the model picker; an engine that cannot be reached is a problem, not an error. */
  'remoteEngines.models': { request: Empty, response: z.strictObject({ models: z.array(RemoteModelSummary), problems: z.array(RemoteEngineProblem) }) },
  // ---- batch
  /**
   * Runs every row of a prompts file into a JSONL results file on the back end's machine (the core
   * of `inkwell batch`): one batch at a time, its rows admitted only where a writer's own
   * generation still finds room. Progress comes on the `batch` channel. A results file that
   * already holds rows is refused unless `resume` (then rows it holds are skipped; it must have
   * been written for these prompts).
   */
  'batch.start': {
    request: z.strictObject({
      modelId: ModelId,
      precision: z.enum(['auto', ...Precision.options]).default('auto'),
      source: BatchSource,
      /** The results file (.jsonl), on the machine the back end runs on. */
      outPath: z.string().trim().min(1, 'choose a results file').max(BATCH_LIMITS.maxPathChars),
      params: GenerationParams,
      concurrency: z.int().min(1).max(BATCH_LIMITS.maxConcurrency).default(4),
      resume: z.boolean().default(false),
    }),
    response: BatchState,
  },
  'batch.cancel': {
    request: z.strictObject({ batchId: z.string().min(1).max(LIMITS.maxIdChars) }),
    response: z.strictObject({ cancelled: z.boolean() }),
  },
  /** The running batch, else the last one this back end ran; null before any. */
  'batch.get': { request: Empty, response: BatchState.nullable() },
  /** The first rows of a results file and how many it holds. */
  'batch.preview': {
    request: z.strictObject({ path: z.string().trim().min(1).max(BATCH_LIMITS.maxPathChars) }),
    response: BatchPreview,
  },
  /** A results file as a download (serve mode); refused past BATCH_LIMITS.maxDownloadBytes. */
  'batch.download': {
    request: z.strictObject({ path: z.string().trim().min(1).max(BATCH_LIMITS.maxPathChars) }),
    response: ExportFile,
  },
  /** Desktop only: the native open dialog for a prompts file; null when cancelled. */
  'batch.pickPrompts': { request: Empty, response: z.strictObject({ path: z.string() }).nullable() },
  /** Desktop only: the native save dialog for a results file; null when cancelled. */
  'batch.pickResults': {
    request: z.strictObject({ suggestedPath: z.string().max(BATCH_LIMITS.maxPathChars).default('') }),
    response: z.strictObject({ path: z.string() }).nullable(),
  },
  /** Desktop only: shows the results file in the system's file manager. */
  'batch.reveal': {
    request: z.strictObject({ path: z.string().trim().min(1).max(BATCH_LIMITS.maxPathChars) }),
    response: z.strictObject({ shown: z.boolean() }),
  },
} as const;

export type MethodName = keyof typeof methods;
export type MethodRequest<M extends MethodName> = z.input<(typeof methods)[M]['request']>;
export type MethodParsedRequest<M extends MethodName> = z.output<(typeof methods)[M]['request']>;
export type MethodResponse<M extends MethodName> = z.output<(typeof methods)[M]['response']>;
export const methodNames = Object.keys(methods) as MethodName[];

/** Validates a request for `method`; throws ApiError('invalid_request') naming the bad field. */
export function parseRequest<M extends MethodName>(method: string, payload: unknown): { method: M; params: MethodParsedRequest<M> } {
  if (!Object.hasOwn(methods, method)) throw new ApiError('invalid_request', `unknown method "${String(method).slice(0, 64)}"`);
  const schema = methods[method as M].request;
  const result = schema.safeParse(payload ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    // Keys are the caller's: an unknown 5 M-character key must not come back in a 5 MB error.
    const where = issue && issue.path.length > 0 ? issue.path.map((part) => clipText(String(part), 64)).join('.') : 'request';
    throw new ApiError('invalid_request', clipText(`${method}: ${where}: ${issue?.message ?? 'invalid'}`, LIMITS.maxErrorChars));
  }
  return { method: method as M, params: result.data as MethodParsedRequest<M> };
}

/** `text` cut to `max` characters, an ellipsis marking the cut. */
export function clipText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** What the renderer calls: one transport-neutral surface. */
export interface InkwellApi {
  call<M extends MethodName>(method: M, params: MethodRequest<M>): Promise<MethodResponse<M>>;
  /** Subscribes to server events; returns an unsubscribe function. */
  subscribe(listener: (event: ServerEvent) => void): () => void;
}
