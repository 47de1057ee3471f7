/**
 * The demo back end (src/renderer/src/demo/mock-api.ts) must not drift from
 * the real one: the same calls go to both, and what comes back must have the
 * same shape and the same meaning (what a search finds, what a filter keeps,
 * which error kind a bad call gets). When the real back end changes, this
 * fails until the demo follows.
 */
import { describe, expect, it } from 'vitest';
import { ApiError, type GenerationEvent, type InkwellApi, type ServerEvent } from '../../../src/shared/api';
import { createMockApi } from '../../../src/renderer/src/demo/mock-api';
import { FakeEngine } from '../../helpers/fake-engine';
import { useRendererBackend } from '../helpers/service-api';

const makeBackend = useRendererBackend();

/** The type structure of a value: typeof at the leaves, keys of objects, the first element of arrays. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shapeOf(value[0])];
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, shapeOf(v)]));
  return typeof value;
}

/** Runs a generation to its end and returns its events. */
async function generate(api: InkwellApi, request: Parameters<InkwellApi['call']>[1] & object): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));
  const unsubscribe = api.subscribe((event: ServerEvent) => {
    if (event.channel !== 'generation') return;
    events.push(event.event);
    if (event.event.type === 'done' || event.event.type === 'error') finished();
  });
  await api.call('generate.start', request as never);
  await done;
  unsubscribe();
  return events;
}

async function errorKind(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return ApiError.from(error).kind;
  }
  return 'no error';
}

/** The same session of calls, against one back end; returns what a test compares. */
async function session(api: InkwellApi) {
  const doc = await api.call('documents.create', { title: 'Harbour', content: 'The harbour at dawn.' });
  const untitled = await api.call('documents.create', { title: '  ', content: 'ümlaut 🙂' });
  const saved = await api.call('documents.save', { id: doc.id, memory: 'The keeper is old.' });
  const events = await generate(api, {
    modelId: 'tiny',
    prompt: 'The lighthouse stood',
    memory: 'Remember the storm.\n\n',
    params: { numReturnSequences: 2, maxNewTokens: 3, seed: 11 },
    documentId: doc.id,
  });
  const done = events.find((e) => e.type === 'done');
  const historyId = done?.type === 'done' ? done.result.historyId : 0;
  const entry = await api.call('history.get', { id: historyId });
  const accepted = await api.call('history.accept', { id: historyId, candidateIndex: 1 });
  const unaccepted = await api.call('history.accept', { id: historyId, candidateIndex: null });
  const starred = await api.call('history.star', { id: historyId, starred: true });
  const count = async (query: Parameters<InkwellApi['call']>[1] & object) => (await api.call('history.list', query as never)).total;
  return {
    shapes: {
      document: shapeOf(doc),
      saved: shapeOf(saved),
      list: shapeOf(await api.call('documents.list', {})),
      events: events.map((e) => shapeOf(e)).filter((s, i, all) => all.findIndex((t) => JSON.stringify(t) === JSON.stringify(s)) === i),
      entry: shapeOf(entry),
      settings: shapeOf(await api.call('settings.get', {})),
      page: shapeOf(await api.call('history.list', {})),
      exported: shapeOf(JSON.parse((await api.call('history.export', { format: 'json', ids: [historyId] })).content)),
    },
    meaning: {
      untitled: untitled.title,
      chars: untitled.chars,
      listOrder: (await api.call('documents.list', {})).map((d) => d.title),
      savedMemory: saved.memory,
      entry: { prompt: entry.prompt, memory: entry.memory, seed: entry.seed, documentId: entry.documentId, acceptedIndex: entry.acceptedIndex, candidates: entry.candidates.length },
      accepted: [accepted.acceptedIndex, unaccepted.acceptedIndex, starred.starred],
      found: {
        promptWord: await count({ query: 'LIGHTHOUSE' }),
        twoWords: await count({ query: 'lighthouse stood' }),
        memoryOnly: await count({ query: 'storm' }),
        absent: await count({ query: 'zebra' }),
        hostile: await count({ query: '"a-b AND (c* ' }),
        starred: await count({ starredOnly: true }),
        byDocument: await count({ documentId: doc.id }),
        otherModel: await count({ modelId: 'nothere' }),
        future: await count({ from: '2999-01-01' }),
        past: await count({ to: '2000-01-01' }),
      },
      errors: {
        missingDocument: await errorKind(api.call('documents.get', { id: 999 })),
        missingEntry: await errorKind(api.call('history.get', { id: 999 })),
        unknownModel: await errorKind(api.call('generate.start', { modelId: 'nothere', prompt: 'x', params: {} })),
        badParams: await errorKind(api.call('generate.start', { modelId: 'tiny', prompt: 'x', params: { temperature: -1 } })),
      },
    },
  };
}

describe('the demo back end answers as the real one does', () => {
  it('gives the same shapes and the same answers for documents, generations, history search and errors', async () => {
    const real = makeBackend({ engine: () => new FakeEngine({ pieces: [' rose', ' high'] }) });
    const demo = createMockApi({ callDelayMs: 0, tokenDelayMs: 1 });
    await demo.call('models.import', { path: '/models/tiny', id: 'tiny' });
    const [fromReal, fromDemo] = [await session(real.api), await session(demo)];
    expect(fromDemo.meaning).toEqual(fromReal.meaning);
    expect(fromDemo.shapes).toEqual(fromReal.shapes);
  });
});
