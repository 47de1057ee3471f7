/**
 * Places a checkpoint's weights for the ONNX graph as float32 external data:
 * F32 tensors are referenced in place inside model.safetensors, F16/BF16 tensors
 * are widened into one side file beside the graph.
 */
import { closeSync, copyFileSync, existsSync, linkSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { halfToNumber } from '../checkpoint/dtype';
import type { Gpt2Checkpoint, TensorLocation } from '../types';
import type { ExternalDataRef } from './proto';

/** The side file holding widened F16/BF16 weights, inside the graph folder. */
export const WIDENED_WEIGHTS_FILE = 'weights.f32.bin';

/** Offsets in the side file are multiples of this, so that every tensor starts cache-line and SIMD aligned. */
const SIDE_FILE_ALIGNMENT = 64;

/** Canonical weight name → float32 external data reference relative to the graph folder. */
export type Float32Weights = ReadonlyMap<string, ExternalDataRef>;

let halfTable: Float32Array | undefined;

/** All 65 536 half-precision bit patterns as float32 (exact), built once. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) table[bits] = halfToNumber(bits);
  halfTable = table;
  return table;
}

/** Widens little-endian F16 or BF16 elements to float32 (both conversions are exact). */
export function widenToFloat32(bytes: Uint8Array, dtype: 'F16' | 'BF16'): Float32Array {
  const count = bytes.byteLength >>> 1;
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: shift the bits into place.
    const wide = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) wide[i] = ((bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)) << 16;
    return out;
  }
  const table = halfToFloatTable();
  for (let i = 0; i < count; i++) out[i] = table[(bytes[2 * i] as number) | ((bytes[2 * i + 1] as number) << 8)] as number;
  return out;
}

/** `length` bytes of `file` from `offset`. */
export function readSlice(file: string, offset: number, length: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) throw new Error(`${file}: unexpected end of file reading ${length} bytes at offset ${offset}`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** An ONNX external-data location uses '/' on every platform. */
export function portableRelative(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}

/**
 * Makes `file` reachable from inside `outDir` and returns its path there. onnxruntime 1.30 refuses
 * external data whose resolved path leaves the model's folder ("External data path escapes model
 * directory"; symlinks are resolved too), so a weights file outside `outDir` gets a hard link in it:
 * same bytes, no extra disk. Across file systems, where links are impossible, it is copied.
 */
export function bringIntoFolder(file: string, outDir: string, written: string[]): string {
  const rel = relative(resolve(outDir), resolve(file));
  if (rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..') return file;
  const target = join(outDir, basename(file));
  if (existsSync(target)) {
    const [a, b] = [statSync(target), statSync(file)];
    if (a.ino === b.ino && a.dev === b.dev) return target;
    rmSync(target);
  }
  written.push(target);
  try {
    linkSync(file, target);
  } catch {
    copyFileSync(file, target);
  }
  return target;
}

/**
 * Returns float32 external references for every tensor of `ckpt`, relative to `outDir`:
 * F32 tensors point into the checkpoint's weights file (hard-linked into `outDir`), other
 * dtypes are widened into `outDir/weights.f32.bin`. Every file it creates is appended to
 * `written` as soon as it exists, so the caller can remove them after a failure. With
 * `reuseWidened`, a side file of the expected size is taken as written by an earlier call (the
 * layout is deterministic) and left untouched: a session may have it mapped.
 */
export function placeFloat32Weights(ckpt: Gpt2Checkpoint, outDir: string, written: string[], reuseWidened = false): Float32Weights {
  const weights = new Map<string, ExternalDataRef>();
  const reachable = new Map<string, string>();
  const toWiden: TensorLocation[] = [];
  for (const t of ckpt.tensors.values()) {
    if (t.dtype !== 'F32') {
      toWiden.push(t);
      continue;
    }
    let local = reachable.get(t.file);
    if (local === undefined) {
      local = bringIntoFolder(t.file, outDir, written);
      reachable.set(t.file, local);
    }
    weights.set(t.name, { location: portableRelative(outDir, local), offset: t.offset, length: t.byteLength });
  }
  if (toWiden.length === 0) return weights;

  const sidePath = join(outDir, WIDENED_WEIGHTS_FILE);
  if (reuseWidened && existsSync(sidePath)) {
    let at = 0;
    const planned = new Map<string, ExternalDataRef>();
    for (const t of toWiden) {
      at += (SIDE_FILE_ALIGNMENT - (at % SIDE_FILE_ALIGNMENT)) % SIDE_FILE_ALIGNMENT;
      const length = t.byteLength * 2;
      planned.set(t.name, { location: WIDENED_WEIGHTS_FILE, offset: at, length });
      at += length;
    }
    if (statSync(sidePath).size === at) {
      for (const [name, ref] of planned) weights.set(name, ref);
      return weights;
    }
  }
  written.push(sidePath);
  const fd = openSync(sidePath, 'w');
  try {
    let at = 0;
    const padding = new Uint8Array(SIDE_FILE_ALIGNMENT);
    for (const t of toWiden) {
      const pad = (SIDE_FILE_ALIGNMENT - (at % SIDE_FILE_ALIGNMENT)) % SIDE_FILE_ALIGNMENT;
      if (pad > 0) at += writeSync(fd, padding, 0, pad);
      const wide = widenToFloat32(readSlice(t.file, t.offset, t.byteLength), t.dtype as 'F16' | 'BF16');
      const bytes = new Uint8Array(wide.buffer, wide.byteOffset, wide.byteLength);
      let done = 0;
      while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      weights.set(t.name, { location: WIDENED_WEIGHTS_FILE, offset: at, length: bytes.byteLength });
      at += bytes.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return weights;
}
