/**
 * The /v1 admission queue: bounded, round-robin between clients, refusing at
 * once with a Retry-After estimate, leaving when the caller aborts, failing
 * waiters on close.
 */
import { describe, expect, it } from 'vitest';
import { FairQueue, QueueFullError, type QueueTicket } from '../../../../src/main/transports/openai/fair-queue';

/** A manual clock. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('FairQueue', () => {
  it('runs up to maxRunning at once and starts the next one when a ticket is released', async () => {
    const queue = new FairQueue({ maxRunning: 2, maxWaiting: 4, maxWaitingPerClient: 4 });
    const a = await queue.enter('x');
    await queue.enter('y');
    let third: QueueTicket | null = null;
    void queue.enter('z').then((t) => (third = t));
    await Promise.resolve();
    expect([queue.running, queue.waiting, third]).toEqual([2, 1, null]);
    a.release();
    a.release();
    await expect.poll(() => third).not.toBeNull();
    expect([queue.running, queue.waiting]).toEqual([2, 0]);
  });

  it('serves clients round-robin: one client with many requests does not starve another', async () => {
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 10, maxWaitingPerClient: 10 });
    const order: string[] = [];
    let current = await queue.enter('busy');
    const waits = [
      ...['busy-1', 'busy-2', 'busy-3'].map((name) => queue.enter('busy').then((t) => ({ name, t }))),
      queue.enter('writer').then((t) => ({ name: 'writer-1', t })),
      queue.enter('other').then((t) => ({ name: 'other-1', t })),
    ];
    const settled = new Map<string, QueueTicket>();
    for (const wait of waits) void wait.then(({ name, t }) => settled.set(name, t));
    for (let i = 0; i < waits.length; i++) {
      current.release();
      await expect.poll(() => settled.size).toBe(i + 1);
      const [name, ticket] = [...settled.entries()].find(([n]) => !order.includes(n)) as [string, QueueTicket];
      order.push(name);
      current = ticket;
    }
    expect(order).toEqual(['busy-1', 'writer-1', 'other-1', 'busy-2', 'busy-3']);
  });

  it('refuses at once when the queue is full, and when one client has its share waiting', async () => {
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 2, maxWaitingPerClient: 1 });
    await queue.enter('a');
    void queue.enter('a');
    const own = await queue.enter('a').catch((e: unknown) => e);
    expect(own).toBeInstanceOf(QueueFullError);
    expect(own).toMatchObject({ scope: 'client' });
    void queue.enter('b');
    const full = await queue.enter('c').catch((e: unknown) => e);
    expect(full).toMatchObject({ scope: 'server', message: expect.stringContaining('1 generation(s) running and 2 waiting') });
    expect(queue.waiting).toBe(2);
  });

  it('estimates Retry-After from the average duration of finished generations and what is ahead', async () => {
    const time = clock();
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 8, maxWaitingPerClient: 8, initialServiceMs: 10_000, now: time.now });
    expect(queue.retryAfterSeconds()).toBe(1);
    const first = await queue.enter('a');
    expect(queue.retryAfterSeconds()).toBe(10);
    time.advance(2_000);
    first.release();
    // Average moves 30 % of the way from 10 s to 2 s: 7.6 s.
    const second = await queue.enter('a');
    void queue.enter('a');
    void queue.enter('b');
    expect(queue.retryAfterSeconds()).toBe(Math.ceil((3 * 7.6 * 1000) / 1000));
    second.release();
  });

  it('spreads the estimate over the running slots and caps it at ten minutes', async () => {
    const queue = new FairQueue({ maxRunning: 4, maxWaiting: 100, maxWaitingPerClient: 100, initialServiceMs: 1_000_000 });
    await queue.enter('a');
    expect(queue.retryAfterSeconds()).toBe(250);
    await queue.enter('a');
    await queue.enter('a');
    expect(queue.retryAfterSeconds()).toBe(600);
  });

  it('a waiter whose signal aborts leaves the queue with the abort reason and is never started', async () => {
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 4, maxWaitingPerClient: 4 });
    const running = await queue.enter('a');
    const controller = new AbortController();
    const waiting = queue.enter('b', controller.signal);
    expect(queue.waiting).toBe(1);
    controller.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    expect(queue.waiting).toBe(0);
    running.release();
    expect(queue.running).toBe(0);
    const aborted = new AbortController();
    aborted.abort(new Error('already gone'));
    await expect(queue.enter('c', aborted.signal)).rejects.toThrow('already gone');
  });

  it('close() fails every waiter and refuses new requests; running ones keep their slot', async () => {
    const queue = new FairQueue({ maxRunning: 1, maxWaiting: 4, maxWaitingPerClient: 4 });
    const running = await queue.enter('a');
    const waiting = queue.enter('b');
    queue.close(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    await expect(queue.enter('c')).rejects.toThrow('shutting down');
    expect(queue.running).toBe(1);
    running.release();
    expect(queue.running).toBe(0);
  });
});
