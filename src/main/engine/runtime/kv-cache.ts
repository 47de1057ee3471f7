/**
 * The KV cache as onnxruntime tensors (present.* of one step, fed back as past_key_values.*),
 * with row selection for prefill-once-then-tile and for reordering sequences.
 */
import { Tensor } from 'onnxruntime-node';
import { EngineError } from '../types';

/** A decoder's key/value cache: `batch` rows of `length` positions each. */
export interface KvCache {
  readonly batch: number;
  readonly length: number;
  /** rows repeated: row i of result = row rows[i] of this */
  select(rows: readonly number[]): KvCache;
  /** Frees the tensors (device memory on GPUs). The cache must not be used afterwards. */
  dispose(): void;
}

/** Runs a row gather on device-resident tensors (same order in, same order out). */
export type DeviceGather = (tensors: readonly Tensor[], rows: readonly number[]) => Promise<Tensor[]>;

/**
 * KvCache over the present tensors of one run, ordered key 0, value 0, key 1, value 1, ….
 * Tensors on the CPU are selected synchronously in JS; device tensors (gpu-buffer) go through
 * `deviceGather`, so `select` returns at once and the new tensors are awaited by the next step.
 */
export class OrtKvCache implements KvCache {
  private readonly pending = new Set<Promise<unknown>>();
  private disposed = false;

  constructor(
    private readonly source: readonly Tensor[] | Promise<readonly Tensor[]>,
    readonly batch: number,
    readonly length: number,
    private readonly deviceGather?: DeviceGather,
  ) {}

  /** The tensors, in key 0, value 0, key 1, … order (awaits a pending device gather). */
  async tensors(): Promise<readonly Tensor[]> {
    if (this.disposed) throw new EngineError('internal', 'KV cache used after dispose()');
    return this.source;
  }

  select(rows: readonly number[]): KvCache {
    if (this.disposed) throw new EngineError('internal', 'KV cache used after dispose()');
    if (rows.length === 0) throw new EngineError('internal', 'KvCache.select needs at least one row');
    for (const r of rows) {
      if (!Number.isInteger(r) || r < 0 || r >= this.batch) throw new EngineError('internal', `KvCache.select: row ${r} is outside 0..${this.batch - 1}`);
    }
    const source = this.source;
    if (Array.isArray(source) && source.every((t: Tensor) => t.location === 'cpu')) {
      return new OrtKvCache(source.map((t: Tensor) => selectRowsOnCpu(t, rows)), rows.length, this.length, this.deviceGather);
    }
    const gather = this.deviceGather;
    if (!gather) throw new EngineError('internal', 'KV cache lives on a device but no device gather was provided');
    const selected = Promise.resolve(source).then((tensors) => gather(tensors, rows));
    // The parent's buffers must outlive the gather that reads them, even if it is disposed first.
    const settled = selected.catch(() => undefined);
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
    return new OrtKvCache(selected, rows.length, this.length, gather);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const release = (tensors: readonly Tensor[]): void => tensors.forEach((t) => t.dispose());
    if (Array.isArray(this.source) && this.pending.size === 0) {
      release(this.source as readonly Tensor[]);
      return;
    }
    void Promise.allSettled([...this.pending]).then(() => Promise.resolve(this.source).then(release, () => undefined));
  }
}

/** Copies whole batch rows of a [B, …] float32 CPU tensor: row i of the result = row rows[i]. */
function selectRowsOnCpu(t: Tensor, rows: readonly number[]): Tensor {
  const [, ...rest] = t.dims;
  const rowSize = rest.reduce((a, b) => a * b, 1);
  const data = t.data as Float32Array;
  const out = new Float32Array(rows.length * rowSize);
  rows.forEach((r, i) => out.set(data.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
  return new Tensor('float32', out, [rows.length, ...rest]);
}
