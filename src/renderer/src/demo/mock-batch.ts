/**
 * The demo back end's batch: rows "generated" on timers from canned sentences, with progress on
 * the batch channel, bad rows by line, cancel and resume, and results kept in memory per results
 * path. The demo has no files: a path names a made-up prompts file of `DEMO_ROWS` rows.
 */
import { ApiError, type MethodName, type MethodParsedRequest, type MethodResponse, type ServerEvent } from '../../../shared/api';
import { BATCH_LIMITS, type BatchBadRow, type BatchResultRow, type BatchState } from '../../../shared/batch';

type BatchMethod = Extract<MethodName, `batch.${string}`>;
type BatchHandlers = { [M in BatchMethod]: (params: MethodParsedRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>> };

const DEMO_ROWS = 48;
const topics = ['a lighthouse keeper', 'a ferry that runs late', 'a bakery at dawn', 'a letter never sent', 'the last tram home', 'a storm over the harbour'];

interface DemoRow {
  line: number;
  prompt?: string;
  bad?: string;
}

/** Rows of an uploaded file: one per line (.txt), a "prompt" field (.jsonl), or a prompt column (.csv, unquoted cells). */
function demoRows(name: string, content: string): DemoRow[] {
  const lines = content.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const ext = name.toLowerCase().slice(name.lastIndexOf('.'));
  if (ext === '.csv') {
    const column = (lines[0] ?? '').split(',').findIndex((c) => c.trim().toLowerCase() === 'prompt');
    if (column < 0) throw new ApiError('invalid_request', 'the CSV header has no "prompt" column');
    return lines.slice(1).map((l, i) => {
      const prompt = l.split(',')[column] ?? '';
      return prompt.trim() === '' ? { line: i + 2, bad: 'prompt is empty' } : { line: i + 2, prompt };
    });
  }
  return lines.map((l, i) => {
    if (ext !== '.jsonl' && ext !== '.ndjson') return l.trim() === '' ? { line: i + 1, bad: 'prompt is empty' } : { line: i + 1, prompt: l };
    try {
      const value = JSON.parse(l) as { prompt?: unknown };
      return typeof value.prompt === 'string' && value.prompt.trim() !== '' ? { line: i + 1, prompt: value.prompt } : { line: i + 1, bad: 'no "prompt" field' };
    } catch {
      return { line: i + 1, bad: l.trim() === '' ? 'empty line' : 'not valid JSON' };
    }
  });
}

/** Creates the demo's batch handlers over the mock's event stream and a continuation writer. */
export function createMockBatch(deps: { emit: (event: ServerEvent) => void; now: () => Date; continuation: (seed: number, sentences: number) => string; stepMs: number }): BatchHandlers {
  const results = new Map<string, BatchResultRow[]>();
  let current: { state: BatchState; timer: ReturnType<typeof setTimeout> | null; cancelled: boolean } | null = null;
  let last: BatchState | null = null;
  let nextId = 1;

  return {
    'batch.start': (request) => {
      if (current) throw new ApiError('busy', `a batch is already running (${current.state.promptsName} → ${current.state.outPath}): cancel it or wait until it ends`);
      if (!request.outPath.toLowerCase().endsWith('.jsonl')) throw new ApiError('invalid_request', 'the results file must end in .jsonl');
      const name = request.source.kind === 'path' ? request.source.path.replace(/^.*[\\/]/, '') : request.source.name;
      const rows =
        request.source.kind === 'upload'
          ? demoRows(name, request.source.content)
          : Array.from({ length: DEMO_ROWS }, (_, i): DemoRow => (i === 17 ? { line: i + 1, bad: 'not valid JSON (Unterminated string in JSON at position 31)' } : { line: i + 1, prompt: `Write the opening line of a story about ${topics[i % topics.length]}.` }));
      const existing = results.get(request.outPath) ?? [];
      if (existing.length > 0 && !request.resume) throw new ApiError('refused', `${request.outPath} already holds results: tick "Resume" to continue it, or choose another results file`);
      const doneLines = new Set(existing.map((r) => r.line));
      const todo = rows.filter((r) => r.prompt !== undefined && !doneLines.has(r.line));
      const badRows: BatchBadRow[] = rows.filter((r) => r.bad !== undefined).map((r) => ({ line: r.line, message: r.bad as string }));
      const started = deps.now().getTime();
      const state: BatchState = {
        batchId: `demo-batch-${nextId++}`,
        status: 'running',
        modelId: request.modelId,
        precision: request.precision,
        promptsName: name,
        outPath: request.outPath,
        total: todo.length,
        done: 0,
        alreadyDone: existing.length,
        skipped: badRows.length,
        badRows: badRows.slice(0, BATCH_LIMITS.maxListedBadRows),
        tokens: 0,
        tokensPerSecond: 0,
        concurrency: request.concurrency,
        startedAt: new Date(started).toISOString(),
      };
      const run = { state, timer: null as ReturnType<typeof setTimeout> | null, cancelled: false };
      current = run;
      results.set(request.outPath, existing);
      const step = (): void => {
        const row = todo[run.state.done];
        if (run.cancelled || !row) {
          const final: BatchState = { ...run.state, status: run.cancelled && run.state.done < run.state.total ? 'cancelled' : 'done' };
          delete final.secondsLeft;
          last = final;
          current = null;
          deps.emit({ channel: 'batch', state: final });
          return;
        }
        const seed = (request.params.seed ?? 1000) + row.line - 1;
        const texts = Array.from({ length: request.params.numReturnSequences }, (_, k) => deps.continuation(seed + k * 7919, 1));
        results.get(request.outPath)?.push({ index: row.line - 1, line: row.line, prompt: row.prompt as string, seed, texts, finishReasons: texts.map(() => 'length') });
        const done = run.state.done + 1;
        const tokens = run.state.tokens + texts.reduce((n, t) => n + t.split(' ').length, 0);
        const seconds = Math.max(0.001, (deps.now().getTime() - started) / 1000);
        run.state = { ...run.state, done, tokens, tokensPerSecond: tokens / seconds, secondsLeft: ((run.state.total - done) * seconds) / done };
        deps.emit({ channel: 'batch', state: run.state });
        run.timer = setTimeout(step, deps.stepMs);
      };
      run.timer = setTimeout(step, deps.stepMs);
      return state;
    },
    'batch.cancel': ({ batchId }) => {
      if (!current || current.state.batchId !== batchId) return { cancelled: false };
      current.cancelled = true;
      return { cancelled: true };
    },
    'batch.get': () => current?.state ?? last,
    'batch.preview': ({ path }) => {
      const rows = results.get(path);
      if (!rows) throw new ApiError('not_found', `there is no file ${path} on the computer running inkwell serve (demo)`);
      const sorted = [...rows].sort((a, b) => a.index - b.index);
      return { path, rows: sorted.slice(0, BATCH_LIMITS.maxPreviewRows), totalRows: rows.length, bytes: JSON.stringify(rows).length };
    },
    'batch.download': ({ path }) => {
      const rows = results.get(path);
      if (!rows) throw new ApiError('not_found', `there is no file ${path} on the computer running inkwell serve (demo)`);
      const content = rows.map((r) => JSON.stringify({ index: r.index, line: r.line, fields: { prompt: r.prompt }, seed: r.seed, sequences: r.texts.map((text) => ({ text, finish_reason: 'length' })) })).join('\n');
      return { filename: path.replace(/^.*[\\/]/, ''), mimeType: 'application/x-ndjson', content: `${content}\n` };
    },
    'batch.pickPrompts': () => {
      throw new ApiError('refused', 'native file dialogs exist only in the desktop app');
    },
    'batch.pickResults': () => {
      throw new ApiError('refused', 'native file dialogs exist only in the desktop app');
    },
    'batch.reveal': () => {
      throw new ApiError('refused', 'native file dialogs exist only in the desktop app');
    },
  };
}
