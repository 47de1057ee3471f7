/**
 * Reads and validates a safetensors header without loading the tensor data
 * (format: https://github.com/huggingface/safetensors#format). Every offset is
 * checked against the file, so later readers can trust the locations.
 */
import { EngineError } from '../types';
import { describeJsonError, fileError, openRegularFile } from './files';

/** Byte sizes of every dtype the safetensors format defines. */
const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4, U64: 8, I64: 8, F64: 8,
};

/** The safetensors reference implementation refuses headers above 100 MB (MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor entry of a validated header; offsets are absolute file offsets. */
export interface SafetensorsEntry {
  readonly key: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly byteLength: number;
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  readonly file: string;
  readonly fileSize: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
}

function bad(file: string, problem: string): EngineError {
  return new EngineError('bad_input', `${file}: ${problem}`);
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Reads the header of `file` and validates dtypes, shapes and data offsets (contiguous, in-file, sized by shape). */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const { handle, size: fileSize } = await openRegularFile(file);
  try {
    if (fileSize < 8) throw bad(file, `truncated: ${fileSize} bytes, shorter than the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    await handle.read(lengthBytes, 0, 8, 0);
    const headerLength = lengthBytes.readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw bad(file, `header length ${headerLength} bytes is absurd (limit ${MAX_HEADER_BYTES}); not a safetensors file?`);
    }
    const n = Number(headerLength);
    if (n < 2) throw bad(file, `header length ${n} bytes is too small for a JSON header`);
    if (8 + n > fileSize) throw bad(file, `truncated: header needs ${n} bytes but the file has only ${fileSize - 8} after the length`);
    const headerBytes = Buffer.alloc(n);
    await handle.read(headerBytes, 0, n, 8);
    const entries = parseHeader(file, headerBytes, 8 + n, fileSize);
    return { file, fileSize, ...entries };
  } catch (error) {
    throw error instanceof EngineError ? error : fileError(file, error);
  } finally {
    await handle.close();
  }
}

function parseHeader(file: string, headerBytes: Buffer, dataStart: number, fileSize: number): Omit<SafetensorsHeader, 'file' | 'fileSize'> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw bad(file, 'header is not UTF-8 text; not a safetensors file?');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw bad(file, `header is not valid JSON (${describeJsonError(error, text)}); not a safetensors file?`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(file, 'header is not a JSON object');

  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const raw: { key: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, '__metadata__ is not an object');
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null) throw bad(file, `tensor ${key}: header entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string') throw bad(file, `tensor ${key}: dtype is missing`);
    const elementBytes = SAFETENSORS_DTYPE_BYTES[dtype];
    if (elementBytes === undefined) throw bad(file, `tensor ${key}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) throw bad(file, `tensor ${key}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      throw bad(file, `tensor ${key}: data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw bad(file, `tensor ${key}: data_offsets [${begin}, ${end}] end before they begin`);
    const expectedBytes = (shape as number[]).reduce((a, b) => a * b, elementBytes);
    if (!Number.isSafeInteger(expectedBytes) || end - begin !== expectedBytes) {
      throw bad(file, `tensor ${key}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} shape [${shape.join(', ')}] needs ${expectedBytes}`);
    }
    if (end > dataSize) {
      throw bad(file, `truncated: tensor ${key} ends at data byte ${end} but the file holds only ${dataSize} data bytes`);
    }
    raw.push({ key, dtype, shape: shape as number[], begin, end });
  }

  // The format stores tensors back to back with no holes or overlaps (the reference reader enforces it).
  raw.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: (typeof raw)[number] | undefined;
  for (const t of raw) {
    if (previous && t.begin < previous.end) throw bad(file, `tensor ${t.key}: data_offsets [${t.begin}, ${t.end}] overlap tensor ${previous.key} [${previous.begin}, ${previous.end}]`);
    previous = t;
  }
  let expected = 0;
  for (const t of raw) {
    if (t.begin > expected) throw bad(file, `tensor ${t.key}: data_offsets start at ${t.begin}, leaving a hole after byte ${expected} (tensors must be contiguous)`);
    expected = t.end;
  }
  if (expected !== dataSize) throw bad(file, `${dataSize - expected} bytes after the last tensor are not described by the header`);

  const entries = new Map<string, SafetensorsEntry>();
  for (const t of raw) {
    entries.set(t.key, { key: t.key, dtype: t.dtype, shape: t.shape, offset: dataStart + t.begin, byteLength: t.end - t.begin });
  }
  return { metadata, entries };
}
