/**
 * Element encodings of safetensors weight dtypes (F32, F16, BF16): byte sizes
 * and lossless decoding to float, plus round-to-nearest-even encoding.
 */
import type { WeightDtype } from '../types';

/** Bytes per element of each weight dtype. */
export const DTYPE_BYTES: Readonly<Record<WeightDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

/** True when `value` names a dtype Inkwell can load. */
export function isWeightDtype(value: string): value is WeightDtype {
  return value === 'F32' || value === 'F16' || value === 'BF16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits → number (exact). */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** number → IEEE half bits, rounding to nearest even (overflow → ±Inf). */
export function numberToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const rounded = rest > midpoint || (rest === midpoint && (half & 1)) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent (and reaches Inf at the top).
  const rounded = rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half;
  return sign | rounded;
}

/** bfloat16 bits → number (exact). */
export function bfloat16ToNumber(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0] ?? 0;
}

/** number → bfloat16 bits, rounding to nearest even. */
export function numberToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0] ?? 0;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** Decodes little-endian elements of `dtype` into `out` (sized by the caller). */
function decodeInto<T extends Float32Array | Float64Array>(bytes: Uint8Array, dtype: WeightDtype, out: T): T {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) {
    if (dtype === 'F32') out[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F16') out[i] = halfToNumber(view.getUint16(i * 2, true));
    else out[i] = bfloat16ToNumber(view.getUint16(i * 2, true));
  }
  return out;
}

/** Decodes little-endian elements of `dtype` into float64 values. */
export function decodeToFloat64(bytes: Uint8Array, dtype: WeightDtype): Float64Array {
  return decodeInto(bytes, dtype, new Float64Array(bytes.byteLength / DTYPE_BYTES[dtype]));
}

/** Decodes little-endian elements of `dtype` into float32 values (exact for F16/BF16). */
export function decodeToFloat32(bytes: Uint8Array, dtype: WeightDtype): Float32Array {
  return decodeInto(bytes, dtype, new Float32Array(bytes.byteLength / DTYPE_BYTES[dtype]));
}

/** Encodes values as little-endian elements of `dtype` (rounding to nearest even). */
export function encodeFromNumbers(values: ArrayLike<number>, dtype: WeightDtype): Uint8Array {
  const out = new Uint8Array(values.length * DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (dtype === 'F32') view.setFloat32(i * 4, v, true);
    else if (dtype === 'F16') view.setUint16(i * 2, numberToHalf(v), true);
    else view.setUint16(i * 2, numberToBfloat16(v), true);
  }
  return out;
}
