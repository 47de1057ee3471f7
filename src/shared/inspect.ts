/**
 * The inspector's shapes (issue 8): what to inspect, the summary of an inspect pass, and the compact
 * payloads the panel fetches one at a time (a layer's attention as float16 lower triangles, the
 * all-layers overview as uint8, one layer of the logit lens, the positional encodings as float16).
 * docs/inspect.md describes each encoding; the helpers below read them.
 *
 * Typed arrays are part of these shapes: Electron IPC carries them as they are, serve mode as a
 * binary frame or base64 (wire-binary.ts). Pure TypeScript + zod: no Electron, Node or DOM.
 */
import { z } from 'zod';
import { isRemoteModelId } from './remote-engines';

// ---------------------------------------------------------------- limits

/** Bounds of the inspector's requests. */
export const INSPECT_LIMITS = {
  /** Token ids in one request; the model's own window (1024 for GPT-2) is checked by the engine. */
  maxTokenIds: 4096,
  /** Characters of text to inspect: GPT-2's 1024-token window is rarely more than 8 000 characters. */
  maxTextChars: 64_000,
  /** Overview cells per side. */
  maxOverviewSize: 128,
  /** Alternatives per position of the logit lens. */
  maxLensTop: 100,
} as const;

const Count = z.int().min(0);
const TokenId = z.int().min(0).max(10_000_000);

/** Layer indices: checked against the model by the engine. */
export const LayerIndex = z.int().min(0).max(1023);

/**
 * A model id the inspector accepts at the boundary: a stored model's id, or a remote model
 * (`remote:<engine>/<model>`), which is refused with a plain explanation rather than a schema error.
 */
export const InspectModelId = z
  .string()
  .min(1, 'model id must not be empty')
  .max(400, 'model id must be at most 400 characters')
  .refine((id) => isRemoteModelId(id) || /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(id), 'model id may use letters, digits, ".", "_" and "-", starting with a letter or digit');

/** What to inspect: a text (tokenized by the model) or exact token ids (a candidate's, as it was generated). */
export const InspectTarget = z
  .strictObject({
    modelId: InspectModelId,
    text: z.string().min(1, 'text must not be empty').max(INSPECT_LIMITS.maxTextChars, `text is longer than ${INSPECT_LIMITS.maxTextChars} characters`).optional(),
    tokenIds: z.array(TokenId).min(1, 'tokenIds must not be empty').max(INSPECT_LIMITS.maxTokenIds).optional(),
    device: z.enum(['auto', 'cpu', 'webgpu', 'cuda']).default('auto'),
  })
  .refine((t) => (t.text === undefined) !== (t.tokenIds === undefined), 'give either text or tokenIds, not both');
export type InspectTarget = z.infer<typeof InspectTarget>;
export type InspectTargetInput = z.input<typeof InspectTarget>;

// ---------------------------------------------------------------- tokens

/** A GPT-2 byte-level BPE token as a chip shows it (engine: inspect/token-view.ts). */
export const TokenChip = z.strictObject({
  id: Count,
  /** Its exact text, or null when it holds only part of a UTF-8 character (see group). */
  text: z.string().nullable(),
  /** Whitespace made visible (· ↵ → ⍽), partial characters as their bytes (⟨E2 80⟩). */
  label: z.string(),
  /** Its bytes in hex, e.g. "e2 80". */
  bytes: z.string(),
  /** Tokens first…last together spell `text` (set on tokens that hold part of a character). */
  group: z.strictObject({ first: Count, last: Count, text: z.string() }).optional(),
  /** A special token such as <|endoftext|>. */
  special: z.literal(true).optional(),
});
export type TokenChip = z.infer<typeof TokenChip>;

/** The GPT-2 tokens of a text. */
export const Gpt2Tokens = z.strictObject({
  modelId: z.string(),
  tokenIds: z.array(Count),
  tokens: z.array(TokenChip),
  /** The model's context window. */
  window: Count,
});
export type Gpt2Tokens = z.infer<typeof Gpt2Tokens>;

/** BERT WordPiece tokens, or why they cannot be shown and how to get the tokenizer. */
export const WordPieceTokens = z.discriminatedUnion('available', [
  z.strictObject({ available: z.literal(true), tokens: z.array(z.string()), ids: z.array(Count) }),
  z.strictObject({
    available: z.literal(false),
    /** The engine's explanation: which files are missing and where they go. */
    message: z.string(),
    /** The catalog name to pull (Models page, or `inkwell models pull <name>`). */
    pullName: z.string(),
  }),
]);
export type WordPieceTokens = z.infer<typeof WordPieceTokens>;

// ---------------------------------------------------------------- the pass

/** A likely token at one position. */
export const TopToken = z.strictObject({
  id: Count,
  /** Its text; bytes that are only part of a character are spelled "<0xE2>". */
  token: z.string(),
  /** Natural log. */
  logprob: z.number(),
});
export type TopToken = z.infer<typeof TopToken>;

/** What the model predicted at one position: positions[k] is about token k + 1 given tokens 0..k. */
export const PositionPrediction = z.strictObject({
  logprob: z.number(),
  /** Nats. */
  entropy: z.number(),
  top: z.array(TopToken),
});
export type PositionPrediction = z.infer<typeof PositionPrediction>;

/** The summary of an inspect pass. */
export const InspectSummary = z.strictObject({
  modelId: z.string(),
  device: z.enum(['cpu', 'webgpu', 'cuda']),
  deviceFallbackReason: z.string().optional(),
  tokenIds: z.array(Count),
  tokens: z.array(TokenChip),
  layers: z.int().min(1),
  heads: z.int().min(1),
  /** Bytes of one layer's attention payload, and of everything the back end holds for this pass. */
  sizes: z.strictObject({ attentionLayerBytes: Count, heldBytes: Count }),
  timings: z.strictObject({ loadMs: z.number(), forwardMs: z.number(), readoutMs: z.number() }),
  /** True when the pass was already held and nothing ran. */
  reused: z.boolean(),
});
export type InspectSummary = z.infer<typeof InspectSummary>;

/** Next-token probabilities of every position and after the last one. */
export const NextTokenProbabilities = z.strictObject({
  tokenIds: z.array(Count),
  /** S − 1 entries; positions[k] is about token k + 1. */
  positions: z.array(PositionPrediction),
  next: z.strictObject({ entropy: z.number(), top: z.array(TopToken) }),
});
export type NextTokenProbabilities = z.infer<typeof NextTokenProbabilities>;

const typed = <T>(Kind: abstract new (...args: never[]) => object, name: string) => z.custom<T>((value) => value instanceof Kind, `expected a ${name}`);
/** Typed-array schemas (values are checked by class; their lengths by the check functions below). Any backing buffer is accepted. */
export const Uint8s = typed<Uint8Array<ArrayBufferLike>>(Uint8Array, 'Uint8Array');
export const Uint16s = typed<Uint16Array<ArrayBufferLike>>(Uint16Array, 'Uint16Array');
export const Int32s = typed<Int32Array<ArrayBufferLike>>(Int32Array, 'Int32Array');
export const Float32s = typed<Float32Array<ArrayBufferLike>>(Float32Array, 'Float32Array');

/**
 * One layer's attention, every head: float16 bit patterns of each head's causal lower triangle, row
 * by row; query i on key j ≤ i of head h is at h·S(S+1)/2 + i(i+1)/2 + j.
 */
export const AttentionLayer = z.strictObject({
  layer: Count,
  heads: z.int().min(1),
  seqLen: z.int().min(1),
  encoding: z.literal('f16-tril'),
  data: Uint16s,
});
export type AttentionLayer = z.infer<typeof AttentionLayer>;

/** Every layer × head pooled to size × size cells (uint8, each row of cells sums to about 255). */
export const AttentionOverview = z.strictObject({
  layers: z.int().min(1),
  heads: z.int().min(1),
  seqLen: z.int().min(1),
  size: z.int().min(1),
  /** First token of each block (rows and columns use the same blocks). */
  blockStarts: z.array(Count),
  /** [(layer · heads + head) · size + I] · size + J. */
  data: Uint8s,
});
export type AttentionOverview = z.infer<typeof AttentionOverview>;

/** The logit lens after one block, with the texts of the ids it names. */
export const LensLayer = z.strictObject({
  layer: Count,
  seqLen: z.int().min(1),
  k: z.int().min(1),
  /** [S × k] most likely ids per position. */
  topIds: Int32s,
  /** [S × k] their log-probabilities. */
  topLogprobs: Float32s,
  /** [S − 1] log-probability at this depth of the token that actually follows each position. */
  nextLogprobs: Float32s,
  /** [S] nats. */
  entropy: Float32s,
  /** Text of every distinct id in topIds ("<0xE2>" for part of a character). */
  vocabulary: z.strictObject({ ids: z.array(Count), texts: z.array(z.string()) }),
});
export type LensLayer = z.infer<typeof LensLayer>;

/** A float16 matrix, rows × cols, row-major, with its range before rounding. */
export const HalfMatrix = z.strictObject({ rows: Count, cols: Count, data: Uint16s, min: z.number(), max: z.number() });
export type HalfMatrix = z.infer<typeof HalfMatrix>;

/** One encoding's values (positions × dimensions) and cosine similarities (positions × positions). */
export const PositionalEncoding = z.strictObject({ values: HalfMatrix, similarity: HalfMatrix });

/** The sinusoidal encoding beside the model's learned one (wpe). */
export const PositionalEncodings = z.strictObject({
  nPositions: Count,
  nEmbd: Count,
  positions: z.array(Count),
  dims: z.array(Count),
  similarityPositions: z.array(Count),
  sinusoidal: PositionalEncoding,
  learned: PositionalEncoding,
});
export type PositionalEncodings = z.infer<typeof PositionalEncodings>;

/** How much of the positional matrices to send. */
export const PositionalRequest = z.strictObject({
  modelId: InspectModelId,
  maxPositions: z.int().min(1).max(4096).optional(),
  maxDims: z.int().min(1).max(8192).optional(),
  maxSimilarityPositions: z.int().min(1).max(1024).optional(),
});

// ---------------------------------------------------------------- reading the payloads

/** Entries of one head's lower triangle over `seqLen` tokens. */
export function triangleSize(seqLen: number): number {
  return (seqLen * (seqLen + 1)) / 2;
}

/** Index of (head, query i, key j ≤ i) in an 'f16-tril' payload. */
export function trilIndex(seqLen: number, head: number, i: number, j: number): number {
  return head * triangleSize(seqLen) + (i * (i + 1)) / 2 + j;
}

/** Whether an attention payload's data has the length its header implies. */
export function attentionLayerIsWhole(payload: Pick<AttentionLayer, 'heads' | 'seqLen' | 'data'>): boolean {
  return payload.data.length === payload.heads * triangleSize(payload.seqLen);
}

/** Whether an overview's data has the length its header implies. */
export function overviewIsWhole(payload: Pick<AttentionOverview, 'layers' | 'heads' | 'size' | 'data' | 'blockStarts'>): boolean {
  return payload.data.length === payload.layers * payload.heads * payload.size * payload.size && payload.blockStarts.length === payload.size;
}

let halfTable: Float32Array | undefined;

/** Every float16 bit pattern's value (built once): index with the bits. */
export function halfValues(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToFloat(bits);
  }
  return halfTable;
}

/** One float16 bit pattern's value (IEEE 754 binary16: subnormals, infinities and NaN included). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float16 bit patterns → float32 values (exact). */
export function decodeHalfs(bits: Uint16Array): Float32Array {
  const table = halfValues();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i] as number] as number;
  return out;
}
