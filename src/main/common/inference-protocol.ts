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
import { GenerationParams, LIMITS, ModelId } from '../../shared/api';

/** Bumped when a message shape changes; the child reports it in its hello. */
export const PROTOCOL_VERSION = 1;

const Text = z.string().max(LIMITS.maxTextChars);
const Seq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const Device = z.enum(['cpu', 'webgpu', 'cuda']);
const Floats = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');

/** Error kinds the inference process reports (the engine's kinds). */
export const InferenceErrorKind = z.enum(['bad_input', 'not_found', 'refused', 'cancelled', 'device', 'internal']);
export type InferenceErrorKind = z.infer<typeof InferenceErrorKind>;

/** Argument schema of every operation the inference process serves. */
export const inferenceArgs = {
  generate: z.strictObject({ modelId: ModelId, prompt: Text, memory: Text, params: GenerationParams }),
  /** Aborts the generation that was sent with sequence number `target`. */
  cancel: z.strictObject({ target: Seq }),
  tokenize: z.strictObject({ modelId: ModelId, text: Text }),
  logits: z.strictObject({ modelId: ModelId, prompt: Text, all: z.boolean() }),
  importModel: z.strictObject({ srcDir: z.string().min(1).max(4096), id: ModelId }),
  unload: z.strictObject({ modelId: ModelId }),
  status: z.strictObject({}),
  probe: z.strictObject({}),
} as const;

const CandidateSchema = z.strictObject({
  text: z.string(),
  tokenIds: z.array(z.int()),
  finishReason: z.enum(['stop', 'length', 'cancelled']),
});
const TimingsSchema = z.strictObject({
  loadMs: z.number(),
  prefillMs: z.number(),
  decodeMs: z.number(),
  tokensPerSecond: z.number(),
});
const DeviceStatusSchema = z.strictObject({ name: Device, available: z.boolean(), reason: z.string().optional() });

/** Result schema of every operation. */
export const inferenceResults = {
  generate: z.strictObject({
    modelId: z.string(),
    device: Device,
    deviceFallbackReason: z.string().optional(),
    seed: z.int().min(0),
    promptTokens: z.int().min(0),
    truncatedPromptTokens: z.int().min(0),
    sequences: z.array(CandidateSchema),
    timings: TimingsSchema,
  }),
  cancel: z.strictObject({ cancelled: z.boolean() }),
  tokenize: z.strictObject({ ids: z.array(z.int()), tokens: z.array(z.string()) }),
  logits: z.strictObject({
    tokenIds: z.array(z.int()),
    logitsLast: Floats,
    logits: z.array(Floats).optional(),
  }),
  importModel: z.strictObject({
    id: z.string(),
    name: z.string(),
    nLayer: z.int(),
    nEmbd: z.int(),
    nHead: z.int(),
    nPositions: z.int(),
    vocabSize: z.int(),
    parameters: z.number(),
    dtype: z.enum(['F32', 'F16', 'BF16']),
    sizeBytes: z.number(),
    importedAt: z.string(),
  }),
  unload: z.strictObject({}),
  status: z.strictObject({ pid: z.int(), loaded: z.array(z.strictObject({ modelId: z.string(), device: Device })) }),
  probe: z.strictObject({ devices: z.array(DeviceStatusSchema) }),
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
  z.strictObject({
    type: z.literal('started'),
    device: Device,
    seed: z.int().min(0),
    promptTokens: z.int().min(0),
    truncatedPromptTokens: z.int().min(0),
    numSequences: z.int().min(1),
  }),
  z.strictObject({ type: z.literal('delta'), sequence: z.int().min(0), text: z.string() }),
]);
export type GenerationProgress = z.infer<typeof GenerationProgress>;

/** Main → inference process. */
export interface RequestMessage {
  seq: number;
  request: { op: InferenceOp; args: unknown };
}

/** Inference process → main. */
export type ReplyMessage =
  | { hello: { pid: number; protocol: number } }
  | { seq: number; result: unknown }
  | { seq: number; error: { kind: InferenceErrorKind; message: string } }
  | { seq: number; event: GenerationProgress };

const RequestEnvelope = z.strictObject({
  seq: Seq,
  request: z.strictObject({ op: z.string().max(64), args: z.unknown() }),
});

const ReplyEnvelope = z.union([
  z.strictObject({ hello: z.strictObject({ pid: z.int(), protocol: z.int() }) }),
  z.strictObject({ seq: Seq, result: z.unknown() }),
  z.strictObject({ seq: Seq, error: z.strictObject({ kind: InferenceErrorKind, message: z.string().max(100_000) }) }),
  z.strictObject({ seq: Seq, event: GenerationProgress }),
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
