/**
 * Messages between a threaded InspectSession and the inspect worker: token ids and residual rows go
 * in, attention triangles, residual streams and readouts come back as (transferred) buffers.
 */
import type { DeviceReport, DeviceRequest, Gpt2Config } from '../types';
import type { WireError } from './decoder-protocol';
import type { InspectPaths } from './inspect-session';

/** Caller → worker; every request gets exactly one reply. */
export type InspectWorkerRequest =
  | { type: 'open'; call: number; paths: InspectPaths; config: Gpt2Config; device: DeviceRequest }
  | { type: 'forward'; call: number; ids: readonly number[] }
  | { type: 'readout'; call: number; hidden: ArrayBuffer; targets: readonly number[]; k: number }
  | { type: 'release'; call: number };

/** The buffers of a ForwardResult: float16 bits and float32 values, one per layer. */
export interface WireForward {
  attentions: ArrayBuffer[];
  hidden: ArrayBuffer[];
}

/** The buffers of a ReadoutResult. */
export interface WireReadout {
  topIds: ArrayBuffer;
  topLogprobs: ArrayBuffer;
  targetLogprobs: ArrayBuffer;
  entropy: ArrayBuffer;
}

/** Worker → caller. */
export type InspectWorkerReply =
  | { call: number; ok: true; device?: DeviceReport; forward?: WireForward; readout?: WireReadout }
  | { call: number; ok: false; error: WireError };
