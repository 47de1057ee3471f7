/**
 * Secrets (remote engines' API keys) as the OS keychain encrypted them: this store only ever sees
 * ciphertext, kept as base64 text. Encrypting and decrypting is the caller's (Electron safeStorage
 * in the desktop app, see src/main/api/remote-keys.ts), so the database never holds a key in the clear.
 */
import type Database from 'better-sqlite3';

/** Encrypted values by name. */
export class SecretStore {
  readonly #select: Database.Statement;
  readonly #upsert: Database.Statement;
  readonly #delete: Database.Statement;
  readonly #names: Database.Statement;

  constructor(db: Database.Database) {
    this.#select = db.prepare('SELECT value FROM secrets WHERE name = ?').pluck();
    this.#upsert = db.prepare('INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    this.#delete = db.prepare('DELETE FROM secrets WHERE name = ?');
    this.#names = db.prepare('SELECT name FROM secrets ORDER BY name').pluck();
  }

  /** The ciphertext stored under `name`, or null. */
  get(name: string): Buffer | null {
    const value = this.#select.get(name) as string | undefined;
    return value === undefined ? null : Buffer.from(value, 'base64');
  }

  /** Stores `ciphertext` under `name` (replacing what was there); committed on return. */
  set(name: string, ciphertext: Buffer): void {
    this.#upsert.run(name, ciphertext.toString('base64'), new Date().toISOString());
  }

  /** Removes `name`; true when something was there. */
  delete(name: string): boolean {
    return this.#delete.run(name).changes > 0;
  }

  /** Every name with a value. */
  names(): string[] {
    return this.#names.all() as string[];
  }
}
