/**
 * The names of where a model runs and in which weight precision: the execution providers and the
 * precision variants. Declared apart from api.ts so that the contract's area files (models.ts)
 * can use them without importing api.ts, which imports them (an import cycle would leave one
 * side's schemas undefined while the other is evaluated). api.ts re-exports every one.
 *
 * Pure TypeScript + zod: no Electron, Node or DOM imports (enforced by lint).
 */
import { z } from 'zod';

/** Execution providers Inkwell can run on. */
export const DeviceName = z.enum(['cpu', 'webgpu', 'cuda']);
export type DeviceName = z.infer<typeof DeviceName>;
/** Where a generation ran: a device of this machine, or 'remote' for a remote engine (which does not say). */
export const GenerationDevice = z.enum([...DeviceName.options, 'remote']);
export type GenerationDevice = z.infer<typeof GenerationDevice>;
/** The order in which 'auto' takes the first available device. */
export const AUTO_DEVICE_ORDER: readonly DeviceName[] = ['cuda', 'webgpu', 'cpu'];
/** A device request: a concrete device or automatic choice (CUDA → WebGPU → CPU). */
export const DeviceRequest = z.enum(['auto', ...DeviceName.options]);
export type DeviceRequest = z.infer<typeof DeviceRequest>;
/** Weight precisions a model can run in: fp32 is the imported graph, the others are variants made by conversion. */
export const Precision = z.enum(['fp32', 'fp16', 'int8', 'int4']);
export type Precision = z.infer<typeof Precision>;
/** A precision request: a concrete precision, or 'auto' (the engine's default for the device among the variants the model has). */
export const PrecisionRequest = z.enum(['auto', ...Precision.options]);
export type PrecisionRequest = z.infer<typeof PrecisionRequest>;
/** The precisions made by conversion (fp32 is always there). */
export const VariantPrecision = z.enum(['fp16', 'int8', 'int4']);
export type VariantPrecision = z.infer<typeof VariantPrecision>;
