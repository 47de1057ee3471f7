/**
 * Messages between a ThreadedDecoderSession and the decoder worker. KV caches never cross:
 * the caller names them by id, and only logits (transferred, not copied) come back.
 */
import type { DeviceReport, DeviceRequest, EngineErrorKind, Gpt2Config } from '../types';
import type { DecoderPaths } from './decoder';

/**
 * Caller → worker. Requests with `call` get exactly one reply; select, dispose and the batch
 * requests without `call` get none (the caller checks them against its own RowBook first).
 * A batch is created by its first request; row ids follow the same RowBook on both sides.
 */
export type DecoderRequest =
  | { type: 'open'; call: number; paths: DecoderPaths; config: Gpt2Config; device: DeviceRequest }
  | {
      type: 'step';
      call: number;
      batch: number;
      seqLen: number;
      inputIds: readonly number[];
      attentionMask: readonly number[];
      positionIds: readonly number[];
      pastId: number | null;
      presentId: number;
    }
  | { type: 'logitsAll'; call: number; ids: readonly number[] }
  | { type: 'batchPrefill'; call: number; batchId: number; tokens: readonly number[]; copies: number }
  | { type: 'batchDecode'; call: number; batchId: number; rows: readonly number[]; tokens: readonly number[] }
  | { type: 'batchExtend'; call: number; batchId: number; row: number; tokens: readonly number[] }
  | { type: 'batchTruncate'; batchId: number; row: number; length: number }
  | { type: 'batchRemove'; batchId: number; rows: readonly number[] }
  | { type: 'batchDispose'; batchId: number }
  | { type: 'select'; fromId: number; toId: number; rows: readonly number[] }
  | { type: 'dispose'; id: number }
  /** Runs a full garbage collection in the worker (when the process was started with --expose-gc). */
  | { type: 'collect' }
  | { type: 'release'; call: number };

/** An error as it crosses the thread: EngineErrors keep their kind, others have none. */
export interface WireError {
  kind: EngineErrorKind | null;
  message: string;
}

/** Worker → caller, one per request with a `call`. */
export type DecoderReply =
  | { call: number; ok: true; device?: DeviceReport; logits?: ArrayBuffer; logSumExp?: ArrayBuffer; kvBytes?: number }
  | { call: number; ok: false; error: WireError };
