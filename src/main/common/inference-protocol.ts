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
  DeviceStatus,
  EngineErrorKind,
  GenerationOutcome,
  GenerationParams,
  GenerationStartInfo,
  LIMITS,
  LoadedModel,
  ModelId,
  ModelSummary,
  Precision,
  TokenizeResult,
} from '../../shared/api';

/** Bumped when a message shape changes; the child reports it in its hello (2: heartbeats). */
export const PROTOCOL_VERSION = 2;

const Text = z.string().max(LIMITS.maxTextChars);
const Seq = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const Floats = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');

/** Error kinds the inference process reports: the engine's kinds. */
export const InferenceErrorKind = EngineErrorKind;
export type InferenceErrorKind = z.infer<typeof InferenceErrorKind>;

/** Argument schema of every operation the inference process serves. */
export const inferenceArgs = {
  /** `precision` absent: the engine's choice for the device (as 'auto'). */
  generate: z.strictObject({ modelId: ModelId, prompt: Text, memory: Text, params: GenerationParams, precision: z.enum(['auto', ...Precision.options]).optional() }),
  /** Aborts the generation that was sent with sequence number `target`. */
  cancel: z.strictObject({ target: Seq }),
  tokenize: z.strictObject({ modelId: ModelId, text: Text }),
  logits: z.strictObject({ modelId: ModelId, prompt: Text, all: z.boolean() }),
  importModel: z.strictObject({ srcDir: z.string().min(1).max(4096), id: ModelId }),
  unload: z.strictObject({ modelId: ModelId }),
  status: z.strictObject({}),
  probe: z.strictObject({}),
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
  | { seq: number; event: GenerationProgress };

const RequestEnvelope = z.strictObject({
  seq: Seq,
  request: z.strictObject({ op: z.string().max(64), args: z.unknown() }),
});

const ReplyEnvelope = z.union([
  z.strictObject({ hello: z.strictObject({ pid: z.int(), protocol: z.int() }) }),
  z.strictObject({ heartbeat: z.int().min(0) }),
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
