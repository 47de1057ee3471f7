import { describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/main/engine/types';
import { PROTOCOL_VERSION, type ReplyMessage } from '../../../src/main/common/inference-protocol';
import { serveInference } from '../../../src/main/inference-process/server';
import { GenerationParams } from '../../../src/shared/api';
import { FakeEngine } from '../../helpers/fake-engine';

function startServer(engine = new FakeEngine(), options: { idleReleaseMs?: number; keepAliveMs?: number; heartbeatMs?: number } = {}) {
  const replies: ReplyMessage[] = [];
  const logs: string[] = [];
  let deliver: (message: unknown) => void = () => {};
  serveInference(engine, { post: (m) => replies.push(structuredClone(m)), onMessage: (l) => (deliver = l) }, { log: (line) => logs.push(line), heartbeatMs: 0, ...options });
  const waitFor = async (predicate: () => boolean): Promise<void> => {
    for (let i = 0; i < 500 && !predicate(); i += 1) await new Promise((r) => setTimeout(r, 2));
    expect(predicate()).toBe(true);
  };
  const forSeq = (seq: number) => replies.filter((r) => 'seq' in r && r.seq === seq);
  return { engine, replies, logs, send: (m: unknown) => deliver(m), waitFor, forSeq };
}

const params = GenerationParams.parse({ numReturnSequences: 2, seed: 7 });

describe('serveInference', () => {
  it('says hello first, then streams started and deltas before the one result of a generation', async () => {
    const s = startServer();
    expect(s.replies[0]).toEqual({ hello: { pid: process.pid, protocol: PROTOCOL_VERSION } });
    s.send({ seq: 1, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'Once', memory: 'M', params } } });
    await s.waitFor(() => s.forSeq(1).some((r) => 'result' in r));
    const own = s.forSeq(1);
    const kinds = own.map((r) => ('event' in r ? r.event.type : 'result' in r ? 'result' : 'error'));
    expect(kinds[0]).toBe('started');
    expect(kinds.at(-1)).toBe('result');
    expect(kinds.filter((k) => k === 'delta')).toHaveLength(6);
    expect(kinds.filter((k) => k === 'result')).toHaveLength(1);
    const result = own.at(-1) as { result: { seed: number; sequences: { text: string }[] } };
    expect(result.result.seed).toBe(7);
    expect(result.result.sequences.map((c) => c.text)).toEqual([' one two three', ' one two three']);
    expect(s.engine.calls[0]).toMatchObject({ method: 'generate', args: [{ modelId: 'tiny', prompt: 'Once', memory: 'M' }] });
  });

  it('cancels a running generation by its seq; the partial result still comes back', async () => {
    const s = startServer(new FakeEngine({ pieces: [' a', ' b', ' c', ' d'], stepMs: 20 }));
    s.send({ seq: 1, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    await s.waitFor(() => s.forSeq(1).some((r) => 'event' in r && r.event.type === 'delta'));
    s.send({ seq: 2, request: { op: 'cancel', args: { target: 1 } } });
    await s.waitFor(() => s.forSeq(1).some((r) => 'result' in r));
    expect(s.forSeq(2)).toEqual([{ seq: 2, result: { cancelled: true } }]);
    const result = s.forSeq(1).find((r) => 'result' in r) as { result: { sequences: { finishReason: string; text: string }[] } };
    expect(result.result.sequences[0]?.finishReason).toBe('cancelled');
    expect(result.result.sequences[0]?.text.length).toBeLessThan(' a b c d'.length);
    s.send({ seq: 3, request: { op: 'cancel', args: { target: 1 } } });
    await s.waitFor(() => s.forSeq(3).length === 1);
    expect(s.forSeq(3)[0]).toEqual({ seq: 3, result: { cancelled: false } });
  });

  it('keeps engine error kinds and keeps serving after an error', async () => {
    const s = startServer();
    s.send({ seq: 1, request: { op: 'tokenize', args: { modelId: 'nope', text: 'x' } } });
    await s.waitFor(() => s.forSeq(1).length === 1);
    expect(s.forSeq(1)[0]).toEqual({ seq: 1, error: { kind: 'not_found', message: 'no model with id "nope"' } });
    s.send({ seq: 3, request: { op: 'tokenize', args: { modelId: 'tiny', text: 'a b' } } });
    await s.waitFor(() => s.forSeq(3).length === 1);
    expect(s.forSeq(3)[0]).toEqual({ seq: 3, result: { ids: [0, 1], tokens: ['a', ' b'] } });
  });

  it('reports a non-engine exception as internal', async () => {
    const engine = new FakeEngine();
    engine.failNextGenerate = new TypeError('cannot read properties of undefined');
    const s = startServer(engine);
    s.send({ seq: 4, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    await s.waitFor(() => s.forSeq(4).length === 1);
    expect(s.forSeq(4)[0]).toEqual({ seq: 4, error: { kind: 'internal', message: 'cannot read properties of undefined' } });
    engine.failNextGenerate = new EngineError('device', 'CUDA EP failed');
    s.send({ seq: 5, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    await s.waitFor(() => s.forSeq(5).length === 1);
    expect(s.forSeq(5)[0]).toEqual({ seq: 5, error: { kind: 'device', message: 'CUDA EP failed' } });
  });

  it('drops malformed messages (logging them) and answers bad arguments with bad_input', async () => {
    const s = startServer();
    const before = s.replies.length;
    s.send('garbage');
    s.send({ seq: -1, request: { op: 'status', args: {} } });
    expect(s.replies.length).toBe(before);
    expect(s.logs.filter((l) => l.includes('dropped'))).toHaveLength(2);
    s.send({ seq: 6, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params: { ...params, maxNewTokens: -5 } } } });
    expect(s.forSeq(6)).toEqual([{ seq: 6, error: { kind: 'bad_input', message: expect.stringContaining('maxNewTokens') } }]);
    expect(s.engine.calls).toHaveLength(0);
  });

  it('serves status, probe, unload, importModel and logits (typed arrays intact)', async () => {
    const s = startServer();
    s.send({ seq: 1, request: { op: 'probe', args: {} } });
    s.send({ seq: 2, request: { op: 'importModel', args: { srcDir: '/ckpt', id: 'new-model' } } });
    s.send({ seq: 3, request: { op: 'logits', args: { modelId: 'tiny', prompt: 'x', all: true } } });
    s.send({ seq: 4, request: { op: 'unload', args: { modelId: 'tiny' } } });
    s.send({ seq: 5, request: { op: 'status', args: {} } });
    s.send({ seq: 6, request: { op: 'importModel', args: { srcDir: '/bad', id: 'broken' } } });
    await s.waitFor(() => [1, 2, 3, 4, 5, 6].every((seq) => s.forSeq(seq).length === 1));
    expect(s.forSeq(1)[0]).toMatchObject({ result: { devices: [{ name: 'cpu', available: true }, { name: 'webgpu' }, { name: 'cuda' }] } });
    expect(s.forSeq(2)[0]).toMatchObject({ result: { id: 'new-model', nLayer: 2, nPositions: 64, dtype: 'F32' } });
    const logits = (s.forSeq(3)[0] as { result: { logitsLast: Float32Array; logits: Float32Array[] } }).result;
    expect(logits.logitsLast).toBeInstanceOf(Float32Array);
    expect([...logits.logitsLast]).toEqual([0.5, -Infinity, 2]);
    expect(logits.logits).toHaveLength(2);
    expect(s.forSeq(4)[0]).toEqual({ seq: 4, result: {} });
    expect(s.forSeq(5)[0]).toEqual({ seq: 5, result: { pid: process.pid, loaded: [] } });
    expect(s.forSeq(6)[0]).toEqual({ seq: 6, error: { kind: 'bad_input', message: '/bad/config.json: malformed JSON' } });
  });

  it('gives memory back once idle after work, and unloads the models after the keep-alive', async () => {
    const s = startServer(new FakeEngine(), { idleReleaseMs: 30, keepAliveMs: 150 });
    s.send({ seq: 1, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    s.send({ seq: 2, request: { op: 'status', args: {} } });
    await s.waitFor(() => s.forSeq(1).some((r) => 'result' in r));
    expect(s.engine.memoryReleases).toBe(0);
    await s.waitFor(() => s.engine.memoryReleases === 1);
    expect(s.engine.loaded()).toEqual([{ modelId: 'tiny', device: 'cpu' }]);
    await s.waitFor(() => s.engine.calls.some((c) => c.method === 'unload'));
    expect(s.engine.loaded()).toEqual([]);
  });

  it('waits for quiet: new work cancels a pending release', async () => {
    const s = startServer(new FakeEngine({ stepMs: 20 }), { idleReleaseMs: 60, keepAliveMs: 0 });
    s.send({ seq: 1, request: { op: 'tokenize', args: { modelId: 'tiny', text: 'a' } } });
    await s.waitFor(() => s.forSeq(1).length === 1);
    s.send({ seq: 2, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    await s.waitFor(() => s.forSeq(2).some((r) => 'result' in r));
    expect(s.engine.memoryReleases).toBe(0);
    await s.waitFor(() => s.engine.memoryReleases === 1);
  });

  it('beats while it works, so the main side can tell it is alive', async () => {
    const s = startServer(new FakeEngine({ stepMs: 100 }), { heartbeatMs: 25 });
    s.send({ seq: 1, request: { op: 'generate', args: { modelId: 'tiny', prompt: 'x', memory: '', params } } });
    await s.waitFor(() => s.forSeq(1).some((r) => 'result' in r));
    expect(s.replies.filter((r) => 'heartbeat' in r).length).toBeGreaterThanOrEqual(5);
  });
});
