/**
 * Test fixture: a random checkpoint folder with its ONNX graphs built into <dir>/onnx,
 * the store's layout (so transformers.js can load <dir>/onnx/model.onnx beside config.json).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpoint } from '../../../../src/main/engine/checkpoint';
import { buildGpt2Onnx, type BuildOptions } from '../../../../src/main/engine/onnx';
import type { Gpt2Checkpoint } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../../../helpers/checkpoint-factory';

/** A checkpoint plus the graphs exported from it. */
export interface ExportedModel {
  readonly dir: string;
  readonly onnxDir: string;
  readonly ckpt: Gpt2Checkpoint;
  readonly decoderPath: string;
  readonly fullLogitsPath: string;
  readonly rowsPath: string;
}

/** A fresh temporary folder; remove it with `removeTempRoot`. */
export function makeTempRoot(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `inkwell-${prefix}-`));
}

/** Deletes a temporary folder made by `makeTempRoot`. */
export function removeTempRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** Writes a random checkpoint into root/name and exports it into root/name/onnx. */
export async function exportRandomModel(root: string, name: string, opts: RandomCheckpointOptions, build: BuildOptions = {}): Promise<ExportedModel> {
  const dir = join(root, name);
  await makeRandomCheckpoint(dir, opts);
  const ckpt = await readCheckpoint(dir);
  const onnxDir = join(dir, 'onnx');
  const paths = await buildGpt2Onnx(ckpt, onnxDir, build);
  return { dir, onnxDir, ckpt, ...paths };
}

/** Largest |a_i - b_i| and the largest |b_i| (the reference's scale). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return { diff, scale };
}

/**
 * Tolerance for float32 graph logits against the float64 reference: 1e-5 · max(1, max|logit|).
 * float32 rounds at 6e-8 relative; a GPT-2 forward chains ~10 rounded stages per layer with dot
 * products of up to 4·n_embd terms, so tiny models stay near 1e-6 relative (measured ≈ 4e-7).
 * 1e-5 leaves a 20× margin over the measured ≤ 5e-6 at max|logit| ≈ 10, and is still 20× below the
 * smallest real mistake tried: the erf Gelu in place of gelu_new moves these logits by 2e-3
 * (a position off by one moves them by 5).
 */
export function logitTolerance(scale: number): number {
  return 1e-5 * Math.max(1, scale);
}
