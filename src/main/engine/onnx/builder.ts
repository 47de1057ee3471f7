/**
 * An ONNX graph builder in the style of onnxscript's Tape: ops are recorded in
 * call order, values are opaque handles, names are generated and unique.
 */
import {
  encodeModel,
  OnnxDataType,
  type AttributeValue,
  type Dim,
  type ExternalDataRef,
  type ModelProto,
  type NodeProto,
  type OnnxDataTypeCode,
  type TensorProto,
  type ValueInfoProto,
} from './proto';

/** Element types the builder can declare for inputs, outputs and initializers. */
export type ElemType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8';

const ELEM_CODE: Record<ElemType, OnnxDataTypeCode> = {
  float32: OnnxDataType.FLOAT,
  float16: OnnxDataType.FLOAT16,
  bfloat16: OnnxDataType.BFLOAT16,
  int64: OnnxDataType.INT64,
  int32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
  uint8: OnnxDataType.UINT8,
};

const ELEM_BYTES: Record<ElemType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
  uint8: 1,
};

/** The ONNX TensorProto.DataType code of an element type. */
export function elemTypeCode(type: ElemType): OnnxDataTypeCode {
  return ELEM_CODE[type];
}

/** A handle to a tensor flowing through the graph; its final name is fixed at serialization. */
export class Value {
  /** @internal */
  constructor(public name: string) {}
}

/**
 * Attribute shorthand: an integer is INT, an integer array INTS, a string STRING,
 * a string array STRINGS; floats must be wrapped with `float()`/`floats()` so that
 * `1.0` can never silently become an INT.
 */
export type AttrInput = number | string | readonly number[] | readonly string[] | AttributeValue;

/** Marks a FLOAT attribute. */
export function float(value: number): AttributeValue {
  return { type: 'float', value };
}

/** Marks a FLOATS attribute. */
export function floats(value: readonly number[]): AttributeValue {
  return { type: 'floats', value };
}

/** Options for one op call. */
export interface OpOptions {
  /** Operator domain; '' (default) is ai.onnx. */
  readonly domain?: string;
  /** A readable base for the node's name and its outputs' names. */
  readonly name?: string;
}

/** Default opset versions per domain. */
export const DEFAULT_OPSETS: Readonly<Record<string, number>> = { '': 17, 'com.microsoft': 1 };

interface PendingNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly (Value | null)[];
  readonly attributes: readonly { readonly name: string; readonly value: AttributeValue }[];
}

interface PendingInitializer {
  readonly value: Value;
  readonly dataType: OnnxDataTypeCode;
  readonly dims: readonly number[];
  readonly rawData?: Uint8Array;
  readonly external?: ExternalDataRef;
}

interface PendingIo {
  readonly value: Value;
  readonly elemType: OnnxDataTypeCode;
  readonly shape: readonly Dim[];
}

function toAttribute(key: string, v: AttrInput): AttributeValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${key}=${v} is not an integer; wrap floats with float()`);
    return { type: 'int', value: v };
  }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { type: 'strings', value: v as readonly string[] };
    const nums = v as readonly number[];
    if (!nums.every((x) => Number.isInteger(x))) throw new Error(`attribute ${key} has non-integers; wrap floats with floats()`);
    return { type: 'ints', value: nums };
  }
  return v as AttributeValue;
}

function byteView(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Records ONNX nodes, initializers and graph I/O, and serializes them to a ModelProto. */
export class GraphBuilder {
  private readonly nodeList: PendingNode[] = [];
  private readonly initializerList: PendingInitializer[] = [];
  private readonly inputList: PendingIo[] = [];
  private readonly outputList: PendingIo[] = [];
  private readonly usedNames = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly opsets: Record<string, number>;

  constructor(
    private readonly graphName = 'graph',
    opsets: Readonly<Record<string, number>> = {},
  ) {
    this.opsets = { ...DEFAULT_OPSETS, ...opsets };
  }

  private unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'v';
    if (!this.usedNames.has(clean)) {
      this.usedNames.add(clean);
      return clean;
    }
    for (let i = 1; ; i++) {
      const candidate = `${clean}_${i}`;
      if (!this.usedNames.has(candidate)) {
        this.usedNames.add(candidate);
        return candidate;
      }
    }
  }

  /** Declares a graph input; `shape` entries are sizes, dim_param names, or null (unknown). */
  input(name: string, type: ElemType, shape: readonly Dim[]): Value {
    if (this.usedNames.has(name)) throw new Error(`graph input name ${name} is already used`);
    this.usedNames.add(name);
    const value = new Value(name);
    this.inputList.push({ value, elemType: ELEM_CODE[type], shape });
    return value;
  }

  /**
   * Declares `value` as a graph output called `name`. The value is renamed in place;
   * an Identity is inserted when the value is a graph input, an initializer or already an output.
   */
  output(value: Value, name: string, type: ElemType, shape: readonly Dim[]): void {
    let out = value;
    const isInput = this.inputList.some((i) => i.value === value);
    const isInit = this.initializerList.some((i) => i.value === value);
    const isOutput = this.outputList.some((o) => o.value === value);
    if (isInput || isInit || isOutput) out = this.op('Identity', [value]);
    if (out.name !== name) {
      if (this.usedNames.has(name)) throw new Error(`graph output name ${name} is already used`);
      this.usedNames.delete(out.name);
      this.usedNames.add(name);
      out.name = name;
    }
    this.outputList.push({ value: out, elemType: ELEM_CODE[type], shape });
  }

  /** Adds an inline initializer holding `data` (small constants only: it lives inside the .onnx file). */
  initializer(name: string, type: ElemType, shape: readonly number[], data: ArrayBufferView): Value {
    const count = shape.reduce((a, b) => a * b, 1);
    if (data.byteLength !== count * ELEM_BYTES[type]) {
      throw new Error(`initializer ${name}: ${data.byteLength} bytes given, shape [${shape.join(', ')}] of ${type} needs ${count * ELEM_BYTES[type]}`);
    }
    const value = new Value(this.unique(name));
    this.initializerList.push({ value, dataType: ELEM_CODE[type], dims: shape, rawData: byteView(data).slice() });
    return value;
  }

  /** Adds an initializer whose bytes stay in a file beside the model (ONNX external data). */
  externalInitializer(name: string, type: ElemType, shape: readonly number[], ref: ExternalDataRef): Value {
    const count = shape.reduce((a, b) => a * b, 1);
    if (ref.length !== count * ELEM_BYTES[type]) {
      throw new Error(`initializer ${name}: external length ${ref.length} does not match shape [${shape.join(', ')}] of ${type}`);
    }
    const value = new Value(this.unique(name));
    this.initializerList.push({ value, dataType: ELEM_CODE[type], dims: shape, external: ref });
    return value;
  }

  /** An inline int64 constant (a 1-D tensor unless `shape` says otherwise, [] for a scalar). */
  constInt64(values: readonly number[], shape: readonly number[] = [values.length]): Value {
    return this.initializer('const_i64', 'int64', shape, BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** An inline float32 constant (a 1-D tensor unless `shape` says otherwise, [] for a scalar). */
  constFloat(values: readonly number[], shape: readonly number[] = [values.length]): Value {
    return this.initializer('const_f32', 'float32', shape, Float32Array.from(values));
  }

  /** Records one node; `null` inputs are omitted optional inputs (trailing ones are dropped). */
  op(opType: string, inputs: readonly (Value | null)[], attrs?: Readonly<Record<string, AttrInput>>, options?: OpOptions): Value;
  /**
   * Records one multi-output node. `outputs` is the output count, or one flag per output
   * position where `false` leaves an optional output unnamed (not computed); the returned
   * array holds the wanted outputs in order.
   */
  op(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Readonly<Record<string, AttrInput>> | undefined,
    options: OpOptions & { readonly outputs: number | readonly boolean[] },
  ): Value[];
  op(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Readonly<Record<string, AttrInput>> = {},
    options: OpOptions & { readonly outputs?: number | readonly boolean[] } = {},
  ): Value | Value[] {
    const domain = options.domain ?? '';
    if (!(domain in this.opsets)) throw new Error(`no opset version known for domain "${domain}"`);
    this.domains.add(domain);
    const nodeName = this.unique(options.name ?? opType);
    const wanted = typeof options.outputs === 'object' ? options.outputs : Array.from({ length: options.outputs ?? 1 }, () => true);
    const outputs = wanted.map((keep, i) => (keep ? new Value(this.unique(wanted.length === 1 ? `${nodeName}_out` : `${nodeName}_out${i}`)) : null));
    while (outputs.length > 0 && outputs[outputs.length - 1] === null) outputs.pop();
    const trimmed = [...inputs];
    while (trimmed.length > 0 && trimmed[trimmed.length - 1] === null) trimmed.pop();
    this.nodeList.push({
      name: nodeName,
      opType,
      domain,
      inputs: trimmed,
      outputs,
      attributes: Object.entries(attrs).map(([name, v]) => ({ name, value: toAttribute(name, v) })),
    });
    const named = outputs.filter((v): v is Value => v !== null);
    if (named.length === 0) throw new Error(`${opType}: at least one output must be kept`);
    return options.outputs === undefined ? (named[0] as Value) : named;
  }

  /** The recorded ops in order, as `domain:OpType` (`OpType` for ai.onnx): for tests and diagnostics. */
  opSequence(): string[] {
    return this.nodeList.map((n) => (n.domain === '' ? n.opType : `${n.domain}:${n.opType}`));
  }

  /** The ModelProto as plain data. */
  toModel(metadata?: Readonly<Record<string, string>>): ModelProto {
    const nodes: NodeProto[] = this.nodeList.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      inputs: n.inputs.map((v) => (v === null ? '' : v.name)),
      outputs: n.outputs.map((v) => (v === null ? '' : v.name)),
      attributes: n.attributes,
    }));
    const initializers: TensorProto[] = this.initializerList.map((i) => ({
      name: i.value.name,
      dataType: i.dataType,
      dims: i.dims,
      ...(i.rawData !== undefined ? { rawData: i.rawData } : {}),
      ...(i.external !== undefined ? { external: i.external } : {}),
    }));
    const io = (list: PendingIo[]): ValueInfoProto[] => list.map((x) => ({ name: x.value.name, elemType: x.elemType, shape: x.shape }));
    const opsetImports = [...new Set(['', ...this.domains])].map((domain) => ({ domain, version: this.opsets[domain] ?? 1 }));
    return {
      // IR 8 is the first IR version that allows opset 17+ (onnx/docs/Versioning.md).
      irVersion: 8,
      opsetImports,
      producerName: 'inkwell',
      producerVersion: '1',
      graph: { name: this.graphName, nodes, initializers, inputs: io(this.inputList), outputs: io(this.outputList) },
      ...(metadata !== undefined ? { metadata } : {}),
    };
  }

  /** Serializes the graph to ONNX protobuf bytes. */
  toModelProto(metadata?: Readonly<Record<string, string>>): Uint8Array {
    return encodeModel(this.toModel(metadata));
  }
}
