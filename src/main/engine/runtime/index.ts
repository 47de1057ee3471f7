/**
 * The engine's only door to onnxruntime-node: device probing, the GPT-2 decoder
 * session and its KV cache.
 */
export { openDecoderInThread, type DecoderPaths, type DecoderSession, type StepInput, type StepOutput } from './decoder';
export { openDecoder } from './threaded-decoder';
export { probeDevices, AUTO_ORDER, EXECUTION_PROVIDER } from './devices';
export type { KvCache } from './kv-cache';
export type { DecoderBatch, RowLogits } from './row-batch';
export { kvBytesPerPosition } from './row-book';
