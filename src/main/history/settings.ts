/** The app's settings, one JSON value per key; what no longer validates is ignored, never fatal. */
import type Database from 'better-sqlite3';
import { ApiError, Settings } from '../../shared/api';
import { invalid } from './errors';
import { parseJson, salvageParse } from './salvage';

const settingsKeys = Object.keys(Settings.shape) as (keyof Settings)[];

/** Settings in the database. */
export class SettingsStore {
  readonly #db: Database.Database;
  readonly #select: Database.Statement;
  readonly #upsert: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#select = db.prepare('SELECT key, value FROM settings');
    this.#upsert = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  /** The settings, defaults filled in; stored values that no longer validate are ignored. */
  get(): Settings {
    const stored: Record<string, unknown> = {};
    for (const { key, value } of this.#select.all() as { key: string; value: string }[]) {
      stored[key] = parseJson(value);
    }
    return salvageParse(Settings, stored);
  }

  /** Validates and stores the keys present in `patch` (undefined means "unchanged"); returns all settings. */
  set(patch: Partial<Settings>): Settings {
    const next: Record<string, unknown> = { ...this.get() };
    const changed: string[] = [];
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (!(settingsKeys as string[]).includes(key)) throw new ApiError('invalid_request', `settings: unknown key "${key.slice(0, 64)}"`);
      next[key] = value;
      changed.push(key);
    }
    const parsed = Settings.safeParse(next);
    if (!parsed.success) throw invalid('settings', parsed.error);
    const settings = parsed.data as Record<string, unknown>;
    this.#db.transaction(() => {
      for (const key of changed) this.#upsert.run(key, JSON.stringify(settings[key]));
    })();
    return this.get();
  }
}
