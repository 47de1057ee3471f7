/**
 * Saved comparisons: one entry per Compare run (prompt, every column's output and figures, the
 * perplexity matrix, the first divergence), searchable with the history's search syntax over the
 * prompt and every column's output (trigram FTS5, migration 5).
 */
import type Database from 'better-sqlite3';
import { ApiError, Comparison, parseRequest, type ExportFile, type ExportFormat, type MethodParsedRequest, type MethodRequest, type NewComparison } from '../../shared/api';
import { formatComparisonExport } from '../../shared/compare';
import { invalid, notFound } from './errors';
import { parseJson } from './salvage';
import { registerSearchFunctions, searchConditions } from './search-query';

/** The parsed 'compare.list' request. */
export type ComparisonQuery = MethodParsedRequest<'compare.list'>;

/** What selects comparisons: the filters compare.list and compare.export share. */
export type ComparisonFilters = Pick<ComparisonQuery, 'query' | 'modelId'> & { ids?: readonly number[] };

interface ComparisonRow {
  id: number;
  created_at: string;
  record: string;
}

/** Saved comparisons; every write is committed before the method returns. */
export class ComparisonStore {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #index: Database.Statement;
  readonly #unindex: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #select: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    registerSearchFunctions(db);
    this.#insert = db.prepare('INSERT INTO comparisons (created_at, prompt, outputs, models, record) VALUES (?, ?, ?, ?, ?)');
    this.#index = db.prepare('INSERT INTO comparisons_fts (rowid, prompt, outputs) SELECT id, prompt, outputs FROM comparisons WHERE id = ?');
    this.#unindex = db.prepare("INSERT INTO comparisons_fts (comparisons_fts, rowid, prompt, outputs) SELECT 'delete', id, prompt, outputs FROM comparisons WHERE id = ?");
    this.#delete = db.prepare('DELETE FROM comparisons WHERE id = ?');
    this.#select = db.prepare('SELECT id, created_at, record FROM comparisons WHERE id = ?');
  }

  /** Saves a finished comparison and returns it with its id. */
  add(comparison: NewComparison, createdAt: string = new Date().toISOString()): Comparison {
    const checked = Comparison.safeParse({ ...comparison, id: 1, createdAt });
    if (!checked.success) throw invalid('comparison', checked.error);
    const { id: _id, createdAt: _at, ...record } = checked.data;
    const outputs = record.columns.map((c) => c.text).join('\n');
    const models = [...new Set(record.columns.map((c) => c.spec.modelId))];
    const id = this.#db.transaction(() => {
      const { lastInsertRowid } = this.#insert.run(createdAt, record.prompt, outputs, JSON.stringify(models), JSON.stringify(record));
      this.#index.run(lastInsertRowid);
      return Number(lastInsertRowid);
    }).immediate();
    return this.get(id);
  }

  /** One page, newest first; the query is the history search syntax over the prompt and the outputs. */
  list(query: MethodRequest<'compare.list'> = {}): { entries: Comparison[]; total: number } {
    const q = parseRequest<'compare.list'>('compare.list', query).params;
    const { where, params } = this.#where(q);
    return this.#db.transaction(() => {
      const total = this.#db.prepare(`SELECT count(*) FROM comparisons c ${where}`).pluck().get(...params) as number;
      const rows = this.#db.prepare(`SELECT c.id, c.created_at, c.record FROM comparisons c ${where} ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as ComparisonRow[];
      return { entries: rows.map(toComparison), total };
    })();
  }

  /** One comparison; ApiError not_found when there is none. */
  get(id: number): Comparison {
    const row = this.#select.get(id) as ComparisonRow | undefined;
    if (!row) throw notFound('comparison', id);
    return toComparison(row);
  }

  /** Deletes a comparison and its full-text row; `deleted` is false if it did not exist. */
  delete(id: number): { deleted: boolean } {
    return this.#db.transaction(() => {
      this.#unindex.run(id);
      return { deleted: this.#delete.run(id).changes > 0 };
    }).immediate();
  }

  /** Every comparison the filters match (only `ids` when given; unknown ids are not_found), oldest first, as JSON or Markdown. */
  export(format: ExportFormat, filters: Partial<ComparisonFilters> = {}, now: Date = new Date()): ExportFile {
    const parsed = parseRequest<'compare.export'>('compare.export', { format, ...filters }).params;
    const { where, params } = this.#where(parsed);
    const entries = this.#db.transaction(() => {
      if (parsed.ids !== undefined) {
        const unique = [...new Set(parsed.ids)];
        const found = new Set(this.#db.prepare('SELECT id FROM comparisons WHERE id IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(unique)) as number[]);
        const missing = unique.filter((id) => !found.has(id));
        if (missing.length > 0) throw new ApiError('not_found', `comparisons not found: ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`);
      }
      return (this.#db.prepare(`SELECT c.id, c.created_at, c.record FROM comparisons c ${where} ORDER BY c.created_at, c.id`).all(...params) as ComparisonRow[]).map(toComparison);
    })();
    return formatComparisonExport(entries, format, now);
  }

  #where(filters: ComparisonFilters): { where: string; params: unknown[] } {
    const { conditions, params } = searchConditions(filters.query, {
      ftsTable: 'comparisons_fts',
      idColumn: 'c.id',
      anyText: (test) => ({ sql: `(${test('c.prompt')} OR ${test('c.outputs')})`, params: 2 }),
    });
    if (filters.modelId !== undefined) {
      conditions.push('EXISTS (SELECT 1 FROM json_each(c.models) WHERE value = ?)');
      params.push(filters.modelId);
    }
    if (filters.ids !== undefined) {
      conditions.push('c.id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify([...new Set(filters.ids)]));
    }
    return { where: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
  }
}

function toComparison(row: ComparisonRow): Comparison {
  const record = parseJson(row.record);
  const parsed = Comparison.safeParse({ ...(record && typeof record === 'object' ? record : {}), id: row.id, createdAt: row.created_at });
  if (!parsed.success) throw new ApiError('internal', `comparison ${row.id} is damaged: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}
