/**
 * The inspect session in its worker thread: a long pass leaves the caller's event loop free (on the
 * calling thread onnxruntime-node's synchronous run would hold it for the whole pass), and the
 * results equal those of the same graphs run on the calling thread.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../src/main/engine/checkpoint';
import { ensureInspectGraphs } from '../../../../src/main/engine/inspect/graph-files';
import { openInspectSessionInThread, type InspectPaths } from '../../../../src/main/engine/runtime/inspect-session';
import { openInspectSession } from '../../../../src/main/engine/runtime/threaded-inspect-session';
import type { Gpt2Config } from '../../../../src/main/engine/types';
import { makeRandomCheckpoint } from '../../../helpers/checkpoint-factory';

let root: string;
let paths: InspectPaths;
let config: Gpt2Config;
const S = 384;
const ids = Array.from({ length: S }, (_, i) => (i * 7919) % 50000);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'inkwell-inspect-thread-'));
  const dir = join(root, 'model');
  await makeRandomCheckpoint(dir, { nLayer: 2, nEmbd: 256, nHead: 4, nPositions: S, seed: 51 });
  config = (await readCheckpoint(dir)).config;
  paths = await ensureInspectGraphs(dir, dir);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `work` while a 5 ms timer ticks; returns how long it took and the longest gap between ticks. */
async function withTicks(work: () => Promise<unknown>): Promise<{ ms: number; longestGap: number }> {
  let last = performance.now();
  let longestGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 5);
  const start = performance.now();
  await work();
  const ms = performance.now() - start;
  clearInterval(timer);
  longestGap = Math.max(longestGap, performance.now() - last);
  return { ms, longestGap };
}

describe('threaded inspect session', () => {
  it('a long pass leaves the caller\'s event loop free', async () => {
    const threaded = await openInspectSession(paths, config, 'cpu');
    const inThread = await openInspectSessionInThread(paths, config, 'cpu');
    try {
      const pass = async (session: typeof threaded) => {
        const forward = await session.forward(ids);
        return session.readout(forward.hidden[1] as Float32Array, ids, 10);
      };
      await pass(threaded);
      const blocking = await withTicks(() => pass(inThread));
      const free = await withTicks(() => pass(threaded));
      // On the calling thread the timer cannot fire during either run (forward, readout): one gap is
      // at least a third of the pass. In the worker the gaps stay a small part of it.
      expect(blocking.longestGap).toBeGreaterThan(0.3 * blocking.ms);
      expect(free.ms).toBeGreaterThan(200);
      expect(free.longestGap).toBeLessThan(0.15 * free.ms);
    } finally {
      await Promise.all([threaded.release(), inThread.release()]);
    }
  });

  it('gives the same attentions, residual streams and readouts as the calling thread', async () => {
    const threaded = await openInspectSession(paths, config, 'cpu');
    const inThread = await openInspectSessionInThread(paths, config, 'cpu');
    try {
      const short = ids.slice(0, 40);
      const [a, b] = [await threaded.forward(short), await inThread.forward(short)];
      expect(a.attentions).toEqual(b.attentions);
      expect(a.hidden).toEqual(b.hidden);
      const [ra, rb] = [await threaded.readout(a.hidden[0] as Float32Array, short, 3), await inThread.readout(b.hidden[0] as Float32Array, short, 3)];
      expect(ra).toEqual(rb);
      expect(threaded.device).toEqual({ requested: 'cpu', used: 'cpu' });
      await expect(threaded.forward([])).rejects.toThrow('1 to 384 fit the context window');
    } finally {
      await Promise.all([threaded.release(), inThread.release()]);
    }
    await expect(threaded.forward([1])).rejects.toThrow('inspect session used after release()');
  });
});
