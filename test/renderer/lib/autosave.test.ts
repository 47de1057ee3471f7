import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Autosaver, type SaveState } from '../../../src/renderer/src/lib/autosave';

interface Patch {
  content: string;
  title: string;
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Autosaver', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits for a quiet period and saves the merged patch once', async () => {
    const save = vi.fn(async (_patch: Partial<Patch>) => {});
    const saver = new Autosaver<Patch>({ delayMs: 500, save });
    saver.schedule({ content: 'a' });
    await vi.advanceTimersByTimeAsync(400);
    saver.schedule({ content: 'ab' });
    saver.schedule({ title: 'T' });
    await vi.advanceTimersByTimeAsync(499);
    expect(save).not.toHaveBeenCalled();
    expect(saver.state).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(save).toHaveBeenCalledTimes(1);
    expect(save).toHaveBeenCalledWith({ content: 'ab', title: 'T' });
    expect(saver.state).toBe('saved');
    expect(saver.dirty).toBe(false);
  });

  it('never runs two saves at once; edits made during a save go out after it', async () => {
    const gates = [deferred(), deferred()];
    const calls: Partial<Patch>[] = [];
    const saver = new Autosaver<Patch>({
      delayMs: 100,
      save: (patch) => {
        calls.push(patch);
        return gates[calls.length - 1]!.promise;
      },
    });
    saver.schedule({ content: 'one' });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toEqual([{ content: 'one' }]);
    expect(saver.state).toBe('saving');
    saver.schedule({ content: 'two' });
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toHaveLength(1);
    gates[0]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([{ content: 'one' }, { content: 'two' }]);
    gates[1]!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(saver.state).toBe('saved');
  });

  it('flush saves at once and resolves when written', async () => {
    const save = vi.fn(async (_patch: Partial<Patch>) => {});
    const saver = new Autosaver<Patch>({ delayMs: 10_000, save });
    saver.schedule({ content: 'now' });
    await saver.flush();
    expect(save).toHaveBeenCalledWith({ content: 'now' });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('reports a failure, keeps the edit and retries; newer edits win over the failed patch', async () => {
    const states: SaveState[] = [];
    const calls: Partial<Patch>[] = [];
    let fail = true;
    const saver = new Autosaver<Patch>({
      delayMs: 100,
      retryMs: 1000,
      onStateChange: (state) => states.push(state),
      save: async (patch) => {
        calls.push(patch);
        if (fail) throw new Error('disk full');
      },
    });
    saver.schedule({ content: 'old', title: 'kept' });
    await vi.advanceTimersByTimeAsync(100);
    expect(saver.state).toBe('error');
    expect(saver.dirty).toBe(true);
    fail = false;
    saver.schedule({ content: 'new' });
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.at(-1)).toEqual({ content: 'new', title: 'kept' });
    expect(saver.state).toBe('saved');
    expect(states).toEqual(['pending', 'saving', 'error', 'pending', 'saving', 'saved']);
  });

  it('a save that throws synchronously is still reported and retried', async () => {
    let calls = 0;
    const saver = new Autosaver<Patch>({
      delayMs: 10,
      retryMs: 50,
      save: () => {
        calls += 1;
        if (calls === 1) throw new Error('sync');
        return Promise.resolve();
      },
    });
    saver.schedule({ content: 'x' });
    await vi.advanceTimersByTimeAsync(10);
    expect(saver.state).toBe('error');
    await vi.advanceTimersByTimeAsync(50);
    expect(calls).toBe(2);
    expect(saver.state).toBe('saved');
  });

  it('discard drops pending edits', async () => {
    const save = vi.fn(async (_patch: Partial<Patch>) => {});
    const saver = new Autosaver<Patch>({ delayMs: 100, save });
    saver.schedule({ content: 'gone' });
    saver.discard();
    await vi.advanceTimersByTimeAsync(1000);
    expect(save).not.toHaveBeenCalled();
    expect(saver.state).toBe('saved');
  });

  it('discard also drops the patch of a save in flight: it is not retried when that save fails', async () => {
    const gate = deferred();
    const save = vi.fn((_patch: Partial<Patch>) => gate.promise);
    const saver = new Autosaver<Patch>({ delayMs: 100, retryMs: 200, save });
    saver.schedule({ content: 'deleted with its document' });
    await vi.advanceTimersByTimeAsync(100);
    expect(save).toHaveBeenCalledTimes(1);
    saver.discard();
    gate.reject(new Error('document 7 not found'));
    await vi.advanceTimersByTimeAsync(5000);
    expect(save).toHaveBeenCalledTimes(1);
    expect(saver.state).toBe('saved');
    expect(saver.dirty).toBe(false);
  });
});
