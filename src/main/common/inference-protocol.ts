/**
 * The numbered message protocol between the main process and the inference
 * process (Signal's `mainWorker` shape: `{seq, request}` in, `{seq, result}` or
 * `{seq, error}` out, plus `{seq, event}` for what a generation streams).
 *
 * Both sides validate what arrives from the other: a malformed message is
 * dropped and logged, never trusted and never fatal. Messages travel by
 * structured clone (Electron utilityProcess) or Node's "advanced"
 * serialization (child_process.fork), so typed arrays survive the trip.
 */
import { z } from 'zod';
import {
  DeviceRequest,
  DeviceStatus,
  EngineErrorKind,
  GenerationOutcome,
  GenerationParams,
  GenerationStartInfo,
  LIMITS,
  LoadedModel,
  ModelId,
  ModelSummary,
  PrecisionRequest,
  TokenizeResult,
} from '../../shared/api';
import { VariantPrecision } from '../../shared/devices';
import { LoadedModelView, LoadResult, TaskProgress } from '../../shared/models';

import {
  AttentionLayer,
  AttentionOverview,
  Gpt2Tokens,
  InspectSummary,
  INSPECT_LIMITS,
  LayerIndex,
  LensLayer,
  NextTokenProbabilities,
  PositionalEncodings,
  WordPieceTokens,
} from '../../shared/inspect';

/** Bumped when a message shape changes; the child reports it in its hello (2: heartbeats, 3: model tasks, 4: the inspect operations, 5: the compare operations, 6: generate's topLogprobs and tokenStrings). */
export const PROTOCOL_VERSION = 6;

const Text = z.string().max(LIMITS.maxTextChars);
const Seq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const Floats = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');

/** An inspect target as the inference process takes it: a stored model (remote ones are refused on the main side). */
const InspectTargetArgs = z
  .strictObject({
    modelId: ModelId,
    text: Text.min(1).optional(),
    tokenIds: z.array(z.int().min(0)).min(1).max(INSPECT_LIMITS.maxTokenIds).optional(),
    device: z.enum(['auto', 'cpu', 'webgpu', 'cuda']),
  })
  .refine((t) => (t.text === undefined) !== (t.tokenIds === undefined), 'give either text or tokenIds');

/** Error kinds the inference process reports: the engine's kinds. */
export const InferenceErrorKind = EngineErrorKind;
export type InferenceErrorKind = z.infer<typeof InferenceErrorKind>;

/** What a model task does, once the main side has resolved paths and ids. */
export const ModelTaskWork = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('pull'), name: z.string().min(1).max(200), id: ModelId.optional() }),
  z.strictObject({ kind: z.literal('cache-import'), name: z.string().min(1).max(200), id: ModelId.optional() }),
  z.strictObject({ kind: z.literal('folder-import'), srcDir: z.string().min(1).max(4096), id: ModelId }),
  z.strictObject({ kind: z.literal('convert'), id: ModelId, precision: VariantPrecision }),
]);
export type ModelTaskWork = z.infer<typeof ModelTaskWork>;

/** What a model task made: the stored model (absent for a tokenizer) and a line saying what happened. */
export const ModelTaskOutcome = z.strictObject({ modelId: z.string().optional(), message: z.string() });
export type ModelTaskOutcome = z.infer<typeof ModelTaskOutcome>;

/** Argument schema of every operation the inference process serves. */
export const inferenceArgs = {
  generate: z.strictObject({
    modelId: ModelId,
    prompt: Text,
    memory: Text,
    params: GenerationParams,
    /** Absent: the engine's choice for the device (as 'auto'). */
    precision: PrecisionRequest.optional(),
    /** Alternatives kept per generated token with their log-probabilities (the /v1 routes' `logprobs`). */
    topLogprobs: z.int().min(0).max(20).optional(),
  }),
  /** Aborts the generation that was sent with sequence number `target`. */
  cancel: z.strictObject({ target: Seq }),
  tokenize: z.strictObject({ modelId: ModelId, text: Text }),
  logits: z.strictObject({ modelId: ModelId, prompt: Text, all: z.boolean() }),
  importModel: z.strictObject({ srcDir: z.string().min(1).max(4096), id: ModelId }),
  unload: z.strictObject({ modelId: ModelId }),
  status: z.strictObject({}),
  probe: z.strictObject({}),
  // ---- models: background work of the Models page (progress streams as `task` events)
  modelTask: z.strictObject({ work: ModelTaskWork }),
  load: z.strictObject({ modelId: ModelId, precision: PrecisionRequest, device: DeviceRequest }),
  loadedModels: z.strictObject({}),
  // ---- inspect (issue 8): the engine's Inspector, BERT WordPiece
  inspect: z.strictObject({ target: InspectTargetArgs }),
  inspectProbs: z.strictObject({ target: InspectTargetArgs }),
  inspectAttention: z.strictObject({ target: InspectTargetArgs, layer: LayerIndex }),
  inspectOverview: z.strictObject({ target: InspectTargetArgs, size: z.int().min(1).max(INSPECT_LIMITS.maxOverviewSize) }),
  inspectLens: z.strictObject({ target: InspectTargetArgs, layer: LayerIndex, k: z.int().min(1).max(INSPECT_LIMITS.maxLensTop) }),
  inspectPositional: z.strictObject({
    modelId: ModelId,
    maxPositions: z.int().min(1).optional(),
    maxDims: z.int().min(1).optional(),
    maxSimilarityPositions: z.int().min(1).optional(),
  }),
  inspectTokens: z
    .strictObject({ modelId: ModelId, text: Text.optional(), tokenIds: z.array(z.int().min(0)).max(1_000_000).optional() })
    .refine((r) => (r.text === undefined) !== (r.tokenIds === undefined), 'give either text or tokenIds'),
  wordPiece: z.strictObject({ text: Text }),
  importBertTokenizer: z.strictObject({ srcDir: z.string().min(1).max(4096) }),
  // ---- compare
  /** A generation in the given precision, measured in the process (time to first token, peak memory). */
  compareGenerate: z.strictObject({ modelId: ModelId, prompt: Text, params: GenerationParams, precision: PrecisionRequest }),
  /** Log-probabilities of each continuation's tokens after the prompt under one model. */
  compareScore: z.strictObject({
    modelId: ModelId,
    precision: PrecisionRequest,
    device: DeviceRequest,
    prompt: Text,
    continuations: z.array(z.array(z.int().min(0)).max(LIMITS.maxNewTokens)).max(8),
  }),
  // ---- openai (/v1): the text of token ids, for logprobs in the completions format
  tokenStrings: z.strictObject({ modelId: ModelId, ids: z.array(z.int().min(0)).max(LIMITS.maxTextChars) }),
} as const;

/** Result schema of every operation: the API's own shapes where the API returns them as they are. */
export const inferenceResults = {
  generate: GenerationOutcome,
  cancel: z.strictObject({ cancelled: z.boolean() }),
  tokenize: TokenizeResult,
  logits: z.strictObject({
    tokenIds: z.array(z.int()),
    logitsLast: Floats,
    logits: z.array(Floats).optional(),
  }),
  importModel: ModelSummary,
  unload: z.strictObject({}),
  status: z.strictObject({ pid: z.int(), loaded: z.array(LoadedModel) }),
  probe: z.strictObject({ devices: z.array(DeviceStatus) }),
  modelTask: ModelTaskOutcome,
  load: LoadResult,
  loadedModels: z.strictObject({ loaded: z.array(LoadedModelView) }),
  // ---- inspect (issue 8): the API's own shapes, typed arrays included
  inspect: InspectSummary,
  inspectProbs: NextTokenProbabilities,
  inspectAttention: AttentionLayer,
  inspectOverview: AttentionOverview,
  inspectLens: LensLayer,
  inspectPositional: PositionalEncodings,
  inspectTokens: Gpt2Tokens,
  wordPiece: WordPieceTokens,
  importBertTokenizer: z.strictObject({}),
  // ---- compare
  compareGenerate: z.strictObject({ outcome: GenerationOutcome, ttftMs: z.number().min(0).nullable(), totalMs: z.number().min(0), peakRssBytes: z.number().min(0) }),
  compareScore: z.strictObject({ logprobs: z.array(z.array(z.number())), texts: z.array(z.array(z.string())) }),
  // ---- openai (/v1)
  tokenStrings: z.strictObject({ strings: z.array(z.string()) }),
} as const;

/** Names of the operations. */
export type InferenceOp = keyof typeof inferenceArgs;
/** What the main side sends for operation `O`. */
export type InferenceArgs<O extends InferenceOp> = z.input<(typeof inferenceArgs)[O]>;
/** What the inference process answers for operation `O`. */
export type InferenceResult<O extends InferenceOp> = z.output<(typeof inferenceResults)[O]>;
/** Every operation name, in declaration order. */
export const inferenceOps = Object.keys(inferenceArgs) as InferenceOp[];

/** Streamed by a running generation. */
export const GenerationProgress = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('started'), ...GenerationStartInfo.shape }),
  z.strictObject({ type: z.literal('delta'), sequence: z.int().min(0), text: z.string() }),
]);
export type GenerationProgress = z.infer<typeof GenerationProgress>;

/** Streamed by a running model task or load. */
export const TaskProgressEvent = z.strictObject({ type: z.literal('task'), progress: TaskProgress });
export type TaskProgressEvent = z.infer<typeof TaskProgressEvent>;

/** Anything a request streams before its answer. */
export type ProgressEvent = GenerationProgress | TaskProgressEvent;

/** Main → inference process. */
export interface RequestMessage {
  seq: number;
  request: { op: InferenceOp; args: unknown };
}

/** Inference process → main. */
export type ReplyMessage =
  | { hello: { pid: number; protocol: number } }
  | { heartbeat: number }
  | { seq: number; result: unknown }
  | { seq: number; error: { kind: InferenceErrorKind; message: string } }
  | { seq: number; event: ProgressEvent };

const RequestEnvelope = z.strictObject({
  seq: Seq,
  request: z.strictObject({ op: z.string().max(64), args: z.unknown() }),
});

const ReplyEnvelope = z.union([
  z.strictObject({ hello: z.strictObject({ pid: z.int(), protocol: z.int() }) }),
  z.strictObject({ heartbeat: z.int().min(0) }),
  z.strictObject({ seq: Seq, result: z.unknown() }),
  z.strictObject({ seq: Seq, error: z.strictObject({ kind: InferenceErrorKind, message: z.string().max(100_000) }) }),
  z.strictObject({ seq: Seq, event: z.union([GenerationProgress, TaskProgressEvent]) }),
]);

/** A request as the inference process sees it once checked. */
export type ParsedRequest =
  { [O in InferenceOp]: { ok: true; seq: number; op: O; args: z.output<(typeof inferenceArgs)[O]> } }[InferenceOp];

/**
 * Checks a message from the main process. `seq` is returned with a failure
 * whenever it could be read, so that the sender can be told what was wrong.
 */
export function parseRequestMessage(message: unknown): ParsedRequest | { ok: false; seq?: number; problem: string } {
  const envelope = RequestEnvelope.safeParse(message);
  if (!envelope.success) {
    const seq = Seq.safeParse((message as { seq?: unknown } | null)?.seq);
    return { ok: false, seq: seq.success ? seq.data : undefined, problem: `malformed request: ${describeIssue(envelope.error)}` };
  }
  const { seq, request } = envelope.data;
  if (!Object.hasOwn(inferenceArgs, request.op)) return { ok: false, seq, problem: `unknown operation "${request.op}"` };
  const op = request.op as InferenceOp;
  const args = inferenceArgs[op].safeParse(request.args);
  if (!args.success) return { ok: false, seq, problem: `${op}: ${describeIssue(args.error)}` };
  return { ok: true, seq, op, args: args.data } as ParsedRequest;
}

/** Checks a message from the inference process; a failure carries the reason. */
export function parseReplyMessage(message: unknown): { ok: true; message: ReplyMessage } | { ok: false; problem: string } {
  const parsed = ReplyEnvelope.safeParse(message);
  if (!parsed.success) return { ok: false, problem: `malformed reply: ${describeIssue(parsed.error)}` };
  return { ok: true, message: parsed.data as ReplyMessage };
}

/** Checks the result of operation `op`; the reason when it does not fit. */
export function parseResult<O extends InferenceOp>(op: O, value: unknown): { ok: true; result: InferenceResult<O> } | { ok: false; problem: string } {
  const parsed = inferenceResults[op].safeParse(value);
  if (!parsed.success) return { ok: false, problem: `${op} result: ${describeIssue(parsed.error)}` };
  return { ok: true, result: parsed.data as InferenceResult<O> };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const where = issue.path.length > 0 ? issue.path.join('.') : 'message';
  return `${where}: ${issue.message}`;
}
