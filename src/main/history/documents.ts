/**
 * The writer's documents: text, memory and author's note, most recently updated first. A document
 * created without a title takes its first line as one until the writer names it (autoTitle), and
 * every save keeps its word count (src/shared/documents.ts says how both are made).
 */
import type Database from 'better-sqlite3';
import { ApiError } from '../../shared/api';
import type { DocumentFull, DocumentSummary, MethodParsedRequest } from '../../shared/api';
import { countWords, titleFromContent, UNTITLED } from '../../shared/documents';
import { notFound } from './errors';

/** Fields of a document that a save may change (the documents.save request without its id). */
export type DocumentPatch = Omit<MethodParsedRequest<'documents.save'>, 'id'>;

interface DocumentRow {
  id: number;
  title: string;
  content: string;
  memory: string;
  authors_note: string;
  created_at: string;
  updated_at: string;
  chars: number;
  auto_title: number;
  words: number;
}

const summaryColumns = 'id, title, created_at, updated_at, length(content) AS chars, auto_title, words';
const documentColumns = `${summaryColumns}, content, memory, authors_note`;

function prepareStatements(db: Database.Database) {
  return {
    listDocuments: db.prepare(`SELECT ${summaryColumns} FROM documents ORDER BY updated_at DESC, id DESC`),
    selectDocument: db.prepare(`SELECT ${documentColumns} FROM documents WHERE id = ?`),
    insertDocument: db.prepare('INSERT INTO documents (title, auto_title, content, words, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
    selectAutoTitle: db.prepare('SELECT auto_title FROM documents WHERE id = ?').pluck(),
    deleteDocument: db.prepare('DELETE FROM documents WHERE id = ?'),
  };
}

/** Documents in the database; every write is committed before the method returns. */
export class DocumentStore {
  readonly #db: Database.Database;
  readonly #statements: ReturnType<typeof prepareStatements>;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#statements = prepareStatements(db);
  }

  /** All documents, most recently updated first. */
  list(): DocumentSummary[] {
    return (this.#statements.listDocuments.all() as Omit<DocumentRow, 'content' | 'memory' | 'authors_note'>[]).map(toSummary);
  }

  /** One document with its text, memory and author's note. */
  get(id: number): DocumentFull {
    const row = this.#statements.selectDocument.get(id) as DocumentRow | undefined;
    if (!row) throw notFound('document', id);
    return toDocument(row);
  }

  /**
   * Creates a document. Without a title (absent, blank, or the placeholder "Untitled") it takes its
   * first non-empty line as one, and keeps following it until a title is saved.
   */
  create(title: string | undefined, content: string): DocumentFull {
    const now = new Date().toISOString();
    const auto = title === undefined || title.trim() === '' || title === UNTITLED;
    const { lastInsertRowid } = this.#statements.insertDocument.run(auto ? titleFromContent(content) : title, auto ? 1 : 0, content, countWords(content), now, now);
    return this.get(Number(lastInsertRowid));
  }

  /**
   * Updates the given fields (and updated_at) and returns the document. A saved title is the writer's
   * from then on (autoTitle false), a null one hands the title back to the first line (autoTitle
   * true); new content renews an automatic title and the word count.
   */
  save(id: number, patch: DocumentPatch): DocumentFull {
    const columns: Record<Exclude<keyof DocumentPatch, 'title'>, string> = { content: 'content', memory: 'memory', authorsNote: 'authors_note' };
    const assignments: string[] = [];
    const values: unknown[] = [];
    for (const key of Object.keys(columns) as (keyof typeof columns)[]) {
      const value = patch[key];
      if (value === undefined) continue;
      if (typeof value !== 'string') throw new ApiError('invalid_request', `document ${key} must be a string`);
      assignments.push(`${columns[key]} = ?`);
      values.push(value);
    }
    return this.#db.transaction(() => {
      if (typeof patch.title === 'string') {
        assignments.push('title = ?', 'auto_title = 0');
        values.push(patch.title);
      } else if (patch.title === null) {
        assignments.push('title = ?', 'auto_title = 1');
        values.push(titleFromContent(patch.content ?? this.get(id).content));
      } else if (patch.content !== undefined && this.#statements.selectAutoTitle.get(id) === 1) {
        assignments.push('title = ?');
        values.push(titleFromContent(patch.content));
      }
      if (patch.content !== undefined) {
        assignments.push('words = ?');
        values.push(countWords(patch.content));
      }
      assignments.push('updated_at = ?');
      values.push(new Date().toISOString());
      const { changes } = this.#db.prepare(`UPDATE documents SET ${assignments.join(', ')} WHERE id = ?`).run(...values, id);
      if (changes === 0) throw notFound('document', id);
      return this.get(id);
    })();
  }

  /** Deletes a document; its history entries stay, with documentId null. */
  delete(id: number): { deleted: boolean } {
    return { deleted: this.#statements.deleteDocument.run(id).changes > 0 };
  }
}

function toSummary(row: Omit<DocumentRow, 'content' | 'memory' | 'authors_note'>): DocumentSummary {
  return {
    id: row.id,
    title: row.title,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    chars: row.chars,
    autoTitle: row.auto_title === 1,
    words: row.words,
  };
}

function toDocument(row: DocumentRow): DocumentFull {
  return { ...toSummary(row), content: row.content, memory: row.memory, authorsNote: row.authors_note };
}
