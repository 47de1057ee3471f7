/**
 * The engine's internal contracts: what each part (checkpoint, onnx, runtime,
 * generate, models) hands to the next. Plain Node/TypeScript; no electron.
 * Shapes that cross the API (devices, finish reasons, error kinds, dtypes) are declared once in
 * src/shared/api.ts and re-exported here for the engine's modules.
 */
import type { DeviceName, DeviceRequest, EngineErrorKind, WeightDtype } from '../../shared/api';

export type { DeviceName, DeviceRequest, EngineErrorKind, FinishReason, WeightDtype } from '../../shared/api';

/** GPT-2 hyper-parameters read from a checkpoint's config.json. */
export interface Gpt2Config {
  readonly modelType: 'gpt2';
  readonly nLayer: number;
  readonly nEmbd: number;
  readonly nHead: number;
  readonly nPositions: number;
  readonly vocabSize: number;
  readonly layerNormEpsilon: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
}

/** Where one tensor's bytes live on disk (a slice of a file). */
export interface TensorLocation {
  /** Canonical GPT-2 name without the `transformer.` prefix, e.g. `h.0.attn.c_attn.weight`, `wte.weight`, `lm_head.weight`. */
  readonly name: string;
  readonly dtype: WeightDtype;
  readonly shape: readonly number[];
  /** Absolute path of the file holding the bytes. */
  readonly file: string;
  /** Absolute byte offset of the first element inside `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

/** A validated checkpoint: config plus the location of every weight. */
export interface Gpt2Checkpoint {
  readonly dir: string;
  readonly config: Gpt2Config;
  /** Keyed by canonical name. `lm_head.weight` is present only when stored untied. */
  readonly tensors: ReadonlyMap<string, TensorLocation>;
  /** True when lm_head is tied to wte (no separate lm_head.weight). */
  readonly tiedLmHead: boolean;
}

/** Why a result ran where it did. */
export interface DeviceReport {
  readonly requested: DeviceRequest;
  readonly used: DeviceName;
  /** Set when a requested/probed device failed and the engine fell back. */
  readonly fallbackReason?: string;
}

/** An error with a kind the CLI, API and UI can act on. */
export class EngineError extends Error {
  readonly kind: EngineErrorKind;
  constructor(kind: EngineErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
    this.kind = kind;
  }
}
