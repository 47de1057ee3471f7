import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { float, floats, GraphBuilder } from '../../../../src/main/engine/onnx/builder';

/**
 * An independent decoder for the bytes: the protobufjs code generated from onnx.proto that
 * ships inside onnxruntime-web (a dependency of @huggingface/transformers).
 */
interface DecodedModel {
  irVersion: { toNumber(): number } | number;
  opsetImport: { domain: string; version: { toNumber(): number } | number }[];
  graph: {
    node: { opType: string; domain: string; input: string[]; output: string[]; attribute: { name: string; type: number; f: number; i: { toNumber(): number } | number; ints: ({ toNumber(): number } | number)[]; floats: number[]; s: Uint8Array }[] }[];
    initializer: { name: string; dims: ({ toNumber(): number } | number)[]; dataType: number; rawData: Uint8Array; dataLocation: number; externalData: { key: string; value: string }[] }[];
    input: { name: string; type: { tensorType: { elemType: number; shape: { dim: { dimValue?: unknown; dimParam?: string }[] } } } }[];
    output: { name: string }[];
  };
}
const require = createRequire(import.meta.url);
const onnxProto = require(join(dirname(require.resolve('onnxruntime-web')), '../lib/onnxjs/ort-schema/protobuf/onnx.js')) as {
  onnx: { ModelProto: { decode(bytes: Uint8Array): DecodedModel } };
};
const num = (v: { toNumber(): number } | number | undefined): number => (typeof v === 'object' ? v.toNumber() : (v ?? 0));

const sessions: InferenceSession[] = [];
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

describe('GraphBuilder', () => {
  it('records ops in call order with unique generated names', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', ['n', 4]);
    const a = g.op('Relu', [x]);
    const b = g.op('Relu', [a]);
    const [h1, h2] = g.op('Split', [b, g.constInt64([2, 2])], { axis: 1 }, { outputs: 2 });
    const y = g.op('LayerNormalization', [g.op('Add', [h1!, h2!]), g.constFloat([1, 1]), null], { epsilon: float(1e-5) });
    g.output(y, 'y', 'float32', ['n', 2]);
    expect(g.opSequence()).toEqual(['Relu', 'Relu', 'Split', 'Add', 'LayerNormalization']);
    const names = g.toModel().graph.nodes.flatMap((n) => n.outputs);
    expect(new Set(names).size).toBe(names.length);
    expect(a.name).not.toBe(b.name);
    expect(y.name).toBe('y');
  });

  it('collects opset imports for the domains used', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [2]);
    g.output(g.op('FastGelu', [x], {}, { domain: 'com.microsoft' }), 'y', 'float32', [2]);
    expect(g.toModel().opsetImports).toEqual([{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
    expect(() => g.op('Foo', [x], {}, { domain: 'org.unknown' })).toThrow(/no opset version/);
  });

  it('refuses unmarked float attributes and initializers whose size disagrees with the shape', () => {
    const g = new GraphBuilder('t');
    const x = g.input('x', 'float32', [2]);
    expect(() => g.op('LeakyRelu', [x], { alpha: 0.5 })).toThrow(/wrap floats with float\(\)/);
    expect(() => g.initializer('w', 'float32', [3], new Float32Array(2))).toThrow(/8 bytes given.*needs 12/);
    expect(() => g.externalInitializer('w', 'float32', [3], { location: 'a.bin', offset: 0, length: 8 })).toThrow(/length 8/);
  });

  it('encodes fields the onnx.proto decoder reads back (attributes, external data, dim_param, omitted outputs)', () => {
    const g = new GraphBuilder('round_trip');
    const x = g.input('x', 'float32', ['batch_size', 'past_sequence_length + sequence_length', 8]);
    const w = g.externalInitializer('w', 'float32', [8, 8], { location: 'model.safetensors', offset: 123456789012, length: 256 });
    const mm = g.op('MatMul', [x, w]);
    const [ln, sum] = g.op('SkipLayerNormalization', [mm, x, g.constFloat(new Array(8).fill(1)), null, null], { epsilon: float(0.25) }, { domain: 'com.microsoft', outputs: [true, false, false, true] });
    const t = g.op('Transpose', [ln!], { perm: [0, 2, -1] });
    const c = g.op('Cast', [sum!], { to: 7, mode: 'x', scales: floats([0.5, -2]) });
    g.output(t, 'out', 'float32', [null, 8, 'past_sequence_length + sequence_length']);
    g.output(c, 'sum', 'int64', ['batch_size', 'n', 8]);
    const decoded = onnxProto.onnx.ModelProto.decode(g.toModelProto());

    expect(num(decoded.irVersion)).toBe(8);
    expect(decoded.opsetImport.map((o) => [o.domain, num(o.version)])).toEqual([['', 17], ['com.microsoft', 1]]);
    const nodes = decoded.graph.node;
    expect(nodes.map((n) => n.opType)).toEqual(['MatMul', 'SkipLayerNormalization', 'Transpose', 'Cast']);
    expect(nodes[1]?.domain).toBe('com.microsoft');
    expect(nodes[1]?.output).toHaveLength(4);
    expect(nodes[1]?.output.slice(1, 3)).toEqual(['', '']);
    expect(nodes[1]?.input.slice(3)).toEqual([]);
    expect(nodes[1]?.attribute[0]).toMatchObject({ name: 'epsilon', type: 1, f: 0.25 });
    expect(nodes[2]?.attribute[0]?.ints.map(num)).toEqual([0, 2, -1]);
    expect(nodes[2]?.attribute[0]?.type).toBe(7);
    const cast = nodes[3]?.attribute ?? [];
    expect(num(cast[0]?.i)).toBe(7);
    expect(new TextDecoder().decode(cast[1]?.s)).toBe('x');
    expect(cast[2]?.floats).toEqual([0.5, -2]);

    const init = decoded.graph.initializer.find((i) => i.name === 'w');
    expect(init?.dims.map(num)).toEqual([8, 8]);
    expect(init?.dataLocation).toBe(1);
    expect(init?.externalData.map((e) => [e.key, e.value])).toEqual([['location', 'model.safetensors'], ['offset', '123456789012'], ['length', '256']]);
    const inline = decoded.graph.initializer.find((i) => i.name !== 'w');
    expect(new Float32Array(new Uint8Array(inline?.rawData ?? []).buffer)).toEqual(new Float32Array(8).fill(1));

    const dims = decoded.graph.input[0]?.type.tensorType.shape.dim ?? [];
    expect(dims[0]?.dimParam).toBe('batch_size');
    expect(dims[1]?.dimParam).toBe('past_sequence_length + sequence_length');
    expect(num(dims[2]?.dimValue as number)).toBe(8);
    expect(decoded.graph.output.map((o) => o.name)).toEqual(['out', 'sum']);
  });

  it('builds a graph onnxruntime loads and runs (multi-output, omitted optional inputs, contrib op)', async () => {
    const g = new GraphBuilder('run');
    const x = g.input('x', 'float32', ['n', 4]);
    const bias = g.constFloat([0.5, -0.5, 1, 0]);
    const [lo, hi] = g.op('Split', [x, g.constInt64([2, 2])], { axis: 1 }, { outputs: 2 });
    const [normed, sum] = g.op('SkipLayerNormalization', [x, x, g.constFloat([1, 1, 1, 1]), null, bias], { epsilon: float(1e-5) }, { domain: 'com.microsoft', outputs: [true, false, false, true] });
    g.output(g.op('Concat', [hi!, lo!], { axis: 1 }), 'swapped', 'float32', ['n', 4]);
    g.output(sum!, 'sum', 'float32', ['n', 4]);
    g.output(normed!, 'normed', 'float32', ['n', 4]);
    g.output(x, 'echo', 'float32', ['n', 4]);
    const session = await InferenceSession.create(g.toModelProto());
    sessions.push(session);
    const out = await session.run({ x: new Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]) });
    expect(Array.from(out.swapped?.data as Float32Array)).toEqual([3, 4, 1, 2]);
    expect(Array.from(out.sum?.data as Float32Array)).toEqual([2.5, 3.5, 7, 8]);
    expect(Array.from(out.echo?.data as Float32Array)).toEqual([1, 2, 3, 4]);
    const s = [2.5, 3.5, 7, 8];
    const mean = s.reduce((a, b) => a + b) / 4;
    const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / 4 + 1e-5);
    const normedData = out.normed?.data as Float32Array;
    s.forEach((v, i) => expect(normedData[i]).toBeCloseTo((v - mean) / sd, 5));
  });
});
