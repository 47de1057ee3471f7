/**
 * Small helpers the single-purpose bench modes (profiles, A/B runs) share: reading a flag's value
 * and building int64 feeds.
 */
import { Tensor } from 'onnxruntime-node';

/** The value after `flag` in `args`, if the flag is there. */
export function argValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
}

/** An int64 tensor of `values` shaped `dims`. */
export function int64(values: readonly number[], dims: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}
