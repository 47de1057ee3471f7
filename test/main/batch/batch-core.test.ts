/**
 * The batch core shared by `inkwell batch` and the Batch page, with a scripted generator: a
 * results file cut mid-line is resumed with no row missing and none doubled, bad rows are
 * reported by line and never stop the others, a cancel writes no partial row, a failure that is
 * not a row's own stops the batch, and files the machine cannot hold are refused by name.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BadRowError,
  BatchFileError,
  BatchWriter,
  OutputExistsError,
  prepareBatch,
  readPromptsFile,
  readResultPreview,
  runBatch,
  type BatchRow,
  type RunBatchOptions,
} from '../../../src/main/batch';
import { GenerationParams, type GenerationOutcome } from '../../../src/shared/api';
import { BATCH_LIMITS } from '../../../src/shared/batch';
import { useTempDirs } from '../../helpers/tmp';

const tempDir = useTempDirs('inkwell-batch-core-');
const params = GenerationParams.parse({ numReturnSequences: 1, maxNewTokens: 4, seed: 50 });

/** A generator whose text names the prompt and the seed, so a line can be checked against its row. */
function outcome(row: BatchRow, p: GenerationParams, finishReason: 'length' | 'cancelled' = 'length'): GenerationOutcome {
  return {
    modelId: 'tiny',
    device: 'cpu',
    precision: 'fp32',
    seed: p.seed ?? 0,
    promptTokens: row.prompt.split(' ').length,
    truncatedPromptTokens: 0,
    sequences: [{ text: ` after ${row.prompt}`, tokenIds: [1, 2, 3], finishReason, tokenLogprobs: [-1, -2, -3] }],
    timings: { loadMs: 0, prefillMs: 1, decodeMs: 2, tokensPerSecond: 3 },
  };
}

function options(over: Partial<RunBatchOptions> & Pick<RunBatchOptions, 'todo' | 'sink'>): RunBatchOptions {
  return {
    params,
    concurrency: 3,
    generate: async (row, p) => outcome(row, p),
    countTokens: async (prompt) => prompt.split(' ').length,
    contextWindow: 16,
    signal: new AbortController().signal,
    onBadRow: () => {},
    onRowDone: () => {},
    ...over,
  };
}

function lines(path: string): { index: number; line: number; seed: number; fields: { prompt: string }; sequences: { text: string }[] }[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as never);
}

async function runInto(outPath: string, text: string, resume: boolean, over: Partial<RunBatchOptions> = {}) {
  const prepared = prepareBatch({ text, format: 'txt', promptsName: 'prompts.txt', outPath, resume });
  const writer = new BatchWriter(outPath);
  try {
    return { prepared, summary: await runBatch(options({ todo: prepared.todo, sink: writer, ...over })) };
  } finally {
    writer.close();
  }
}

describe('the batch core', () => {
  const prompts = Array.from({ length: 12 }, (_, i) => `prompt ${i}`).join('\n');

  it('resumes a results file cut in the middle of a line: the partial line goes, every row ends up exactly once, as in one run', async () => {
    const dir = tempDir();
    const reference = join(dir, 'reference.jsonl');
    await runInto(reference, prompts, false);
    const out = join(dir, 'out.jsonl');
    // Stop after five rows, as a kill would, then a write cut short.
    const controller = new AbortController();
    let written = 0;
    await runInto(out, prompts, false, {
      concurrency: 1,
      signal: controller.signal,
      onRowDone: () => {
        if (++written === 5) controller.abort();
      },
    });
    expect(lines(out)).toHaveLength(5);
    appendFileSync(out, '{"index": 7, "line": 8, "fields": {"prom');

    expect(() => prepareBatch({ text: prompts, format: 'txt', promptsName: 'prompts.txt', outPath: out, resume: false })).toThrow(OutputExistsError);
    const { prepared, summary } = await runInto(out, prompts, true);
    expect(prepared.finished.size).toBe(5);
    expect(summary).toEqual({ written: 7, skipped: 0, stopped: false });
    const after = lines(out);
    expect(after.map((l) => l.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const strip = (l: ReturnType<typeof lines>[number]) => ({ index: l.index, seed: l.seed, text: l.sequences[0]?.text });
    expect(after.map(strip).sort((a, b) => a.index - b.index)).toEqual(lines(reference).map(strip).sort((a, b) => a.index - b.index));
    expect(readFileSync(out, 'utf8').endsWith('\n')).toBe(true);
  });

  it('refuses to resume a results file written for other prompts, and one that is not batch results', () => {
    const dir = tempDir();
    const out = join(dir, 'other.jsonl');
    writeFileSync(out, `${JSON.stringify({ index: 1, fields: { prompt: 'something else' } })}\n`);
    const other = (): unknown => prepareBatch({ text: prompts, format: 'txt', promptsName: 'prompts.txt', outPath: out, resume: true });
    expect(other).toThrow(/row 1 that is not row 1 of prompts\.txt/);
    writeFileSync(out, 'hello\n');
    expect(other).toThrow(/line 1 is not JSON/);
  });

  it('reports bad rows by line and goes on: file faults, parameter faults, too long, and the engine refusing a row', async () => {
    const dir = tempDir();
    const out = join(dir, 'bad.jsonl');
    const text = [
      JSON.stringify({ prompt: 'good one' }),
      '{"prompt": "broken',
      JSON.stringify({ prompt: 'cold', temperature: 0 }),
      JSON.stringify({ prompt: Array.from({ length: 20 }, () => 'w').join(' ') }),
      JSON.stringify({ prompt: 'refused by the engine' }),
      '   ',
      JSON.stringify({ prompt: 'good two' }),
    ].join('\n');
    const prepared = prepareBatch({ text, format: 'jsonl', promptsName: 'p.jsonl', outPath: out, resume: false });
    expect(prepared.bad.map((b) => [b.line, b.message])).toEqual([[2, expect.stringMatching(/not valid JSON/)], [6, expect.stringMatching(/not valid JSON|empty/)]]);
    const bad: { line: number; message: string }[] = [];
    const writer = new BatchWriter(out);
    const summary = await runBatch(options({
      todo: prepared.todo,
      sink: writer,
      generate: async (row, p) => {
        if (row.prompt.startsWith('refused')) throw new BadRowError('the prompt has no tokens the model knows');
        return outcome(row, p);
      },
      onBadRow: ({ line, message }) => bad.push({ line, message }),
    }));
    writer.close();
    expect(summary).toEqual({ written: 2, skipped: 3, stopped: false });
    expect(bad.sort((a, b) => a.line - b.line)).toEqual([
      { line: 3, message: expect.stringMatching(/^temperature: /) },
      { line: 4, message: "prompt is 20 tokens; the model's context window is 16" },
      { line: 5, message: 'the prompt has no tokens the model knows' },
    ]);
    expect(lines(out).map((l) => l.line).sort()).toEqual([1, 7]);
  });

  it('writes no row that a cancel cut short, and stops at a failure that is not a row\'s own', async () => {
    const dir = tempDir();
    const cut = join(dir, 'cut.jsonl');
    const controller = new AbortController();
    const { summary } = await runInto(cut, prompts, false, {
      concurrency: 2,
      signal: controller.signal,
      generate: async (row, p) => {
        if (row.index === 3) controller.abort();
        return outcome(row, p, controller.signal.aborted ? 'cancelled' : 'length');
      },
    });
    expect(summary.stopped).toBe(true);
    expect(lines(cut).map((l) => l.index).sort()).toEqual([0, 1, 2]);

    const crashed = join(dir, 'crash.jsonl');
    await expect(runInto(crashed, prompts, false, {
      concurrency: 1,
      generate: async (row, p) => {
        if (row.index === 4) throw new Error('the inference process stopped');
        return outcome(row, p);
      },
    })).rejects.toThrow('the inference process stopped');
    expect(lines(crashed).map((l) => l.index)).toEqual([0, 1, 2, 3]);
  });

  it('refuses prompts files the machine cannot hold, and files that are not text, by name', () => {
    const dir = tempDir();
    const many = Array.from({ length: BATCH_LIMITS.maxRows + 1 }, () => 'x').join('\n');
    expect(() => prepareBatch({ text: many, format: 'txt', promptsName: 'many.txt', outPath: join(dir, 'o.jsonl'), resume: false })).toThrow(
      new RegExp(`many\\.txt has ${BATCH_LIMITS.maxRows + 1} rows, more than the ${BATCH_LIMITS.maxRows}`),
    );
    const binary = join(dir, 'picture.txt');
    writeFileSync(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    expect(() => readPromptsFile(binary)).toThrow(/not a text file \(it contains NUL bytes\)/);
    const latin1 = join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]));
    expect(() => readPromptsFile(latin1)).toThrow(/not UTF-8 text/);
    expect(() => readPromptsFile(join(dir, 'missing.txt'))).toThrow(BatchFileError);
    const big = join(dir, 'big.txt');
    writeFileSync(big, Buffer.alloc(BATCH_LIMITS.maxFileBytes + 1, 0x61));
    expect(() => readPromptsFile(big)).toThrow(/64\.0 MiB, more than the 64\.0 MiB a batch reads/);
  });

  it('previews the first rows of a large results file in row order and counts all of them', () => {
    const dir = tempDir();
    const out = join(dir, 'big.jsonl');
    const count = 3000;
    // Over 1 MiB, so lines cross the reader's chunks; written last row first, as rows may finish out of order.
    const record = (i: number) => JSON.stringify({ index: i, line: i + 1, fields: { prompt: `p${i}`, pad: 'x'.repeat(500) }, seed: i, sequences: [{ text: `t${i}`, finish_reason: 'length' }] });
    writeFileSync(out, Array.from({ length: count }, (_, k) => `${record(count - 1 - k)}\n`).join(''));
    const preview = readResultPreview(out, 5);
    expect(preview.totalRows).toBe(count);
    expect(preview.rows.map((r) => r.index)).toEqual([count - 5, count - 4, count - 3, count - 2, count - 1]);
    expect(preview.rows[0]).toEqual({ index: count - 5, line: count - 4, prompt: `p${count - 5}`, seed: count - 5, texts: [`t${count - 5}`], finishReasons: ['length'] });
  });
});
