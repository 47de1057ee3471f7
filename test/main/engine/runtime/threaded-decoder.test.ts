import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDecoder, openDecoderInThread, type DecoderSession } from '../../../../src/main/engine/runtime';
import { OrtKvCache } from '../../../../src/main/engine/runtime/kv-cache';
import { EngineError } from '../../../../src/main/engine/types';
import { exportRandomModel, logitTolerance, makeTempRoot, maxAbsDiff, removeTempRoot, type ExportedModel } from '../onnx/export-fixture';

const PROMPT = [464, 2068, 7586, 21831, 18045, 625];

let root: string;
let model: ExportedModel;
const sessions: DecoderSession[] = [];

async function open(env: Record<string, string | undefined>): Promise<DecoderSession> {
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const session = await openDecoder(model, model.ckpt.config, 'cpu');
  sessions.push(session);
  return session;
}

beforeAll(async () => {
  root = makeTempRoot('threaded');
  model = await exportRandomModel(root, 'm', { nLayer: 2, nEmbd: 24, nHead: 3, seed: 5 });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  removeTempRoot(root);
});

/** Prefill, tile to 3 rows, one step, keep rows [2, 0], one more step: the logits of both steps. */
async function script(session: DecoderSession): Promise<Float32Array[]> {
  const first = await session.step({ batch: 1, inputIds: PROMPT, seqLen: PROMPT.length, attentionMask: PROMPT.map(() => 1), positionIds: PROMPT.map((_, i) => i), past: null });
  const tiled = first.present.select([0, 0, 0]);
  first.present.dispose();
  const n = PROMPT.length;
  const second = await session.step({ batch: 3, inputIds: [262, 13, 50256], seqLen: 1, attentionMask: new Array<number>(3 * (n + 1)).fill(1), positionIds: [n, n, n], past: tiled });
  tiled.dispose();
  const kept = second.present.select([2, 0]);
  second.present.dispose();
  const third = await session.step({ batch: 2, inputIds: [11, 11], seqLen: 1, attentionMask: new Array<number>(2 * (n + 2)).fill(1), positionIds: [n + 1, n + 1], past: kept });
  kept.dispose();
  expect(third.present.batch).toBe(2);
  expect(third.present.length).toBe(n + 2);
  third.present.dispose();
  return [first.logits, second.logits, third.logits];
}

describe('openDecoder in a worker thread', () => {
  it('gives the logits of the in-thread decoder through prefill, select and decode, and keeps no cache on this thread', async () => {
    const threaded = await open({});
    const local = await openDecoderInThread(model, model.ckpt.config, 'cpu');
    sessions.push(local);
    const probe = await threaded.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [0], past: null });
    expect(probe.present).not.toBeInstanceOf(OrtKvCache);
    probe.present.dispose();
    const a = await script(threaded);
    const b = await script(local);
    a.forEach((logits, i) => {
      expect(logits.length).toBe((b[i] as Float32Array).length);
      const { diff, scale } = maxAbsDiff(logits, b[i] as Float32Array);
      expect(diff).toBeLessThanOrEqual(logitTolerance(scale));
    });
    expect(await threaded.logitsAll(PROMPT)).toEqual(await local.logitsAll(PROMPT));
  });

  it('keeps error kinds and messages, and refuses a cache used after dispose', async () => {
    const threaded = await open({});
    await expect(threaded.step({ batch: 1, inputIds: [60000], seqLen: 1, attentionMask: [1], positionIds: [0], past: null })).rejects.toSatisfy(
      (e) => e instanceof EngineError && e.kind === 'bad_input' && /outside the vocabulary/.test(e.message),
    );
    const out = await threaded.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [0], past: null });
    out.present.dispose();
    expect(() => out.present.select([0])).toThrow(/used after dispose/);
    await expect(threaded.step({ batch: 1, inputIds: [2], seqLen: 1, attentionMask: [1, 1], positionIds: [1], past: out.present })).rejects.toThrow(/used after dispose/);
    await threaded.release();
    await expect(threaded.logitsAll([1])).rejects.toThrow(/used after release/);
  });

  it('INKWELL_DECODER_THREAD=0 and an unusable worker entry run the decoder on this thread', async () => {
    const off = await open({ INKWELL_DECODER_THREAD: '0' });
    const a = await off.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [0], past: null });
    expect(a.present).toBeInstanceOf(OrtKvCache);
    a.present.dispose();
    vi.unstubAllEnvs();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const missing = await open({ INKWELL_DECODER_WORKER: join(root, 'nope.mjs') });
    const b = await missing.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [0], past: null });
    expect(b.present).toBeInstanceOf(OrtKvCache);
    b.present.dispose();
    expect(warn.mock.calls.flat().join(' ')).toMatch(/nope\.mjs does not exist/);
    warn.mockRestore();
  });

  it('a worker that dies rejects the pending call with a clear internal error, and every later call', async () => {
    // Answers 'open' like the real worker, then exits in the middle of the first step.
    const dying = join(root, 'dying-worker.mjs');
    writeFileSync(dying, `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.type === 'open') parentPort.postMessage({ call: m.call, ok: true, device: { requested: 'cpu', used: 'cpu' } });
  if (m.type === 'step') process.exit(3);
});\n`);
    const session = await open({ INKWELL_DECODER_WORKER: dying });
    await expect(session.step({ batch: 1, inputIds: [1], seqLen: 1, attentionMask: [1], positionIds: [0], past: null })).rejects.toSatisfy(
      (e) => e instanceof EngineError && e.kind === 'internal' && /decoder worker exited \(code 3\)/.test(e.message),
    );
    await expect(session.logitsAll([1])).rejects.toThrow(/decoder worker exited/);
  });

  // Issue 6 §3.5: release() waited for an answer that a stuck worker never gives.
  it('release() ends even when the worker never answers it', async () => {
    const stuck = join(root, 'stuck-worker.mjs');
    writeFileSync(stuck, `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.type === 'open') parentPort.postMessage({ call: m.call, ok: true, device: { requested: 'cpu', used: 'cpu' } });
});\n`);
    const session = await open({ INKWELL_DECODER_WORKER: stuck });
    let released = false;
    const release = session.release().then(() => (released = true));
    // The bound is the release timeout (5 s) plus slack for a loaded machine, not a speed claim.
    await vi.waitFor(() => expect(released).toBe(true), { timeout: 20_000, interval: 100 });
    await release;
  }, 30_000);
});
