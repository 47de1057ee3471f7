/**
 * Typed arrays over serve mode's HTTP transport. Electron IPC carries typed arrays as they are
 * (structured clone); JSON does not (`JSON.stringify(new Uint16Array(2))` is `{"0":0,"1":0}`). Two
 * encodings, chosen by the request's Accept header:
 *
 * - a binary frame (`FRAME_MIME`), what the app's own client asks for: the JSON value with every
 *   typed array replaced by `{"$bin": n}`, followed by the arrays' bytes, each aligned to 8 bytes so
 *   the reader makes zero-copy views onto the one response buffer. The attention of one GPT-2 Large
 *   layer over 512 tokens is 5.25 MB of float16 and travels as 5.25 MB.
 * - plain JSON for scripts and curl: every typed array becomes `{"$typed": "Uint16Array", "base64": "…"}`,
 *   a third larger than the frame and decoded with one more pass.
 *
 * Values without typed arrays travel as plain JSON either way. Pure TypeScript (no Node, no DOM).
 *
 * Frame layout (all integers little-endian): "IKF1", u32 header length, the header's UTF-8 JSON
 * `{"value": …, "arrays": [{"type", "offset", "length"}]}`, zero padding to a multiple of 8, then the
 * arrays' bytes (offsets count from there, each a multiple of 8).
 */

/** The media type of a binary frame. */
export const FRAME_MIME = 'application/vnd.inkwell.frame';

const MAGIC = [0x49, 0x4b, 0x46, 0x31]; // "IKF1"
const ALIGN = 8;

const TYPED_ARRAYS = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;

/** The typed array kinds that cross the wire. */
export type TypedArrayName = keyof typeof TYPED_ARRAYS;
/** Any typed array that crosses the wire. */
export type WireTypedArray = InstanceType<(typeof TYPED_ARRAYS)[TypedArrayName]>;

/** The name of a typed array's kind, or null when `value` is not one of the wire's typed arrays. */
export function typedArrayName(value: unknown): TypedArrayName | null {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return null;
  for (const name of Object.keys(TYPED_ARRAYS) as TypedArrayName[]) if (value instanceof TYPED_ARRAYS[name]) return name;
  return null;
}

/** Whether `value` holds a typed array anywhere (objects and arrays are searched). */
export function containsTypedArray(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (typedArrayName(value) !== null) return true;
  if (Array.isArray(value)) return value.some(containsTypedArray);
  return Object.values(value).some(containsTypedArray);
}

/** `value` with every typed array replaced by `replace(array)`; everything else is copied as JSON would see it. */
function mapTypedArrays(value: unknown, replace: (array: WireTypedArray, name: TypedArrayName) => unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const name = typedArrayName(value);
  if (name !== null) return replace(value as WireTypedArray, name);
  if (Array.isArray(value)) return value.map((item) => mapTypedArrays(item, replace));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) if (item !== undefined) out[key] = mapTypedArrays(item, replace);
  return out;
}

/** Puts back what `replace` turned into placeholders; `revive` returns undefined for objects that are not placeholders. */
function reviveTypedArrays(value: unknown, revive: (object: Record<string, unknown>) => WireTypedArray | undefined): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => reviveTypedArrays(item, revive));
  const object = value as Record<string, unknown>;
  const revived = revive(object);
  if (revived !== undefined) return revived;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(object)) out[key] = reviveTypedArrays(item, revive);
  return out;
}

function littleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

function assertLittleEndian(): void {
  // Typed arrays use the platform's byte order; every platform Inkwell ships on is little-endian.
  if (!littleEndian()) throw new Error('binary frames need a little-endian platform');
}

const pad = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/** Encodes `value` (typed arrays anywhere inside) as one binary frame. */
export function encodeFrame(value: unknown): Uint8Array {
  assertLittleEndian();
  const arrays: WireTypedArray[] = [];
  const placeholders = mapTypedArrays(value, (array) => ({ $bin: arrays.push(array) - 1 }));
  let at = 0;
  const descriptors = arrays.map((array) => {
    const descriptor = { type: typedArrayName(array) as TypedArrayName, offset: at, length: array.length };
    at = pad(at + array.byteLength);
    return descriptor;
  });
  const header = new TextEncoder().encode(JSON.stringify({ value: placeholders, arrays: descriptors }));
  const dataStart = pad(8 + header.length);
  const out = new Uint8Array(dataStart + at);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  arrays.forEach((array, i) => {
    out.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), dataStart + (descriptors[i] as { offset: number }).offset);
  });
  return out;
}

/** The value a binary frame holds; its typed arrays are views onto `frame`'s buffer. Throws on a malformed frame. */
export function decodeFrame(frame: ArrayBuffer | Uint8Array): unknown {
  assertLittleEndian();
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('not a binary frame (bad magic)');
  if (bytes.byteOffset % ALIGN !== 0) throw new Error('binary frame is not 8-byte aligned in memory');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + headerLength > bytes.length) throw new Error('binary frame header runs past the end');
  let header: { value?: unknown; arrays?: unknown };
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength))) as typeof header;
  } catch {
    throw new Error('binary frame header is not valid JSON');
  }
  if (!Array.isArray(header.arrays)) throw new Error('binary frame header has no array list');
  const dataStart = pad(8 + headerLength);
  const views = header.arrays.map((entry: unknown, i) => {
    const { type, offset, length } = (entry ?? {}) as { type?: unknown; offset?: unknown; length?: unknown };
    if (typeof type !== 'string' || !Object.hasOwn(TYPED_ARRAYS, type)) throw new Error(`binary frame array ${i}: unknown type ${String(type)}`);
    const Kind = TYPED_ARRAYS[type as TypedArrayName];
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 0 || (length as number) < 0) {
      throw new Error(`binary frame array ${i}: bad offset or length`);
    }
    const start = dataStart + (offset as number);
    if (start % Kind.BYTES_PER_ELEMENT !== 0) throw new Error(`binary frame array ${i}: misaligned`);
    if (start + (length as number) * Kind.BYTES_PER_ELEMENT > bytes.length) throw new Error(`binary frame array ${i}: runs past the end`);
    return new Kind(bytes.buffer as ArrayBuffer, bytes.byteOffset + start, length as number);
  });
  return reviveTypedArrays(header.value, (object) => {
    const keys = Object.keys(object);
    if (keys.length !== 1 || keys[0] !== '$bin') return undefined;
    const view = Number.isInteger(object.$bin) ? views[object.$bin as number] : undefined;
    if (view === undefined) throw new Error(`binary frame: no array ${String(object.$bin)}`);
    return view;
  });
}

/** `value` as JSON can carry it: typed arrays as `{"$typed": name, "base64": …}`. */
export function toJsonWire(value: unknown): unknown {
  assertLittleEndian();
  return mapTypedArrays(value, (array, name) => ({ $typed: name, base64: base64Encode(new Uint8Array(array.buffer, array.byteOffset, array.byteLength)) }));
}

/** Undoes toJsonWire: `{"$typed", "base64"}` objects become typed arrays again. */
export function fromJsonWire(value: unknown): unknown {
  assertLittleEndian();
  return reviveTypedArrays(value, (object) => {
    const keys = Object.keys(object);
    if (keys.length !== 2 || typeof object.$typed !== 'string' || typeof object.base64 !== 'string') return undefined;
    if (!Object.hasOwn(TYPED_ARRAYS, object.$typed)) return undefined;
    const Kind = TYPED_ARRAYS[object.$typed as TypedArrayName];
    const bytes = base64Decode(object.base64);
    if (bytes.byteLength % Kind.BYTES_PER_ELEMENT !== 0) throw new Error(`${object.$typed}: ${bytes.byteLength} bytes is not a whole number of elements`);
    return new Kind(bytes.buffer as ArrayBuffer, 0, bytes.byteLength / Kind.BYTES_PER_ELEMENT);
  });
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/** Standard base64 (RFC 4648 §4, with padding). */
export function base64Encode(bytes: Uint8Array): string {
  const parts: string[] = [];
  // Built in slices: one String.fromCharCode call per 48 KB keeps the argument list small.
  const chunk = 3 * 16_384;
  for (let start = 0; start < bytes.length; start += chunk) {
    const end = Math.min(bytes.length, start + chunk);
    const codes: number[] = [];
    for (let i = start; i < end; i += 3) {
      const a = bytes[i] as number;
      const b = i + 1 < end ? (bytes[i + 1] as number) : 0;
      const c = i + 2 < end ? (bytes[i + 2] as number) : 0;
      codes.push(ALPHABET.charCodeAt(a >> 2), ALPHABET.charCodeAt(((a & 3) << 4) | (b >> 4)));
      codes.push(i + 1 < end ? ALPHABET.charCodeAt(((b & 15) << 2) | (c >> 6)) : 61, i + 2 < end ? ALPHABET.charCodeAt(c & 63) : 61);
    }
    parts.push(String.fromCharCode(...codes));
  }
  return parts.join('');
}

/** Decodes standard base64; throws on characters outside the alphabet or a bad length. */
export function base64Decode(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new Error('base64 length is not a multiple of 4');
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - padding);
  const digit = (at: number): number => {
    const code = text.charCodeAt(at);
    if (code === 61 && at >= text.length - padding) return 0;
    const d = code < 128 ? (DECODE[code] as number) : -1;
    if (d < 0) throw new Error(`base64: bad character at ${at}`);
    return d;
  };
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const triple = (digit(i) << 18) | (digit(i + 1) << 12) | (digit(i + 2) << 6) | digit(i + 3);
    out[o++] = triple >> 16;
    if (o < out.length) out[o++] = (triple >> 8) & 255;
    if (o < out.length) out[o++] = triple & 255;
  }
  return out;
}
