/**
 * An in-memory InkwellApi for the demo and for developing the UI without a
 * back end (`?mock=1` in `npm run dev` and in the demo build, `npm run
 * build:demo`; production bundles leave it out, see main.ts). Requests go
 * through the real schemas (parseRequest), so the UI meets the same
 * validation errors; generation streams made-up prose word by word on timers,
 * deterministic for a given seed.
 *
 * It must answer as the real back end does: test/renderer/demo/
 * mock-contract.test.ts runs the same calls against it and against the real
 * API service and compares what comes back.
 */
import {
  ApiError,
  parseRequest,
  Settings,
  type DocumentFull,
  type EngineStatus,
  type FinishReason,
  type HistoryEntry,
  type InkwellApi,
  type MethodName,
  type MethodParsedRequest,
  type MethodResponse,
  type ModelSummary,
  type ServerEvent,
} from '../../../shared/api';
import { countWords, titleFromContent, UNTITLED } from '../../../shared/documents';
import { GenerationStates } from '../../../shared/generation-state';
import { matchesSearch } from '../../../shared/search-syntax';
import { createMockModels } from './mock-models';
import { createMockCompare } from './mock-compare';
import { mockRemoteHandlers } from './mock-remote';
import { createMockBatch } from './mock-batch';

/** Knobs for tests and screenshots. */
export interface MockOptions {
  /** Delay between streamed words (ms); scaled up for bigger models. */
  tokenDelayMs?: number;
  /** Delay before each call resolves (ms). */
  callDelayMs?: number;
  /** Start with sample documents, history and two models. */
  sampleData?: boolean;
  /** Clock, for deterministic tests. */
  now?: () => Date;
}

/** The mock plus a test hook to push server events. */
export interface MockApi extends InkwellApi {
  /** Sends an event to subscribers as the back end would. */
  emit(event: ServerEvent): void;
}

type Handlers = { [M in MethodName]: (params: MethodParsedRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>> };

interface RunningGeneration {
  cancelled: boolean;
}

const gpt2: ModelSummary = {
  id: 'gpt2',
  name: 'gpt2 (124M)',
  nLayer: 12,
  nEmbd: 768,
  nHead: 12,
  nPositions: 1024,
  vocabSize: 50257,
  parameters: 124_439_808,
  dtype: 'F32',
  sizeBytes: 548_105_171,
  importedAt: '2026-03-02T09:12:00.000Z',
};

const gpt2Large: ModelSummary = {
  id: 'gpt2-large',
  name: 'gpt2-large (774M)',
  nLayer: 36,
  nEmbd: 1280,
  nHead: 20,
  nPositions: 1024,
  vocabSize: 50257,
  parameters: 774_030_080,
  dtype: 'F16',
  sizeBytes: 1_548_060_160,
  importedAt: '2026-03-02T09:20:00.000Z',
};

const prose = [
  'The fog came in low over the water, and the lamp above him turned its slow white circle.',
  'He counted the seconds between the flashes, the way his father had taught him.',
  'Somewhere past the rocks a bell rang once, then thought better of it.',
  'She had left the letter on the table, folded twice, her handwriting leaning into the wind.',
  'By morning the boats would come back, or they would not, and the sea would say nothing either way.',
  'The stairs wound up into the dark like a question nobody wanted to finish.',
  'He lit the kettle and listened to the house settle around the sound.',
  'There was salt on the windows and salt in the bread, and after a while he stopped noticing either.',
  'A gull landed on the railing, looked at him as if he owed it money, and left.',
  'Below, the tide worked patiently at the foundations, as it had for a hundred years.',
  'It was the kind of silence that made you check the clock twice.',
  'When the radio finally crackled, the voice on the other end was one he had not heard in years.',
];

const copy: Record<string, readonly string[]> = {
  Tagline: [
    'Brewed slow, so your morning doesn’t have to be.',
    'Small beans. Big mornings.',
    'Your first good decision of the day.',
    'Coffee that waits for you.',
    'The quiet hour, in a cup.',
    'Wake up to something worth getting up for.',
  ],
  Headline: [
    'Finally, Coffee That Fits Your Commute',
    'Stop Settling for Office Coffee',
    'The Morning Ritual You’ll Actually Keep',
    'Great Coffee, Zero Fuss',
    'Meet Your New Favourite Mug',
  ],
  Description: [
    'Roasted in small batches and sealed the same day. Every bag tastes like the first one.',
    'A smooth, low-acid blend for long mornings. Grind it fresh or let us do it for you.',
    'Single-origin beans from farms we visit every year. Bright, clean and honest.',
  ],
};

/** Creates a fresh in-memory back end. */
export function createMockApi(options: MockOptions = {}): MockApi {
  const tokenDelayMs = options.tokenDelayMs ?? 45;
  const callDelayMs = options.callDelayMs ?? 40;
  const now = options.now ?? (() => new Date());
  const listeners = new Set<(event: ServerEvent) => void>();
  const running = new Map<string, RunningGeneration>();
  let models: ModelSummary[] = options.sampleData ? [gpt2, gpt2Large] : [];
  let settings: Settings = Settings.parse(options.sampleData ? { defaultModelId: 'gpt2' } : {});
  let documents: DocumentFull[] = [];
  let history: HistoryEntry[] = [];
  let nextDocumentId = 1;
  let nextHistoryId = 1;
  let nextGenerationId = 1;
  const loaded = new Map<string, 'cpu'>();

  const generations = new GenerationStates();
  const emit = (event: ServerEvent): void => {
    if (event.channel === 'generation') generations.record(event.event);
    for (const listener of [...listeners]) listener(event);
  };
  const engineStatus = (): EngineStatus => ({
    state: 'ready',
    loaded: [...loaded.keys()].map((modelId) => ({ modelId, device: 'cpu' as const })),
    devices: [
      { name: 'cpu', available: true },
      { name: 'webgpu', available: false, reason: 'No WebGPU adapter: Vulkan driver not found' },
      { name: 'cuda', available: false, reason: 'The CUDA execution provider is not installed' },
    ],
    cudaInstalled: false,
  });
  const findDocument = (id: number): DocumentFull => {
    const doc = documents.find((d) => d.id === id);
    if (!doc) throw new ApiError('not_found', `document ${id} does not exist`);
    return doc;
  };
  const findEntry = (id: number): HistoryEntry => {
    const entry = history.find((e) => e.id === id);
    if (!entry) throw new ApiError('not_found', `history entry ${id} does not exist`);
    return entry;
  };
  const findModel = (id: string): ModelSummary => {
    const model = models.find((m) => m.id === id);
    if (!model) throw new ApiError('not_found', `model "${id}" is not imported`);
    return model;
  };
  /** As the real store: the search syntax of src/shared/search-syntax.ts over prompt, memory and candidates, then the filters. */
  const filterHistory = (q: Omit<MethodParsedRequest<'history.list'>, 'limit' | 'offset'> & { ids?: number[] }): HistoryEntry[] => {
    const from = q.from === undefined ? null : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(q.from) ? `${q.from}T00:00:00.000Z` : q.from);
    const to = q.to === undefined ? null : /^\d{4}-\d{2}-\d{2}$/.test(q.to) ? Date.parse(`${q.to}T00:00:00.000Z`) + 86_400_000 - 1 : Date.parse(q.to);
    if (from !== null && to !== null && from > to) {
      throw new ApiError('invalid_request', `"from" (${q.from}) is later than "to" (${q.to}), so nothing can match`);
    }
    return history.filter((e) => {
      if (!matchesSearch([e.prompt, e.memory, ...e.candidates.map((c) => c.text)], q.query)) return false;
      if (q.modelId && e.modelId !== q.modelId) return false;
      if (q.starredOnly && !e.starred) return false;
      if (q.documentId && e.documentId !== q.documentId) return false;
      if (q.ids && !q.ids.includes(e.id)) return false;
      const at = Date.parse(e.createdAt);
      if (from !== null && at < from) return false;
      if (to !== null && at > to) return false;
      return true;
    });
  };
  const summary = ({ content: _c, memory: _m, authorsNote: _a, ...rest }: DocumentFull) => rest;

  const runGeneration = (generationId: string, request: MethodParsedRequest<'generate.start'>, model: ModelSummary): void => {
    const params = request.params;
    const seed = params.seed ?? Math.floor(Math.random() * 0xffff_ffff);
    const state: RunningGeneration = { cancelled: false };
    running.set(generationId, state);
    const promptTokens = mockTokenize(request.memory + request.prompt).length;
    const reserve = Math.max(1, Math.min(params.maxNewTokens, Math.floor(model.nPositions / 2)));
    const budget = Math.max(0, model.nPositions - reserve);
    const truncatedPromptTokens = Math.max(0, promptTokens - budget);
    const large = model.parameters > 300e6;
    const delay = tokenDelayMs * (large ? 3.5 : 1);
    const loadMs = loaded.has(model.id) ? 0 : large ? 2150 : 610;
    loaded.set(model.id, 'cpu');
    const label = /\n(Tagline|Headline|Description):$/.exec(request.prompt)?.[1];
    // Different models give different text for one seed, as real ones do.
    const modelSalt = [...model.id].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261);
    const streams = Array.from({ length: params.numReturnSequences }, (_, i) =>
      label ? copyWords(label, seed + i + modelSalt) : proseWords(seed + i * 7919 + modelSalt),
    );
    const texts = streams.map(() => '');
    const finish: (FinishReason | null)[] = streams.map(() => null);
    const counts = streams.map(() => 0);
    const started = performance.now();
    emit({
      channel: 'generation',
      event: { type: 'started', generationId, modelId: model.id, device: 'cpu', precision: 'fp32', seed, promptTokens: promptTokens - truncatedPromptTokens, truncatedPromptTokens, numSequences: streams.length },
    });
    const tick = (): void => {
      streams.forEach((stream, i) => {
        if (finish[i] !== null) return;
        if (state.cancelled) {
          finish[i] = 'cancelled';
          return;
        }
        const word = stream.next().value as string;
        const stopAt = firstStop(texts[i] + word, params.stop);
        if (stopAt !== null) {
          const piece = (texts[i] + word).slice(0, stopAt).slice(texts[i]!.length);
          if (piece) emit({ channel: 'generation', event: { type: 'delta', generationId, sequence: i, text: piece } });
          texts[i] += piece;
          finish[i] = 'stop';
          return;
        }
        texts[i] += word;
        counts[i]! += 1;
        emit({ channel: 'generation', event: { type: 'delta', generationId, sequence: i, text: word } });
        if (counts[i]! >= params.maxNewTokens) finish[i] = 'length';
      });
      if (finish.every((f) => f !== null)) {
        running.delete(generationId);
        const decodeMs = performance.now() - started;
        const generated = counts.reduce((a, b) => a + b, 0);
        const timings = {
          loadMs,
          prefillMs: Math.round((large ? 95 : 22) + promptTokens * (large ? 0.9 : 0.2)),
          decodeMs: Math.round(decodeMs),
          tokensPerSecond: generated > 0 ? (generated / Math.max(1, decodeMs)) * 1000 : 0,
        };
        const sequences = texts.map((text, i) => ({
          text,
          tokenIds: mockTokenize(text).map(tokenId),
          finishReason: finish[i] ?? 'length',
        }));
        const entry: HistoryEntry = {
          id: nextHistoryId++,
          createdAt: now().toISOString(),
          modelId: model.id,
          device: 'cpu',
          prompt: request.prompt,
          memory: request.memory,
          params: { ...params, seed },
          seed,
          candidates: sequences,
          acceptedIndex: null,
          starred: false,
          timings,
          promptTokens: promptTokens - truncatedPromptTokens,
          truncatedPromptTokens,
          documentId: request.documentId,
          documentTitle: documents.find((d) => d.id === request.documentId)?.title ?? null,
        };
        history.unshift(entry);
        emit({
          channel: 'generation',
          event: {
            type: 'done',
            generationId,
            result: { generationId, modelId: model.id, device: 'cpu', precision: 'fp32', seed, promptTokens: entry.promptTokens, truncatedPromptTokens, sequences, timings, historyId: entry.id },
          },
        });
        return;
      }
      setTimeout(tick, delay);
    };
    setTimeout(tick, delay + loadMs / 10);
  };

  const handlers: Handlers = {
    'app.info': () => ({ version: '0.1.0 (mock)', dataDir: '/home/writer/.config/Inkwell', transport: 'http', nativeFileDialogs: false, notices: [] }),
    'models.list': () => models.map((m) => ({ ...m })),
    'models.status': () => engineStatus(),
    'models.import': ({ path, id }) => {
      if (models.some((m) => m.id === id)) throw new ApiError('refused', `a model with id "${id}" already exists`);
      if (!path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path)) throw new ApiError('invalid_request', `models.import: path: "${path}" is not an absolute folder path`);
      const model: ModelSummary = { ...gpt2, id, name: `${id} (124M)`, importedAt: now().toISOString() };
      models = [...models, model];
      return model;
    },
    'models.remove': ({ id }) => {
      findModel(id);
      models = models.filter((m) => m.id !== id);
      loaded.delete(id);
      return { removed: true };
    },
    'generate.start': (request) => {
      const model = findModel(request.modelId);
      const generationId = `mock-${nextGenerationId++}`;
      generations.begin(generationId);
      setTimeout(() => runGeneration(generationId, request, model), 0);
      return { generationId };
    },
    'generate.cancel': ({ generationId }) => {
      const run = running.get(generationId);
      if (run) run.cancelled = true;
      return { cancelled: run !== undefined };
    },
    'generate.get': ({ generationId }) => {
      const state = generations.get(generationId);
      if (!state) throw new ApiError('not_found', `no generation "${generationId}"`);
      return state;
    },
    tokenize: ({ modelId, text }) => {
      findModel(modelId);
      const tokens = mockTokenize(text);
      return { ids: tokens.map(tokenId), tokens };
    },
    'history.list': (q) => {
      const matches = filterHistory(q);
      return { entries: matches.slice(q.offset, q.offset + q.limit), total: matches.length };
    },
    'history.get': ({ id }) => findEntry(id),
    'history.star': ({ id, starred }) => {
      const entry = { ...findEntry(id), starred };
      history = history.map((e) => (e.id === id ? entry : e));
      return entry;
    },
    'history.accept': ({ id, candidateIndex }) => {
      const entry = { ...findEntry(id), acceptedIndex: candidateIndex };
      history = history.map((e) => (e.id === id ? entry : e));
      return entry;
    },
    'history.delete': ({ id }) => {
      const before = history.length;
      history = history.filter((e) => e.id !== id);
      return { deleted: history.length < before };
    },
    'history.export': ({ format, ...filters }) => {
      const entries = filterHistory(filters).reverse();
      if (format === 'json') return { filename: 'inkwell-history.json', mimeType: 'application/json', content: JSON.stringify(entries, null, 2) };
      const md = entries
        .map((e) => `## ${e.createdAt} · ${e.modelId}\n\n**Prompt**\n\n${e.prompt}\n\n${e.candidates.map((c, i) => `${i + 1}. ${c.text}`).join('\n')}\n`)
        .join('\n');
      return { filename: 'inkwell-history.md', mimeType: 'text/markdown', content: `# Inkwell history\n\n${md}` };
    },
    'documents.list': () => [...documents].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)).map(summary),
    'documents.get': ({ id }) => ({ ...findDocument(id) }),
    'documents.create': ({ title, content }) => {
      const at = now().toISOString();
      const autoTitle = title === undefined || title.trim() === '' || title === UNTITLED;
      const doc: DocumentFull = {
        id: nextDocumentId++, title: autoTitle ? titleFromContent(content) : title, autoTitle, content, memory: '', authorsNote: '',
        createdAt: at, updatedAt: at, chars: characters(content), words: countWords(content),
      };
      documents = [...documents, doc];
      return { ...doc };
    },
    'documents.save': ({ id, ...patch }) => {
      const current = findDocument(id);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const doc: DocumentFull = { ...current, ...defined, title: patch.title ?? current.title, updatedAt: now().toISOString() };
      if (typeof patch.title === 'string') doc.autoTitle = false;
      else if (patch.title === null) doc.autoTitle = true;
      if (doc.autoTitle) doc.title = titleFromContent(doc.content);
      doc.chars = characters(doc.content);
      doc.words = countWords(doc.content);
      documents = documents.map((d) => (d.id === id ? doc : d));
      return { ...doc };
    },
    'documents.delete': ({ id }) => {
      const before = documents.length;
      documents = documents.filter((d) => d.id !== id);
      return { deleted: documents.length < before };
    },
    'files.open': () => null,
    'files.save': () => null,
    'settings.get': () => settings,
    'settings.set': (patch) => {
      settings = Settings.parse({ ...settings, ...patch });
      return settings;
    },

    ...createMockModels({
      models: () => models,
      addModel: (model) => (models = [...models, model]),
      loaded: () => loaded,
      emit: (event) => emit(event),
      stepMs: Math.max(20, callDelayMs * 2),
    }),
    // ---- inspect: the demo has no model, so it shows chips and explains the rest.
    'inspect.run': () => noDemoInspect(),
    'inspect.attention': () => noDemoInspect(),
    'inspect.overview': () => noDemoInspect(),
    'inspect.lens': () => noDemoInspect(),
    'inspect.probs': () => noDemoInspect(),
    'inspect.positional': () => noDemoInspect(),
    'inspect.tokens': ({ modelId, text, tokenIds }) => {
      const model = findModel(modelId);
      const pieces = text !== undefined ? mockTokenize(text) : (tokenIds ?? []).map((id) => `<${id}>`);
      const ids = text !== undefined ? pieces.map(tokenId) : [...(tokenIds ?? [])];
      const label = (t: string) => t.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→');
      const hex = (t: string) => [...new TextEncoder().encode(t)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      return { modelId, tokenIds: ids, tokens: pieces.map((t, i) => ({ id: ids[i] ?? 0, text: t, label: label(t), bytes: hex(t) })), window: model.nPositions };
    },
    'inspect.wordpiece': () => ({ available: false, message: 'The demo back end has no BERT tokenizer.', pullName: 'bert-base-uncased' }),
    'inspect.importBertTokenizer': () => {
      throw new ApiError('refused', 'the demo back end cannot import files');
    },
    ...createMockCompare({ emit, findModel, now, tokenDelayMs, words: proseWords, tokenize: mockTokenize, tokenId }),
    ...mockRemoteHandlers(() => settings, (remoteEngines) => (settings = Settings.parse({ ...settings, remoteEngines }))),
    ...createMockBatch({
      emit,
      now,
      stepMs: tokenDelayMs * 6,
      continuation: (seed, sentences) => Array.from({ length: sentences }, (_, k) => ` ${prose[(seed + k * 5) % prose.length] ?? ''}`).join(''),
    }),
  };

  function noDemoInspect(): never {
    throw new ApiError('refused', 'the demo back end has no model weights: attention, probabilities and the logit lens need a local model (run `inkwell serve` with one)');
  }

  if (options.sampleData) seedSampleData();

  function seedSampleData(): void {
    const at = (minutesAgo: number): string => new Date(now().getTime() - minutesAgo * 60_000).toISOString();
    const story = [
      'The Lighthouse Keeper',
      '',
      'Elias had kept the light on Carrow Point for thirty-one winters, and in all that time he had never once let it go dark.',
      '',
      'On the night the letter came, the wind had been building since noon. He read it twice by the stove, then climbed the stairs to trim the wick, because that was what you did when you did not know what else to do.',
      '',
      'Out past the breakwater, a single boat was still making for the harbour.',
    ].join('\n');
    // A long manuscript: the prose sentences in a fixed order, four to a paragraph.
    const longDraft = Array.from({ length: 140 }, (_, p) => Array.from({ length: 4 }, (_, k) => prose[(p * 5 + k * 7) % prose.length]).join(' ')).join('\n\n');
    documents = [
      { id: nextDocumentId++, title: 'The Lighthouse Keeper', autoTitle: false, content: story, memory: 'Elias is sixty-two, a widower, proud and quiet. The letter is from his estranged daughter, Mara.', authorsNote: 'Slow, atmospheric, third person past tense.', createdAt: at(600), updatedAt: at(3), chars: story.length, words: countWords(story) },
      { id: nextDocumentId++, title: 'Launch copy — Morning Roast', autoTitle: false, content: 'Morning Roast: small-batch coffee delivered every two weeks.\n', memory: '', authorsNote: '', createdAt: at(2000), updatedAt: at(1500), chars: 62, words: 8 },
      { id: nextDocumentId++, title: 'Carrow Point — full draft', autoTitle: false, content: longDraft, memory: '', authorsNote: '', createdAt: at(9000), updatedAt: at(30), chars: characters(longDraft), words: countWords(longDraft) },
    ];
    const base = { device: 'cpu' as const, memory: '', promptTokens: 96, truncatedPromptTokens: 0, documentId: 1, starred: false, acceptedIndex: null };
    const params = { ...Settings.parse({}).generation };
    const entry = (id: number, minutesAgo: number, modelId: string, prompt: string, candidates: string[], extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
      ...base,
      documentTitle: documents.find((d) => d.id === (extra.documentId ?? base.documentId))?.title ?? null,
      id,
      createdAt: at(minutesAgo),
      modelId,
      prompt,
      params: { ...params, seed: 1000 + id },
      seed: 1000 + id,
      candidates: candidates.map((text) => ({ text, tokenIds: mockTokenize(text).map(tokenId), finishReason: 'length' as const })),
      timings: modelId === 'gpt2' ? { loadMs: 610, prefillMs: 41, decodeMs: 1180, tokensPerSecond: 40.7 } : { loadMs: 2150, prefillMs: 180, decodeMs: 5200, tokensPerSecond: 9.2 },
      ...extra,
    });
    history = [
      entry(3, 12, 'gpt2', 'He read it twice by the stove, then climbed the stairs to trim the wick,', [
        ' because the light did not care what the letter said.',
        ' and the old brass fittings rattled as the first gust hit the tower.',
        ' counting the steps the way he always had, one hundred and twelve.',
      ], { acceptedIndex: 0, starred: true }),
      entry(2, 95, 'gpt2-large', 'Out past the breakwater, a single boat was still making for the harbour.', [
        ' Its running lights dipped and rose, dipped and rose, like something breathing.',
        ' Elias raised the glass and knew the hull before he could read her name.',
      ]),
      entry(1, 1440, 'gpt2', 'Product: small-batch coffee subscription\nAudience: remote workers\nTone: warm\nTagline:', [
        ' Your first good decision of the day.',
        ' Brewed slow, so your morning doesn’t have to be.',
      ], { documentId: 2 }),
    ];
    nextHistoryId = 4;
  }

  const api: MockApi = {
    async call<M extends MethodName>(method: M, payload: unknown): Promise<MethodResponse<M>> {
      await sleep(callDelayMs);
      const { params } = parseRequest<M>(method, payload);
      const handler = handlers[method] as (p: MethodParsedRequest<M>) => MethodResponse<M> | Promise<MethodResponse<M>>;
      // Structured clone, as both transports copy results.
      return structuredClone(await handler(params));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit,
  };
  return api;
}

/** Characters as SQLite's length() counts them (code points, not UTF-16 units). */
function characters(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

/** GPT-2's pre-tokenizer pattern; the mock treats each piece as one token. */
const pretokenize = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Splits text roughly as GPT-2 would (one token per word piece). */
export function mockTokenize(text: string): string[] {
  return text.match(pretokenize) ?? [];
}

function tokenId(token: string): number {
  let hash = 2166136261;
  for (let i = 0; i < token.length; i++) hash = Math.imul(hash ^ token.charCodeAt(i), 16777619);
  return (hash >>> 0) % 50257;
}

function* proseWords(seed: number): Generator<string, never> {
  const random = mulberry32(seed);
  for (;;) {
    const sentence = prose[Math.floor(random() * prose.length)] ?? '';
    for (const word of sentence.split(' ')) yield ` ${word}`;
  }
}

function* copyWords(label: string, seed: number): Generator<string, never> {
  const lines = copy[label] ?? copy['Tagline']!;
  const random = mulberry32(seed);
  const line = lines[Math.floor(random() * lines.length)] ?? '';
  for (const word of line.split(' ')) yield ` ${word}`;
  for (;;) yield '\n';
}

function firstStop(text: string, stops: readonly string[]): number | null {
  let best: number | null = null;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (best === null || at < best)) best = at;
  }
  return best;
}

function mulberry32(seed: number): () => number {
  // Scrambled first: mulberry32's first outputs for neighbouring seeds are alike.
  let a = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
