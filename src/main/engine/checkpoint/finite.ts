/**
 * Scans a checkpoint's weights for NaN and ±Inf before the model is stored.
 * A non-finite weight turns every logit into NaN, and sampling then picks
 * nothing useful (empty text with finish "stop"); refusing at import names the
 * tensor instead. The test is on the exponent bits (all ones), so it reads
 * each element once as an integer without decoding F16/BF16.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Gpt2Checkpoint, TensorLocation, WeightDtype } from '../types';
import { EngineError } from '../types';
import { fileError, openRegularFile } from './files';

/** Bytes read per step: large enough for sequential throughput, small enough to stay in cache. */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** Exponent mask of each dtype: an element is NaN or ±Inf exactly when all these bits are set. */
const EXPONENT_MASK: Readonly<Record<WeightDtype, number>> = { F32: 0x7f800000, F16: 0x7c00, BF16: 0x7f80 };

/** Progress of a weight scan, in bytes. */
export interface ScanProgress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

/** Options of checkFiniteWeights. */
export interface ScanOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ScanProgress) => void;
}

/** Non-finite F32 elements (as int32 bits) and the index of the first; one loop per element type keeps each monomorphic. */
function countFloat32(view: Int32Array): { count: number; first: number } {
  const mask = EXPONENT_MASK.F32;
  let count = 0;
  let first = -1;
  for (let i = 0; i < view.length; i++) {
    if (((view[i] as number) & mask) === mask) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

function countHalf(view: Uint16Array, mask: number): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < view.length; i++) {
    if (((view[i] as number) & mask) === mask) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first };
}

/** Counts of non-finite elements in one chunk, and the index of the first one (the exponent mask fits int32 for F32). */
function countNonFinite(chunk: ArrayBuffer, length: number, dtype: WeightDtype): { count: number; first: number } {
  return dtype === 'F32' ? countFloat32(new Int32Array(chunk, 0, length / 4)) : countHalf(new Uint16Array(chunk, 0, length / 2), EXPONENT_MASK[dtype]);
}

/** Sorted by file and offset, so each file is read front to back. */
function inReadOrder(tensors: Iterable<TensorLocation>): TensorLocation[] {
  return [...tensors].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset));
}

/** Throws EngineError('bad_input') naming the first tensor of `ckpt` that holds a NaN or an infinity. */
export async function checkFiniteWeights(ckpt: Gpt2Checkpoint, options: ScanOptions = {}): Promise<void> {
  const tensors = inReadOrder(ckpt.tensors.values());
  const bytesTotal = tensors.reduce((sum, t) => sum + t.byteLength, 0);
  // An ArrayBuffer of our own keeps every chunk 4-byte aligned for the integer views.
  const chunk = new ArrayBuffer(CHUNK_BYTES);
  let bytesDone = 0;
  let open: { file: string; handle: FileHandle } | undefined;
  try {
    for (const t of tensors) {
      if (open?.file !== t.file) {
        const previous = open;
        open = undefined;
        await previous?.handle.close();
        open = { file: t.file, handle: (await openRegularFile(t.file)).handle };
      }
      const elementBytes = t.dtype === 'F32' ? 4 : 2;
      let count = 0;
      let first = -1;
      for (let at = 0; at < t.byteLength; at += CHUNK_BYTES) {
        options.signal?.throwIfAborted();
        const length = Math.min(CHUNK_BYTES, t.byteLength - at);
        await readExactly(open.handle, new Uint8Array(chunk, 0, length), t.offset + at, t.file);
        const found = countNonFinite(chunk, length, t.dtype);
        if (found.count > 0 && first < 0) first = at / elementBytes + found.first;
        count += found.count;
        bytesDone += length;
        options.onProgress?.({ bytesDone, bytesTotal });
      }
      if (count > 0) {
        const elements = t.byteLength / elementBytes;
        throw new EngineError('bad_input', `${t.file}: tensor ${t.name} holds ${count} NaN or infinite value${count === 1 ? '' : 's'} `
          + `(of ${elements}; the first at element ${first}): the weights are damaged or were saved after training diverged, and would generate no text`);
      }
    }
  } finally {
    await open?.handle.close();
  }
}

async function readExactly(handle: FileHandle, into: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  try {
    while (done < into.byteLength) {
      const { bytesRead } = await handle.read(into, done, into.byteLength - done, position + done);
      if (bytesRead === 0) throw new EngineError('bad_input', `${file}: ended while its weights were read (was it truncated?)`);
      done += bytesRead;
    }
  } catch (error) {
    throw error instanceof EngineError ? error : fileError(file, error);
  }
}
