import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode, containsTypedArray, decodeFrame, encodeFrame, fromJsonWire, toJsonWire } from '../../src/shared/wire-binary';
import { mulberry32 } from '../helpers/random';

const payload = () => ({
  layer: 3,
  data: new Uint16Array([0, 1, 0x3c00, 65535]),
  nested: { ids: new Int32Array([-5, 7, 2 ** 31 - 1]), floats: new Float32Array([0.5, -1e-8, Infinity]) },
  list: [new Uint8Array([1, 2, 3]), 'text', null],
});

describe('binary frames', () => {
  it('round-trip every typed array, each a view aligned to its element size', () => {
    const decoded = decodeFrame(encodeFrame(payload())) as ReturnType<typeof payload>;
    expect(decoded).toEqual(payload());
    expect(decoded.data).toBeInstanceOf(Uint16Array);
    expect(decoded.nested.floats).toBeInstanceOf(Float32Array);
    for (const view of [decoded.data, decoded.nested.ids, decoded.nested.floats, decoded.list[0] as Uint8Array]) expect(view.byteOffset % view.BYTES_PER_ELEMENT).toBe(0);
  });

  it('carry the arrays as raw bytes: a 5 MB float16 layer costs 5 MB plus a small header', () => {
    const data = new Uint16Array(2_621_440);
    const frame = encodeFrame({ data });
    expect(frame.byteLength).toBeGreaterThanOrEqual(data.byteLength);
    expect(frame.byteLength - data.byteLength).toBeLessThan(200);
  });

  it('a damaged frame is refused with the reason, not misread', () => {
    const frame = encodeFrame(payload());
    expect(() => decodeFrame(new Uint8Array([1, 2, 3, 4, 0, 0, 0, 0]))).toThrow(/bad magic/);
    expect(() => decodeFrame(frame.slice(0, frame.length - 8))).toThrow(/runs past the end/);
    const bigHeader = frame.slice();
    new DataView(bigHeader.buffer).setUint32(4, 1e9, true);
    expect(() => decodeFrame(bigHeader)).toThrow(/header runs past the end/);
  });
});

describe('typed arrays in JSON', () => {
  it('survive JSON.stringify as base64 and come back equal', () => {
    const wire = JSON.parse(JSON.stringify(toJsonWire(payload())));
    expect(wire.data).toEqual({ $typed: 'Uint16Array', base64: base64Encode(new Uint8Array(new Uint16Array([0, 1, 0x3c00, 65535]).buffer)) });
    expect(fromJsonWire(wire)).toEqual(payload());
  });

  it('leave values without typed arrays alone', () => {
    const value = { a: [1, 'b', { c: null }], d: { $typed: 'Nope', base64: 'AA==' } };
    expect(containsTypedArray(value)).toBe(false);
    expect(fromJsonWire(value)).toEqual(value);
  });

  it('base64 agrees with Node Buffer on random bytes of every length mod 3', () => {
    const random = mulberry32(7);
    for (const length of [0, 1, 2, 3, 100, 100_001]) {
      const bytes = Uint8Array.from({ length }, () => Math.floor(random() * 256));
      const text = base64Encode(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(base64Decode(text)).toEqual(bytes);
    }
    expect(() => base64Decode('ab$d')).toThrow(/bad character/);
  });
});
