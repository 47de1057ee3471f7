/**
 * The generation history: every prompt with all its candidates, with a full-text index over the
 * prompt and the candidates' text (trigram FTS5, see migrations.ts and search-query.ts).
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { ApiError, Candidate, GenerationDevice, GenerationModelId, GenerationParams, parseRequest, Timings } from '../../shared/api';
import type { ExportFile, ExportFormat, HistoryEntry, HistoryPage, MethodParsedRequest, MethodRequest } from '../../shared/api';
import { normalizeDateTime, rangeEnd, rangeStart } from './date-range';
import { invalid, notFound } from './errors';
import { formatExport } from './export-format';
import { parseJson, salvageParse } from './salvage';
import { registerSearchFunctions, searchConditions } from './search-query';

/** The parsed 'history.list' request. */
export type HistoryQuery = MethodParsedRequest<'history.list'>;

/** What selects entries: the filters history.list and history.export share. */
export type HistoryFilters = Omit<HistoryQuery, 'limit' | 'offset'> & { ids?: readonly number[] };

// A zero-length decode reports Infinity tokens/s; z.number() rejects non-finite values, and a lost save is worse than a 0.
const finiteOrZero = z
  .custom<number>((value) => typeof value === 'number', 'expected a number')
  .transform((value) => (Number.isFinite(value) ? value : 0));
/** The contract's Timings, each field saved as finiteOrZero. */
const SavedTimings = z.object(Object.fromEntries(Timings.keyof().options.map((key) => [key, finiteOrZero])) as Record<keyof Timings, typeof finiteOrZero>);
const NewGenerationSchema = z.object({
  modelId: GenerationModelId,
  device: GenerationDevice,
  prompt: z.string(),
  memory: z.string().default(''),
  params: GenerationParams,
  seed: z.int().min(0),
  candidates: z.array(Candidate),
  timings: SavedTimings,
  promptTokens: z.int().min(0),
  truncatedPromptTokens: z.int().min(0),
  documentId: z.int().min(1).nullable(),
  /** ISO date-time; defaults to now. */
  createdAt: z.string().optional(),
});

/** A finished generation as the engine reports it, to be saved (memory is stored so a re-run can rebuild the same input). */
export type NewGeneration = z.input<typeof NewGenerationSchema>;

interface GenerationRow {
  id: number;
  created_at: string;
  model_id: string;
  device: GenerationDevice;
  prompt: string;
  memory: string;
  params: string;
  seed: number;
  candidate_count: number;
  accepted_index: number | null;
  starred: number;
  load_ms: number;
  prefill_ms: number;
  decode_ms: number;
  tokens_per_second: number;
  prompt_tokens: number;
  truncated_prompt_tokens: number;
  document_id: number | null;
  document_title: string | null;
}

interface CandidateRow {
  generation_id: number;
  idx: number;
  text: string;
  token_ids: string;
  token_logprobs: string | null;
  finish_reason: Candidate['finishReason'];
}

const generationColumns =
  'g.id, g.created_at, g.model_id, g.device, g.prompt, g.memory, g.params, g.seed, g.candidate_count, g.accepted_index, g.starred, ' +
  'g.load_ms, g.prefill_ms, g.decode_ms, g.tokens_per_second, g.prompt_tokens, g.truncated_prompt_tokens, g.document_id, d.title AS document_title';
/** Every entry with its document's title (the join finds none once the document is deleted). */
const generationsWithDocument = 'generations g LEFT JOIN documents d ON d.id = g.document_id';

function prepareStatements(db: Database.Database) {
  return {
    insertGeneration: db.prepare(
      `INSERT INTO generations (created_at, model_id, device, prompt, memory, params, seed, candidate_count, load_ms, prefill_ms,
         decode_ms, tokens_per_second, prompt_tokens, truncated_prompt_tokens, document_id)
       VALUES (@createdAt, @modelId, @device, @prompt, @memory, @params, @seed, @candidateCount, @loadMs, @prefillMs,
         @decodeMs, @tokensPerSecond, @promptTokens, @truncatedPromptTokens, @documentId)`,
    ),
    insertCandidate: db.prepare('INSERT INTO candidates (generation_id, idx, text, token_ids, finish_reason, token_logprobs) VALUES (?, ?, ?, ?, ?, ?)'),
    // External-content FTS: the index is written from the same view 'integrity-check' compares it with.
    indexGeneration: db.prepare(
      'INSERT INTO generations_fts (rowid, prompt, memory, outputs) SELECT id, prompt, memory, outputs FROM generation_search_text WHERE id = ?',
    ),
    unindexGeneration: db.prepare(
      "INSERT INTO generations_fts (generations_fts, rowid, prompt, memory, outputs) SELECT 'delete', id, prompt, memory, outputs FROM generation_search_text WHERE id = ?",
    ),
    deleteGeneration: db.prepare('DELETE FROM generations WHERE id = ?'),
    selectGeneration: db.prepare(`SELECT ${generationColumns} FROM ${generationsWithDocument} WHERE g.id = ?`),
    selectCandidates: db.prepare(
      'SELECT generation_id, idx, text, token_ids, finish_reason, token_logprobs FROM candidates WHERE generation_id IN (SELECT value FROM json_each(?)) ORDER BY generation_id, idx',
    ),
    setStarred: db.prepare('UPDATE generations SET starred = ? WHERE id = ?'),
    setAccepted: db.prepare('UPDATE generations SET accepted_index = ? WHERE id = ?'),
    documentExists: db.prepare('SELECT 1 FROM documents WHERE id = ?').pluck(),
  };
}

/** Saved generations; every write is committed (synchronous FULL) before the method returns. */
export class GenerationStore {
  readonly #db: Database.Database;
  readonly #statements: ReturnType<typeof prepareStatements>;

  constructor(db: Database.Database) {
    this.#db = db;
    registerSearchFunctions(db);
    this.#statements = prepareStatements(db);
  }

  /** Saves a finished generation with all its candidates and returns the entry. */
  add(generation: NewGeneration): HistoryEntry {
    const parsed = NewGenerationSchema.safeParse(generation);
    if (!parsed.success) throw invalid('generation', parsed.error);
    const g = parsed.data;
    const createdAt = g.createdAt === undefined ? new Date().toISOString() : normalizeDateTime(g.createdAt, 'createdAt');
    const id = this.#db.transaction(() => {
      // The document may have been deleted while the model ran; the generation is still worth keeping.
      const documentId = g.documentId !== null && this.#statements.documentExists.get(g.documentId) ? g.documentId : null;
      const { lastInsertRowid } = this.#statements.insertGeneration.run({
        createdAt,
        modelId: g.modelId,
        device: g.device,
        prompt: g.prompt,
        memory: g.memory,
        params: JSON.stringify(g.params),
        seed: g.seed,
        candidateCount: g.candidates.length,
        loadMs: g.timings.loadMs,
        prefillMs: g.timings.prefillMs,
        decodeMs: g.timings.decodeMs,
        tokensPerSecond: g.timings.tokensPerSecond,
        promptTokens: g.promptTokens,
        truncatedPromptTokens: g.truncatedPromptTokens,
        documentId,
      });
      const generationId = Number(lastInsertRowid);
      g.candidates.forEach((candidate, index) => {
        const logprobs = candidate.tokenLogprobs && candidate.tokenLogprobs.length === candidate.tokenIds.length ? JSON.stringify(candidate.tokenLogprobs) : null;
        this.#statements.insertCandidate.run(generationId, index, candidate.text, JSON.stringify(candidate.tokenIds), candidate.finishReason, logprobs);
      });
      this.#statements.indexGeneration.run(generationId);
      return generationId;
    }).immediate();
    return this.get(id);
  }

  /**
   * One page of history, newest first (created_at, then id). The query is what the writer typed
   * (search-query.ts: phrases, word prefixes, literal text otherwise). Ordering stays chronological
   * with a query too, so pages are stable and the list reads as a timeline.
   */
  list(query: MethodRequest<'history.list'> = {}): HistoryPage {
    const q: HistoryQuery = parseRequest<'history.list'>('history.list', query).params;
    const { where, params } = this.#where(q);
    return this.#db.transaction(() => {
      const total = this.#db.prepare(`SELECT count(*) FROM ${generationsWithDocument} ${where}`).pluck().get(...params) as number;
      const rows = this.#db
        .prepare(`SELECT ${generationColumns} FROM ${generationsWithDocument} ${where} ORDER BY g.created_at DESC, g.id DESC LIMIT ? OFFSET ?`)
        .all(...params, q.limit, q.offset) as GenerationRow[];
      return { entries: this.#toEntries(rows), total };
    })();
  }

  /** The WHERE clause (and its parameters) that selects the entries `filters` describe. */
  #where(filters: HistoryFilters): { where: string; params: unknown[] } {
    const { conditions, params } = searchConditions(filters.query, {
      ftsTable: 'generations_fts',
      idColumn: 'g.id',
      anyText: (test) => ({
        sql: `(${test('g.prompt')} OR ${test('g.memory')} OR EXISTS (SELECT 1 FROM candidates c WHERE c.generation_id = g.id AND ${test('c.text')}))`,
        params: 3,
      }),
    });
    if (filters.modelId !== undefined) {
      conditions.push('g.model_id = ?');
      params.push(filters.modelId);
    }
    const start = filters.from === undefined ? undefined : rangeStart(filters.from);
    const end = filters.to === undefined ? undefined : rangeEnd(filters.to);
    if (start !== undefined && end !== undefined && (end.inclusive ? start > end.bound : start >= end.bound)) {
      throw new ApiError('invalid_request', `"from" (${filters.from}) is later than "to" (${filters.to}), so nothing can match`);
    }
    if (start !== undefined) {
      conditions.push('g.created_at >= ?');
      params.push(start);
    }
    if (end !== undefined) {
      conditions.push(end.inclusive ? 'g.created_at <= ?' : 'g.created_at < ?');
      params.push(end.bound);
    }
    if (filters.starredOnly) conditions.push('g.starred = 1');
    if (filters.documentId !== undefined) {
      conditions.push('g.document_id = ?');
      params.push(filters.documentId);
    }
    if (filters.ids !== undefined) {
      conditions.push('g.id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify([...new Set(filters.ids)]));
    }
    return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
  }

  /** One entry; ApiError not_found when there is none. */
  get(id: number): HistoryEntry {
    const row = this.#statements.selectGeneration.get(id) as GenerationRow | undefined;
    if (!row) throw notFound('history entry', id);
    const [entry] = this.#toEntries([row]);
    if (!entry) throw notFound('history entry', id);
    return entry;
  }

  /** Stars or unstars an entry and returns it. */
  setStarred(id: number, starred: boolean): HistoryEntry {
    const { changes } = this.#statements.setStarred.run(starred ? 1 : 0, id);
    if (changes === 0) throw notFound('history entry', id);
    return this.get(id);
  }

  /** Records which candidate the writer accepted (null: none); the index must name an existing candidate. */
  setAccepted(id: number, candidateIndex: number | null): HistoryEntry {
    const entry = this.get(id);
    if (candidateIndex !== null && (!Number.isInteger(candidateIndex) || candidateIndex < 0 || candidateIndex >= entry.candidates.length)) {
      throw new ApiError(
        'invalid_request',
        `candidateIndex ${candidateIndex} is out of range: history entry ${id} has ${entry.candidates.length} candidate(s)`,
      );
    }
    this.#statements.setAccepted.run(candidateIndex, id);
    return this.get(id);
  }

  /** Deletes an entry, its candidates and its full-text rows; `deleted` is false if it did not exist. */
  delete(id: number): { deleted: boolean } {
    return this.#db.transaction(() => {
      this.#statements.unindexGeneration.run(id);
      return { deleted: this.#statements.deleteGeneration.run(id).changes > 0 };
    }).immediate();
  }

  /**
   * Exports every entry the filters match (all of them, not a page; only `ids` when given), oldest
   * first, as JSON or Markdown. Ids that name no entry are refused as not_found.
   */
  export(format: ExportFormat, filters: Partial<HistoryFilters> = {}): ExportFile {
    const parsed = parseRequest<'history.export'>('history.export', { format, ...filters }).params;
    const { where, params } = this.#where(parsed);
    const entries = this.#db.transaction(() => {
      if (parsed.ids !== undefined) {
        const unique = [...new Set(parsed.ids)];
        const existing = new Set(
          this.#db.prepare('SELECT id FROM generations WHERE id IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(unique)) as number[],
        );
        const missing = unique.filter((id) => !existing.has(id));
        if (missing.length > 0) throw new ApiError('not_found', `history entries not found: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`);
      }
      const rows = this.#db.prepare(`SELECT ${generationColumns} FROM ${generationsWithDocument} ${where} ORDER BY g.created_at, g.id`).all(...params) as GenerationRow[];
      return this.#toEntries(rows);
    })();
    return formatExport(entries, format, new Date());
  }

  /** Problems of the full-text index against its content and of the candidate counts; empty means healthy. */
  checkIntegrity(): string[] {
    const problems: string[] = [];
    try {
      this.#db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run();
    } catch (error) {
      problems.push(`full-text index: ${error instanceof Error ? error.message : String(error)}`);
    }
    const mismatched = this.#db
      .prepare('SELECT g.id FROM generations g WHERE g.candidate_count != (SELECT count(*) FROM candidates c WHERE c.generation_id = g.id)')
      .pluck()
      .all() as number[];
    if (mismatched.length > 0) problems.push(`entries with missing candidates: ${mismatched.join(', ')}`);
    return problems;
  }

  #toEntries(rows: readonly GenerationRow[]): HistoryEntry[] {
    if (rows.length === 0) return [];
    const candidatesById = new Map<number, Candidate[]>();
    const candidateRows = this.#statements.selectCandidates.all(JSON.stringify(rows.map((row) => row.id))) as CandidateRow[];
    for (const row of candidateRows) {
      const list = candidatesById.get(row.generation_id) ?? [];
      const tokenLogprobs = row.token_logprobs === null ? undefined : (JSON.parse(row.token_logprobs) as number[]);
      list.push({ text: row.text, tokenIds: JSON.parse(row.token_ids) as number[], finishReason: row.finish_reason, ...(tokenLogprobs ? { tokenLogprobs } : {}) });
      candidatesById.set(row.generation_id, list);
    }
    return rows.map((row) => ({
      id: row.id,
      createdAt: row.created_at,
      modelId: row.model_id,
      device: row.device,
      prompt: row.prompt,
      memory: row.memory,
      params: salvageParse(GenerationParams, parseJson(row.params)),
      seed: row.seed,
      candidates: candidatesById.get(row.id) ?? [],
      acceptedIndex: row.accepted_index,
      starred: row.starred === 1,
      timings: { loadMs: row.load_ms, prefillMs: row.prefill_ms, decodeMs: row.decode_ms, tokensPerSecond: row.tokens_per_second },
      promptTokens: row.prompt_tokens,
      truncatedPromptTokens: row.truncated_prompt_tokens,
      documentId: row.document_id,
      documentTitle: row.document_title,
    }));
  }
}
