/**
 * The Batch page's methods over the real service, inference client and protocol server with a
 * scripted engine: progress on the batch channel, bad rows by line, a cancelled run resumed to a
 * complete file without duplicates, the writer's own generations admitted while a batch runs, and
 * the refusals (existing results, a second batch, a huge file, a results file that is not .jsonl).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdmissionQueue } from '../../../src/main/inference/admission';
import { ApiError, GenerationParams } from '../../../src/shared/api';
import { BATCH_LIMITS, type BatchState } from '../../../src/shared/batch';
import { FakeEngine } from '../../helpers/fake-engine';
import { useServiceFixture } from './service-fixture';

const makeService = useServiceFixture();
const params = GenerationParams.parse({ numReturnSequences: 1, maxNewTokens: 5, seed: 100 });

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

type Fixture = ReturnType<typeof makeService>;

function batchStates(fixture: Fixture): BatchState[] {
  return fixture.events.flatMap((e) => (e.channel === 'batch' ? [e.state] : []));
}

async function ended(fixture: Fixture, batchId: string): Promise<BatchState> {
  for (let i = 0; i < 5000; i += 1) {
    const last = batchStates(fixture).filter((s) => s.batchId === batchId).at(-1);
    if (last && last.status !== 'running') return last;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`batch ${batchId} did not end`);
}

function resultLines(path: string): { index: number; line: number; seed: number; fields: { prompt: string } }[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { index: number; line: number; seed: number; fields: { prompt: string } });
}

describe('batch methods', () => {
  it('runs an uploaded .jsonl file: one line per good row with its seed, bad rows listed by line, progress up to done/total', async () => {
    const fixture = makeService();
    const content = [
      JSON.stringify({ prompt: 'The sea' }),
      '{"prompt": "broken',
      JSON.stringify({ prompt: 'A row with its own seed', seed: 7 }),
      JSON.stringify({ prompt: 'Bad top_p', top_p: 3 }),
      JSON.stringify({ prompt: 'x '.repeat(70) }),
      JSON.stringify({ prompt: 'Last row' }),
    ].join('\n');
    const outPath = join(fixture.userHome, 'out.jsonl');
    const started = (await fixture.service.handle('batch.start', {
      modelId: 'tiny',
      precision: 'int8',
      source: { kind: 'upload', name: 'prompts.jsonl', content },
      outPath: '~/out.jsonl',
      params,
      concurrency: 2,
    })) as BatchState;
    expect(started).toMatchObject({ status: 'running', promptsName: 'prompts.jsonl', outPath, total: 5, done: 0, skipped: 1, badRows: [{ line: 2 }] });
    const final = await ended(fixture, started.batchId);
    expect(final).toMatchObject({ status: 'done', total: 3, done: 3, skipped: 3 });
    expect(final.badRows.map((b) => b.line)).toEqual([2, 4, 5]);
    expect(final.badRows[1]?.message).toMatch(/top_p/);
    expect(final.badRows[2]?.message).toMatch(/context window is 64/);
    expect(final.tokens).toBeGreaterThan(0);
    const lines = resultLines(outPath).sort((a, b) => a.index - b.index);
    expect(lines.map((l) => [l.index, l.line, l.seed])).toEqual([[0, 1, 100], [2, 3, 7], [5, 6, 105]]);
    // The precision chosen on the page reaches the engine with every row.
    const engine = fixture.spawner.spawned[0]?.engine;
    const generateCalls = engine?.calls.filter((c) => c.method === 'generate') ?? [];
    expect(generateCalls.map((c) => (c.args[0] as { precision?: string }).precision)).toEqual(['int8', 'int8', 'int8']);
    expect(await fixture.service.handle('batch.get', {})).toEqual(final);

    const preview = (await fixture.service.handle('batch.preview', { path: outPath })) as { rows: { index: number; prompt: string; texts: string[] }[]; totalRows: number };
    expect(preview.totalRows).toBe(3);
    expect(preview.rows.map((r) => r.prompt)).toEqual(['The sea', 'A row with its own seed', 'Last row']);
    expect(preview.rows[0]?.texts).toEqual([' one two three']);
    const download = (await fixture.service.handle('batch.download', { path: outPath })) as { filename: string; content: string };
    expect(download.filename).toBe('out.jsonl');
    expect(download.content).toBe(readFileSync(outPath, 'utf8'));
  });

  it('a batch cancelled mid-run and resumed ends complete, every row exactly once', async () => {
    const fixture = makeService({ engine: () => new FakeEngine({ stepMs: 20 }) });
    const rows = 24;
    const promptsPath = join(fixture.userHome, 'many.txt');
    writeFileSync(promptsPath, Array.from({ length: rows }, (_, i) => `Prompt ${i}`).join('\n'));
    const request = { modelId: 'tiny', source: { kind: 'path', path: promptsPath }, outPath: join(fixture.userHome, 'many.jsonl'), params, concurrency: 2 };
    const first = (await fixture.service.handle('batch.start', request)) as BatchState;
    const written = (): number => (existsSync(request.outPath) ? resultLines(request.outPath).length : 0);
    for (let i = 0; i < 5000 && written() < 3; i += 1) await new Promise((r) => setTimeout(r, 2));
    expect(await fixture.service.handle('batch.cancel', { batchId: first.batchId })).toEqual({ cancelled: true });
    const cancelled = await ended(fixture, first.batchId);
    expect(cancelled.status).toBe('cancelled');
    const before = resultLines(request.outPath).length;
    expect(before).toBeGreaterThanOrEqual(3);
    expect(before).toBeLessThan(rows);
    expect(cancelled.done).toBe(before);

    const again = await refusal(fixture.service.handle('batch.start', request));
    expect(again.kind).toBe('refused');
    expect(again.message).toMatch(/already holds results: tick "Resume"/);

    const resumed = (await fixture.service.handle('batch.start', { ...request, resume: true })) as BatchState;
    expect(resumed).toMatchObject({ alreadyDone: before, total: rows - before });
    expect(await ended(fixture, resumed.batchId)).toMatchObject({ status: 'done', done: rows - before });
    const lines = resultLines(request.outPath);
    expect(lines.map((l) => l.index).sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, i) => i));
    // The seeds are those of one uninterrupted run: the base seed plus the row's index.
    for (const l of lines) expect(l.seed).toBe(100 + l.index);
  });

  it("the writer's own generation is admitted at once while a batch runs, and a second batch is refused as busy", async () => {
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const engine = new FakeEngine();
    engine.holdAfterFirstDelta = hold;
    const admission = new AdmissionQueue({ maxSequences: 16, maxBytes: 1e12, maxQueuedSequences: 32 });
    const fixture = makeService({ engine: () => engine, deps: { admission } });
    const promptsPath = join(fixture.userHome, 'rows.txt');
    writeFileSync(promptsPath, Array.from({ length: 20 }, (_, i) => `Row ${i}`).join('\n'));
    const batch = (await fixture.service.handle('batch.start', {
      modelId: 'tiny',
      source: { kind: 'path', path: promptsPath },
      outPath: join(fixture.userHome, 'rows.jsonl'),
      params: GenerationParams.parse({ numReturnSequences: 4, maxNewTokens: 3 }),
      concurrency: 8,
    })) as BatchState;
    for (let i = 0; i < 2000 && admission.bound.used.sequences < 8; i += 1) await new Promise((r) => setTimeout(r, 2));
    // Two 4-sequence rows run; the other six wait, because 8 of the 16 sequences stay free for the writer.
    expect(admission.bound.used.sequences).toBe(8);
    const { generationId } = (await fixture.service.handle('generate.start', { modelId: 'tiny', prompt: 'My own text', params: GenerationParams.parse({ numReturnSequences: 8 }) })) as { generationId: string };
    for (let i = 0; i < 2000 && !fixture.generationEvents(generationId).some((e) => e.type === 'started'); i += 1) await new Promise((r) => setTimeout(r, 2));
    expect(fixture.generationEvents(generationId).map((e) => e.type)).toContain('started');

    const second = await refusal(fixture.service.handle('batch.start', { modelId: 'tiny', source: { kind: 'upload', name: 'b.txt', content: 'x' }, outPath: '~/b.jsonl', params }));
    expect(second.kind).toBe('busy');
    expect(second.message).toMatch(/a batch is already running \(rows\.txt/);
    release();
    await fixture.finished(generationId);
    expect(await ended(fixture, batch.batchId)).toMatchObject({ status: 'done', done: 20 });
  });

  it('refuses what it cannot run: too many rows, an unknown format, a results file that is not .jsonl, a missing prompts file', async () => {
    const fixture = makeService();
    const base = { modelId: 'tiny', outPath: '~/r.jsonl', params };
    const huge = await refusal(fixture.service.handle('batch.start', { ...base, source: { kind: 'upload', name: 'big.txt', content: 'a\n'.repeat(BATCH_LIMITS.maxRows + 1) } }));
    expect(huge.kind).toBe('refused');
    expect(huge.message).toMatch(new RegExp(`${BATCH_LIMITS.maxRows + 1} rows, more than the ${BATCH_LIMITS.maxRows}`));
    const format = await refusal(fixture.service.handle('batch.start', { ...base, source: { kind: 'upload', name: 'p.docx', content: 'a' } }));
    expect(format).toMatchObject({ kind: 'invalid_request', message: expect.stringMatching(/neither \.txt, \.jsonl nor \.csv/) });
    const notJsonl = await refusal(fixture.service.handle('batch.start', { ...base, outPath: '~/.bashrc', source: { kind: 'upload', name: 'p.txt', content: 'a' } }));
    expect(notJsonl).toMatchObject({ kind: 'invalid_request', message: expect.stringMatching(/must end in \.jsonl/) });
    const missing = await refusal(fixture.service.handle('batch.start', { ...base, source: { kind: 'path', path: '~/nowhere.txt' } }));
    expect(missing).toMatchObject({ kind: 'refused', message: expect.stringMatching(/nowhere\.txt does not exist/) });
    const notOurs = join(fixture.userHome, 'notes.jsonl');
    writeFileSync(notOurs, '{"hello": 1}\n');
    const preview = await refusal(fixture.service.handle('batch.preview', { path: notOurs }));
    expect(preview).toMatchObject({ kind: 'refused', message: expect.stringMatching(/not a batch results file/) });
    expect(await fixture.service.handle('batch.get', {})).toBeNull();
  });
});
