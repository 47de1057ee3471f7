import { describe, expect, it } from 'vitest';
import { AdmissionQueue, WorkBound, defaultAdmissionLimits, estimateGenerationCost, type WorkCost } from '../../../src/main/inference/admission';
import { ApiError, GenerationParams } from '../../../src/shared/api';

const gpt2Large = { nLayer: 36, nEmbd: 1280, nHead: 20, nPositions: 1024, vocabSize: 50257 };
const small = { nLayer: 12, nEmbd: 512, nHead: 8, nPositions: 1024, vocabSize: 50257 };

function thrown(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('expected an ApiError');
}

describe('estimateGenerationCost', () => {
  it('covers the KV cache of every sequence at its longest, held twice during a step (past and present)', () => {
    const params = GenerationParams.parse({ numReturnSequences: 8, maxNewTokens: 1024 });
    const cost = estimateGenerationCost(gpt2Large, { prompt: 'x'.repeat(5000), memory: '', params });
    // Independent figure: K and V, 36 layers, 8 rows, the full 1024-token window, 1280 floats of 4 bytes.
    const kvAtWindow = 2 * 36 * 8 * 1024 * 1280 * 4;
    expect(cost.sequences).toBe(8);
    expect(cost.bytes).toBeGreaterThanOrEqual(2 * kvAtWindow);
    expect(cost.bytes).toBeLessThan(2.5 * kvAtWindow);
  });

  it('grows with the prompt and the candidates, and stops growing at the context window', () => {
    const params = (numReturnSequences: number, maxNewTokens = 40) => GenerationParams.parse({ numReturnSequences, maxNewTokens });
    const short = estimateGenerationCost(small, { prompt: 'Once', memory: '', params: params(3) });
    const long = estimateGenerationCost(small, { prompt: 'word '.repeat(200), memory: '', params: params(3) });
    const wide = estimateGenerationCost(small, { prompt: 'word '.repeat(200), memory: '', params: params(8) });
    expect(long.bytes).toBeGreaterThan(short.bytes);
    expect(wide.bytes).toBeGreaterThan(long.bytes);
    const huge = estimateGenerationCost(small, { prompt: 'x'.repeat(1_000_000), memory: '', params: params(3, 1024) });
    const window = estimateGenerationCost(small, { prompt: 'x'.repeat(5_000), memory: '', params: params(3, 1024) });
    expect(huge.bytes).toBe(window.bytes);
    // Memory counts as prompt; maxLength caps the length.
    expect(estimateGenerationCost(small, { prompt: '', memory: 'word '.repeat(200), params: params(3) }).bytes).toBe(long.bytes);
    expect(estimateGenerationCost(small, { prompt: 'x'.repeat(5000), memory: '', params: { ...params(3, 1024), maxLength: 64 } }).bytes).toBeLessThan(window.bytes / 10);
  });

  it('counts a token per UTF-8 byte at most (GPT-2 tokens are byte-level), never per UTF-16 unit', () => {
    const params = GenerationParams.parse({ numReturnSequences: 1, maxNewTokens: 1 });
    const ascii = estimateGenerationCost(small, { prompt: 'a'.repeat(12), memory: '', params });
    const emoji = estimateGenerationCost(small, { prompt: '😀'.repeat(3), memory: '', params });
    expect(emoji.bytes).toBe(ascii.bytes);
  });
});

describe('WorkBound', () => {
  it('takes work while it fits in sequences and bytes, and gets it back', () => {
    const bound = new WorkBound({ maxSequences: 10, maxBytes: 100 });
    expect(bound.tryTake({ sequences: 8, bytes: 10 })).toBe(true);
    expect(bound.tryTake({ sequences: 3, bytes: 10 })).toBe(false);
    expect(bound.tryTake({ sequences: 2, bytes: 91 })).toBe(false);
    expect(bound.tryTake({ sequences: 2, bytes: 90 })).toBe(true);
    expect(bound.used).toEqual({ sequences: 10, bytes: 100 });
    bound.give({ sequences: 8, bytes: 10 });
    expect(bound.used).toEqual({ sequences: 2, bytes: 90 });
    expect(bound.canEverFit({ sequences: 10, bytes: 100 })).toBe(true);
    expect(bound.canEverFit({ sequences: 11, bytes: 1 })).toBe(false);
  });
});

describe('AdmissionQueue', () => {
  const limits = { maxSequences: 8, maxBytes: 1000, maxQueuedSequences: 8 };
  const job = (sequences: number, bytes = 10): WorkCost => ({ sequences, bytes });
  const settled = async (promise: Promise<unknown>): Promise<boolean> => {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 0));
    return done;
  };

  it('runs what fits, queues the rest in arrival order (no overtaking), and is busy when the queue is full', async () => {
    const queue = new AdmissionQueue(limits);
    const a = queue.enter(job(6));
    const b = queue.enter(job(4));
    const c = queue.enter(job(1));
    expect(await settled(a.admitted)).toBe(true);
    expect(await settled(b.admitted)).toBe(false);
    // c would fit beside a, but b came first.
    expect(await settled(c.admitted)).toBe(false);
    expect(queue.queued).toEqual({ requests: 2, sequences: 5 });
    const busy = thrown(() => queue.enter(job(4)));
    expect(busy.kind).toBe('busy');
    expect(busy.message).toMatch(/6 sequence\(s\) are being generated and 2 request\(s\) are waiting/);
    a.release();
    a.release();
    expect(await settled(b.admitted)).toBe(true);
    expect(await settled(c.admitted)).toBe(true);
    expect(queue.bound.used.sequences).toBe(5);
  });

  it('refuses work that could never fit instead of queueing it forever', () => {
    const queue = new AdmissionQueue(limits);
    const error = thrown(() => queue.enter(job(2, 5000)));
    expect(error.kind).toBe('refused');
    expect(error.message).toMatch(/more than the 1 MiB Inkwell allows itself/);
    expect(thrown(() => queue.enter(job(9))).kind).toBe('refused');
  });

  it('takes a cancelled request out of the queue and lets the next one in', async () => {
    const queue = new AdmissionQueue(limits);
    const running = queue.enter(job(8));
    const controller = new AbortController();
    const cancelled = queue.enter(job(7), controller.signal);
    const after = queue.enter(job(1));
    controller.abort();
    await expect(cancelled.admitted).rejects.toMatchObject({ kind: 'cancelled' });
    expect(queue.queued.requests).toBe(1);
    running.release();
    expect(await settled(after.admitted)).toBe(true);
    cancelled.release();
    expect(queue.bound.used.sequences).toBe(1);
    after.release();
    expect(queue.bound.used).toEqual({ sequences: 0, bytes: 0 });
  });

  it('by default lets 16 sequences run and 32 wait, with half the machine memory for work', () => {
    expect(defaultAdmissionLimits({}, 24 * 1024 ** 3)).toEqual({ maxSequences: 16, maxBytes: 12 * 1024 ** 3, maxQueuedSequences: 32 });
    expect(defaultAdmissionLimits({ INKWELL_WORK_MEMORY_MB: '512' }, 24 * 1024 ** 3).maxBytes).toBe(512 * 1024 ** 2);
  });
});

describe('AdmissionQueue background work (batch rows)', () => {
  const limits = { maxSequences: 16, maxBytes: 1_000_000, maxQueuedSequences: 32 };
  const reserve: WorkCost = { sequences: 8, bytes: 0 };
  const row: WorkCost = { sequences: 1, bytes: 10 };
  const settled = async (admission: { admitted: Promise<void> }): Promise<boolean> => {
    let done = false;
    void admission.admitted.then(() => (done = true), () => (done = true));
    await new Promise((r) => setTimeout(r, 0));
    return done;
  };

  it('a batch never takes the room kept for the writer: a full request is admitted at once while background rows fill the rest', async () => {
    const queue = new AdmissionQueue(limits);
    const rows = Array.from({ length: 12 }, () => queue.enterBackground(row, reserve));
    const admittedRows = (await Promise.all(rows.map(settled))).filter(Boolean).length;
    expect(admittedRows).toBe(limits.maxSequences - reserve.sequences);
    const writer = queue.enter({ sequences: 8, bytes: 10 });
    expect(await settled(writer)).toBe(true);
    writer.release();
    for (const r of rows) r.release();
  });

  it('a waiting writer request goes before waiting background rows', async () => {
    const queue = new AdmissionQueue(limits);
    const running = queue.enter({ sequences: 16, bytes: 10 });
    const background = queue.enterBackground(row, reserve);
    const writer = queue.enter({ sequences: 4, bytes: 10 });
    expect(await settled(background)).toBe(false);
    running.release();
    expect(await settled(writer)).toBe(true);
    // 4 taken by the writer + 1 row + 8 reserved = 13 ≤ 16: the row may run beside it.
    expect(await settled(background)).toBe(true);
    writer.release();
    background.release();
    expect(queue.bound.used).toEqual({ sequences: 0, bytes: 0 });
  });

  it('refuses a row that can never fit beside the reserve, and takes a cancelled row out of the wait', async () => {
    const queue = new AdmissionQueue(limits);
    expect(thrown(() => queue.enterBackground({ sequences: 9, bytes: 10 }, reserve)).kind).toBe('refused');
    const running = queue.enter({ sequences: 16, bytes: 10 });
    const controller = new AbortController();
    const waiting = queue.enterBackground(row, reserve, controller.signal);
    controller.abort();
    await expect(waiting.admitted).rejects.toMatchObject({ kind: 'cancelled' });
    running.release();
    expect(queue.bound.used).toEqual({ sequences: 0, bytes: 0 });
  });
});
