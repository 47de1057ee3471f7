import { describe, expect, it } from 'vitest';
import {
  bfloat16ToNumber, decodeToFloat64, encodeFromNumbers, halfToNumber, numberToBfloat16, numberToHalf,
} from '../../../../src/main/engine/checkpoint/dtype';

describe('half precision', () => {
  it('encodes IEEE binary16 reference values', () => {
    // Bit patterns from the IEEE 754 binary16 table (Wikipedia "Half-precision floating-point format").
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [2 ** -14, 0x0400], [2 ** -24, 0x0001],
      [0.333251953125, 0x3555], [0, 0x0000], [Infinity, 0x7c00], [-0, 0x8000],
    ];
    for (const [value, bits] of cases) {
      expect(numberToHalf(value), `encode ${value}`).toBe(bits);
      expect(halfToNumber(bits), `decode ${bits.toString(16)}`).toBe(value);
    }
    expect(numberToHalf(1e6)).toBe(0x7c00);
    expect(Number.isNaN(halfToNumber(numberToHalf(Number.NaN)))).toBe(true);
  });

  it('rounds to nearest, ties to even', () => {
    // 1 + 2^-11 is exactly halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00);
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(numberToHalf(65520)).toBe(0x7c00);
    // Subnormal halfway case: 1.5 * 2^-24 rounds to 2 * 2^-24.
    expect(numberToHalf(1.5 * 2 ** -24)).toBe(0x0002);
  });

  it('round-trips every finite half bit pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      expect(numberToHalf(halfToNumber(bits))).toBe(bits);
    }
  });
});

describe('bfloat16', () => {
  it('keeps the top 16 bits of float32 with round-to-nearest-even', () => {
    expect(numberToBfloat16(1)).toBe(0x3f80);
    expect(numberToBfloat16(-2)).toBe(0xc000);
    expect(bfloat16ToNumber(0x3f80)).toBe(1);
    // 1 + 2^-8 is halfway between 1 and 1 + 2^-7 → even (1); 1 + 3*2^-8 → 1 + 2^-6.
    expect(numberToBfloat16(1 + 2 ** -8)).toBe(0x3f80);
    expect(numberToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bfloat16ToNumber(numberToBfloat16(3.140625))).toBe(3.140625);
  });
});

describe('buffers', () => {
  it('decodes what it encodes for every dtype, within that dtype’s precision', () => {
    const values = [0.1, -1.5, 3.25, 1e-3, -7e-5, 1234.5];
    const tolerance = { F32: 1e-7, F16: 2 ** -11, BF16: 2 ** -8 } as const;
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const decoded = decodeToFloat64(encodeFromNumbers(values, dtype), dtype);
      values.forEach((v, i) => {
        const err = Math.abs((decoded[i] ?? Number.NaN) - v);
        // Relative error bound of round-to-nearest (half an ulp), plus half precision's subnormal step.
        expect(err, `${dtype} ${v}`).toBeLessThanOrEqual(Math.abs(v) * tolerance[dtype] + (dtype === 'F16' ? 2 ** -25 : 0));
      });
    }
  });
});
