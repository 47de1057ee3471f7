/**
 * Weight precisions a stored model can run in, and the engine's rule for which one a device
 * gets when the caller does not say. fp32 is the imported graph; the others are variants that
 * `inkwell models convert` writes beside it (models/variants.ts).
 */
import type { DeviceName } from '../types';

import { Precision } from '../../../shared/api';

export { Precision } from '../../../shared/api';
/** Every precision, fp32 (the imported graph) first. */
export const PRECISIONS = Precision.options;
/** Precisions made by conversion (fp32 is always there). */
export const VARIANT_PRECISIONS = ['fp16', 'int8', 'int4'] as const;
/** A precision made by conversion. */
export type VariantPrecision = (typeof VARIANT_PRECISIONS)[number];
/** A precision request: a concrete precision, or the engine's default for the device. */
export type PrecisionRequest = Precision | 'auto';

/** True when `value` names a precision. */
export function isPrecision(value: unknown): value is Precision {
  return typeof value === 'string' && (PRECISIONS as readonly string[]).includes(value);
}

/** True when `value` names a precision made by conversion. */
export function isVariantPrecision(value: unknown): value is VariantPrecision {
  return typeof value === 'string' && (VARIANT_PRECISIONS as readonly string[]).includes(value);
}

/**
 * What 'auto' prefers per device, best first; the first one the model has is taken.
 * CPU: int8, because on the 2-core bench machine it decodes 2.5–3× faster than fp32 (bandwidth:
 * a quarter of the bytes) at a next-token KL divergence two orders of magnitude below int4's
 * (docs/performance.md, "Precision variants"); int4 is faster still and is the user's choice
 * when speed matters more than fidelity. GPUs: fp16, the precision their matmul units are
 * built for, with the residual stream kept in fp32 (onnx/precision-weights.ts); the CPU's
 * integer kernels (MatMulNBits with int8 activations) are CPU-specific.
 */
const PREFERENCE: Readonly<Record<DeviceName, readonly Precision[]>> = {
  cpu: ['int8', 'int4', 'fp32'],
  webgpu: ['fp16', 'fp32'],
  cuda: ['fp16', 'fp32'],
};

/** The precision 'auto' picks on `device` among those the model has (fp32 always qualifies). */
export function defaultPrecision(device: DeviceName, available: readonly Precision[]): Precision {
  return PREFERENCE[device].find((p) => p === 'fp32' || available.includes(p)) ?? 'fp32';
}
