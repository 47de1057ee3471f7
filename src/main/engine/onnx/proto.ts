/**
 * A minimal protobuf writer for the subset of onnx.proto that Inkwell emits.
 * Field numbers follow onnx/onnx.proto (IR version 8+); only writing is needed:
 * the graphs are produced here and read by onnxruntime.
 */

/** ONNX TensorProto.DataType values used by Inkwell. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
/** A TensorProto.DataType number. */
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

/** Where an external tensor's bytes live, relative to the model file's folder. */
export interface ExternalDataRef {
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/** TensorProto: either inline raw bytes or a reference to external data. */
export interface TensorProto {
  readonly name: string;
  readonly dataType: OnnxDataTypeCode;
  readonly dims: readonly number[];
  readonly rawData?: Uint8Array;
  readonly external?: ExternalDataRef;
}

/** One AttributeProto value, tagged with its ONNX attribute type. */
export type AttributeValue =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'tensor'; readonly value: TensorProto }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'ints'; readonly value: readonly number[] }
  | { readonly type: 'strings'; readonly value: readonly string[] };

/** AttributeProto. */
export interface AttributeProto {
  readonly name: string;
  readonly value: AttributeValue;
}

/** NodeProto. An empty input name marks an omitted optional input. */
export interface NodeProto {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: readonly AttributeProto[];
}

/** A tensor dimension: a fixed size, a symbolic name (dim_param), or unknown. */
export type Dim = number | string | null;

/** ValueInfoProto for a tensor; `shape` undefined means rank unknown. */
export interface ValueInfoProto {
  readonly name: string;
  readonly elemType: OnnxDataTypeCode;
  readonly shape?: readonly Dim[];
}

/** GraphProto. */
export interface GraphProto {
  readonly name: string;
  readonly nodes: readonly NodeProto[];
  readonly initializers: readonly TensorProto[];
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
}

/** OperatorSetIdProto. */
export interface OpsetImport {
  readonly domain: string;
  readonly version: number;
}

/** ModelProto. */
export interface ModelProto {
  readonly irVersion: number;
  readonly opsetImports: readonly OpsetImport[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly graph: GraphProto;
  readonly metadata?: Readonly<Record<string, string>>;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;
const DATA_LOCATION_EXTERNAL = 1;

const utf8 = new TextEncoder();

/** Appends protobuf-encoded fields to a growable byte buffer. */
class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Writes an int64/uint64 varint; negatives use the 10-byte two's-complement form as protobuf requires. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`protobuf varint out of range: ${value}`);
    if (value >= 0) {
      let v = value;
      while (v >= 0x80) {
        this.byte((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.byte(v);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  intField(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  floatField(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  bytesField(field: number, data: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(data.length);
    this.bytes(data);
  }

  stringField(field: number, value: string): void {
    this.bytesField(field, utf8.encode(value));
  }

  messageField(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytesField(field, inner.finish());
  }

  packedInts(field: number, values: readonly number[]): void {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    this.bytesField(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): void {
    const data = new Uint8Array(values.length * 4);
    const view = new DataView(data.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    this.bytesField(field, data);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeTensor(w: ProtoWriter, t: TensorProto): void {
  if (t.rawData !== undefined && t.external !== undefined) {
    throw new Error(`tensor ${t.name}: both inline data and external data given`);
  }
  // dims(1), data_type(2), name(8), raw_data(9), external_data(13), data_location(14)
  w.packedInts(1, t.dims);
  w.intField(2, t.dataType);
  w.stringField(8, t.name);
  if (t.rawData !== undefined) w.bytesField(9, t.rawData);
  if (t.external !== undefined) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [key, value] of entries) {
      // StringStringEntryProto: key(1), value(2)
      w.messageField(13, (e) => {
        e.stringField(1, key);
        e.stringField(2, value);
      });
    }
    w.intField(14, DATA_LOCATION_EXTERNAL);
  }
}

function writeAttribute(w: ProtoWriter, a: AttributeProto): void {
  // name(1), f(2), i(3), s(4), t(5), floats(7), ints(8), strings(9), type(20)
  w.stringField(1, a.name);
  const v = a.value;
  switch (v.type) {
    case 'float':
      w.floatField(2, v.value);
      break;
    case 'int':
      w.intField(3, v.value);
      break;
    case 'string':
      w.stringField(4, v.value);
      break;
    case 'tensor':
      w.messageField(5, (t) => writeTensor(t, v.value));
      break;
    case 'floats':
      w.packedFloats(7, v.value);
      break;
    case 'ints':
      w.packedInts(8, v.value);
      break;
    case 'strings':
      for (const s of v.value) w.stringField(9, s);
      break;
  }
  w.intField(20, ATTR_TYPE[v.type]);
}

function writeNode(w: ProtoWriter, n: NodeProto): void {
  // input(1), output(2), name(3), op_type(4), attribute(5), domain(7)
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const a of n.attributes) w.messageField(5, (aw) => writeAttribute(aw, a));
  if (n.domain !== '') w.stringField(7, n.domain);
}

function writeValueInfo(w: ProtoWriter, v: ValueInfoProto): void {
  // ValueInfoProto: name(1), type(2). TypeProto: tensor_type(1). Tensor: elem_type(1), shape(2).
  // TensorShapeProto: dim(1). Dimension: dim_value(1), dim_param(2).
  w.stringField(1, v.name);
  w.messageField(2, (type) =>
    type.messageField(1, (tensor) => {
      tensor.intField(1, v.elemType);
      const shape = v.shape;
      if (shape === undefined) return;
      tensor.messageField(2, (s) => {
        for (const d of shape) {
          s.messageField(1, (dim) => {
            if (typeof d === 'number') dim.intField(1, d);
            else if (typeof d === 'string') dim.stringField(2, d);
          });
        }
      });
    }),
  );
}

function writeGraph(w: ProtoWriter, g: GraphProto): void {
  // node(1), name(2), initializer(5), input(11), output(12)
  for (const n of g.nodes) w.messageField(1, (nw) => writeNode(nw, n));
  w.stringField(2, g.name);
  for (const t of g.initializers) w.messageField(5, (tw) => writeTensor(tw, t));
  for (const i of g.inputs) w.messageField(11, (vw) => writeValueInfo(vw, i));
  for (const o of g.outputs) w.messageField(12, (vw) => writeValueInfo(vw, o));
}

/** Serializes a ModelProto to its protobuf wire form. */
export function encodeModel(model: ModelProto): Uint8Array {
  const w = new ProtoWriter();
  // ir_version(1), producer_name(2), producer_version(3), graph(7), opset_import(8), metadata_props(14)
  w.intField(1, model.irVersion);
  w.stringField(2, model.producerName);
  w.stringField(3, model.producerVersion);
  w.messageField(7, (gw) => writeGraph(gw, model.graph));
  for (const op of model.opsetImports) {
    // OperatorSetIdProto: domain(1), version(2)
    w.messageField(8, (ow) => {
      ow.stringField(1, op.domain);
      ow.intField(2, op.version);
    });
  }
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.messageField(14, (e) => {
      e.stringField(1, key);
      e.stringField(2, value);
    });
  }
  return w.finish();
}
