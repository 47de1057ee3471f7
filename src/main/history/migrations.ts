/**
 * Schema migrations, numbered in code. `PRAGMA user_version` records the last one applied; each
 * migration runs in its own IMMEDIATE transaction together with the user_version bump, so a failure
 * leaves the database at the previous version with its data untouched.
 */
import type Database from 'better-sqlite3';
import { countWords, titleFromContent, UNTITLED } from '../../shared/documents';

/** One schema step: `up` runs inside a transaction that also sets user_version to `version`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /**
   * Runs with foreign keys off (checked with foreign_key_check before the commit): a step that
   * rebuilds a parent table must not have its DROP cascade into the children.
   * https://www.sqlite.org/lang_altertable.html#otheralter
   */
  readonly foreignKeysOff?: boolean;
  up(db: Database.Database): void;
}

const initialSchema = `
CREATE TABLE documents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  content TEXT NOT NULL DEFAULT '',
  memory TEXT NOT NULL DEFAULT '',
  authors_note TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX documents_by_updated ON documents(updated_at DESC, id DESC);

-- AUTOINCREMENT: a deleted entry's id is never handed to a new one (the UI may still hold it).
CREATE TABLE generations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NOT NULL,
  model_id TEXT NOT NULL,
  device TEXT NOT NULL CHECK (device IN ('cpu', 'webgpu', 'cuda')),
  prompt TEXT NOT NULL,
  memory TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL CHECK (json_valid(params)),
  seed INTEGER NOT NULL,
  candidate_count INTEGER NOT NULL CHECK (candidate_count >= 0),
  accepted_index INTEGER CHECK (accepted_index IS NULL OR (accepted_index >= 0 AND accepted_index < candidate_count)),
  starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1)),
  load_ms REAL NOT NULL,
  prefill_ms REAL NOT NULL,
  decode_ms REAL NOT NULL,
  tokens_per_second REAL NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  truncated_prompt_tokens INTEGER NOT NULL,
  document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL
);
CREATE INDEX generations_by_created ON generations(created_at DESC, id DESC);
CREATE INDEX generations_by_model ON generations(model_id, created_at DESC);
CREATE INDEX generations_by_document ON generations(document_id);

CREATE TABLE candidates (
  generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL CHECK (idx >= 0),
  text TEXT NOT NULL,
  token_ids TEXT NOT NULL CHECK (json_valid(token_ids)),
  finish_reason TEXT NOT NULL CHECK (finish_reason IN ('stop', 'length', 'cancelled')),
  PRIMARY KEY (generation_id, idx)
) WITHOUT ROWID;

-- What the full-text index covers: the prompt and every candidate's text. The FTS table below uses
-- this view as its external content, so 'integrity-check' (rank 1) can compare index and data.
CREATE VIEW generation_search_text AS
SELECT g.id AS id,
       g.prompt AS prompt,
       (SELECT group_concat(c.text, char(10) ORDER BY c.idx) FROM candidates c WHERE c.generation_id = g.id) AS outputs
FROM generations g;

-- trigram: a query word matches as a case-insensitive substring, so search agrees with LIKE and
-- works for scripts without spaces (CJK). https://www.sqlite.org/fts5.html#the_trigram_tokenizer
CREATE VIRTUAL TABLE generations_fts USING fts5(
  prompt, outputs,
  content = 'generation_search_text', content_rowid = 'id',
  tokenize = 'trigram'
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value))
) WITHOUT ROWID;
`;

/** The generations table of schema 1, with the devices a generation may have run on. */
function generationsTable(name: string, devices: readonly string[]): string {
  return `
CREATE TABLE ${name} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at TEXT NOT NULL,
  model_id TEXT NOT NULL,
  device TEXT NOT NULL CHECK (device IN (${devices.map((d) => `'${d}'`).join(', ')})),
  prompt TEXT NOT NULL,
  memory TEXT NOT NULL DEFAULT '',
  params TEXT NOT NULL CHECK (json_valid(params)),
  seed INTEGER NOT NULL,
  candidate_count INTEGER NOT NULL CHECK (candidate_count >= 0),
  accepted_index INTEGER CHECK (accepted_index IS NULL OR (accepted_index >= 0 AND accepted_index < candidate_count)),
  starred INTEGER NOT NULL DEFAULT 0 CHECK (starred IN (0, 1)),
  load_ms REAL NOT NULL,
  prefill_ms REAL NOT NULL,
  decode_ms REAL NOT NULL,
  tokens_per_second REAL NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  truncated_prompt_tokens INTEGER NOT NULL,
  document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL
);`;
}

/** The search view and its FTS5 index as migration 3 made them. */
const searchIndexSchema = `
CREATE VIEW generation_search_text AS
SELECT g.id AS id,
       g.prompt AS prompt,
       g.memory AS memory,
       (SELECT group_concat(c.text, char(10) ORDER BY c.idx) FROM candidates c WHERE c.generation_id = g.id) AS outputs
FROM generations g;
CREATE VIRTUAL TABLE generations_fts USING fts5(
  prompt, memory, outputs,
  content = 'generation_search_text', content_rowid = 'id',
  tokenize = 'trigram'
);`;

/** Every migration, in order; append only, never edit one that has shipped. */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'generations, candidates, full-text index, documents, settings',
    up(db) {
      db.exec(initialSchema);
    },
  },
  {
    version: 2,
    name: 'app_meta: which Inkwell wrote the schema',
    up(db) {
      // Read by an older Inkwell that meets this file, to say which version it needs (issue 6 §3.3).
      db.exec('CREATE TABLE app_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID');
    },
  },
  {
    version: 3,
    name: 'memory text in the full-text index',
    up(db) {
      // The Memory sent with a prompt is what the writer remembers typing; search covers it too.
      db.exec(`
        DROP TABLE generations_fts;
        DROP VIEW generation_search_text;
        CREATE VIEW generation_search_text AS
        SELECT g.id AS id,
               g.prompt AS prompt,
               g.memory AS memory,
               (SELECT group_concat(c.text, char(10) ORDER BY c.idx) FROM candidates c WHERE c.generation_id = g.id) AS outputs
        FROM generations g;
        CREATE VIRTUAL TABLE generations_fts USING fts5(
          prompt, memory, outputs,
          content = 'generation_search_text', content_rowid = 'id',
          tokenize = 'trigram'
        );
        INSERT INTO generations_fts (generations_fts) VALUES ('rebuild');
      `);
    },
  },
  {
    version: 4,
    name: 'documents: automatic titles and word counts',
    up(db) {
      db.exec(`
        ALTER TABLE documents ADD COLUMN auto_title INTEGER NOT NULL DEFAULT 0 CHECK (auto_title IN (0, 1));
        ALTER TABLE documents ADD COLUMN words INTEGER NOT NULL DEFAULT 0 CHECK (words >= 0);
      `);
      // Documents created without a title were all called "Untitled": from now on they take their first line.
      const update = db.prepare('UPDATE documents SET words = ?, auto_title = ?, title = ? WHERE id = ?');
      for (const row of db.prepare('SELECT id, title, content FROM documents').all() as { id: number; title: string; content: string }[]) {
        const auto = row.title === UNTITLED;
        update.run(countWords(row.content), auto ? 1 : 0, auto ? titleFromContent(row.content) : row.title, row.id);
      }
    },
  },
  {
    version: 5,
    name: "candidates: each generated token's log-probability",
    up(db) {
      // Kept so a past generation can be coloured by probability without recomputing (issue 8 §5).
      // NULL for entries saved before: they still load, without the colouring.
      db.exec('ALTER TABLE candidates ADD COLUMN token_logprobs TEXT CHECK (token_logprobs IS NULL OR json_valid(token_logprobs))');
    },
  },
  {
    version: 6,
    name: 'comparisons: one entry per Compare run, with its own full-text index',
    up(db) {
      // One row per comparison (issue 10: a comparison used to land as one unrelated entry per column).
      // `record` holds the whole Comparison (columns, figures, perplexity matrix, divergence) as JSON;
      // prompt, outputs and models are kept as columns for search and filtering.
      db.exec(`
        CREATE TABLE comparisons (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          created_at TEXT NOT NULL,
          prompt TEXT NOT NULL,
          outputs TEXT NOT NULL,
          models TEXT NOT NULL CHECK (json_valid(models)),
          record TEXT NOT NULL CHECK (json_valid(record))
        );
        CREATE INDEX comparisons_by_created ON comparisons(created_at DESC, id DESC);
        CREATE VIRTUAL TABLE comparisons_fts USING fts5(
          prompt, outputs,
          content = 'comparisons', content_rowid = 'id',
          tokenize = 'trigram'
        );
      `);
    },
  },
  {
    version: 7,
    name: 'secrets: remote engine keys, encrypted by the OS keychain',
    up(db) {
      // Only ciphertext from Electron safeStorage (base64) is stored; src/main/history/secrets.ts.
      db.exec('CREATE TABLE secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID');
    },
  },
  {
    version: 8,
    name: "generations: the 'remote' device (a remote engine)",
    foreignKeysOff: true,
    up(db) {
      // SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same columns in
      // the same order (index-repair copies rows with SELECT *), then its indexes, search view and index.
      const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'generations'").pluck().get() as number | undefined;
      db.exec(`
        DROP TABLE generations_fts;
        DROP VIEW generation_search_text;
        ${generationsTable('generations_v8', ['cpu', 'webgpu', 'cuda', 'remote'])}
        INSERT INTO generations_v8 SELECT * FROM generations;
        DROP TABLE generations;
        ALTER TABLE generations_v8 RENAME TO generations;
        CREATE INDEX generations_by_created ON generations(created_at DESC, id DESC);
        CREATE INDEX generations_by_model ON generations(model_id, created_at DESC);
        CREATE INDEX generations_by_document ON generations(document_id);
        ${searchIndexSchema}
        INSERT INTO generations_fts (generations_fts) VALUES ('rebuild');
      `);
      // AUTOINCREMENT: the counter survives the copy, so a deleted entry's id is never handed out again.
      if (sequence !== undefined) {
        db.prepare("DELETE FROM sqlite_sequence WHERE name = 'generations'").run();
        db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('generations', ?)").run(sequence);
      }
    },
  },
];

/** app_meta key: the Inkwell version that applied the newest migration. */
export const SCHEMA_WRITER_KEY = 'schema_written_by';

/** The schema version this code writes. */
export const latestSchemaVersion = migrations.length;

/** A migration threw; the database is still at `fromVersion`. */
export class MigrationError extends Error {
  constructor(
    readonly migration: Migration,
    readonly fromVersion: number,
    override readonly cause: unknown,
  ) {
    super(`migration ${migration.version} (${migration.name}) failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'MigrationError';
  }
}

/** The file was written by a newer schema than `list` knows. */
export class NewerSchemaError extends Error {
  constructor(
    readonly fileVersion: number,
    readonly knownVersion: number,
    /** The Inkwell version that wrote it, when the file says (app_meta, schema 2 and later). */
    readonly writtenBy?: string,
  ) {
    super(`schema version ${fileVersion} is newer than this version of Inkwell understands (${knownVersion})`);
    this.name = 'NewerSchemaError';
  }
}

/** The Inkwell version recorded as having written the schema, if the file has app_meta. */
export function schemaWriter(db: Database.Database): string | undefined {
  try {
    const value = db.prepare('SELECT value FROM app_meta WHERE key = ?').pluck().get(SCHEMA_WRITER_KEY);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Reads `PRAGMA user_version`. */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` up to the last version in `list`, one transaction per migration.
 * Throws NewerSchemaError for a file from the future and MigrationError when a step fails.
 */
export function migrate(db: Database.Database, list: readonly Migration[] = migrations, appVersion?: string): { from: number; to: number } {
  list.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`migrations must be numbered 1, 2, 3, …: entry ${index} has version ${migration.version}`);
    }
  });
  const from = schemaVersion(db);
  if (from > list.length) throw new NewerSchemaError(from, list.length, schemaWriter(db));
  for (const migration of list) {
    // IMMEDIATE takes the write lock before user_version is re-read, so two processes opening
    // the same file at once cannot both apply the same step.
    const apply = db.transaction(() => {
      const current = schemaVersion(db);
      if (current >= migration.version) return;
      migration.up(db);
      if (migration.foreignKeysOff) {
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new Error(`${broken.length} rows would break a foreign key`);
      }
      db.pragma(`user_version = ${migration.version}`);
      if (appVersion !== undefined && hasTable(db, 'app_meta')) {
        db.prepare('INSERT INTO app_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(SCHEMA_WRITER_KEY, appVersion);
      }
    });
    // PRAGMA foreign_keys does nothing inside a transaction: it is switched around it.
    const foreignKeysWereOn = migration.foreignKeysOff === true && schemaVersion(db) < migration.version && db.pragma('foreign_keys', { simple: true }) === 1;
    if (foreignKeysWereOn) db.pragma('foreign_keys = OFF');
    try {
      apply.immediate();
    } catch (error) {
      if (isSqliteBusy(error)) throw error;
      throw new MigrationError(migration, migration.version - 1, error);
    } finally {
      if (foreignKeysWereOn) db.pragma('foreign_keys = ON');
    }
  }
  return { from, to: list.length };
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(name) !== undefined;
}

function isSqliteBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}
