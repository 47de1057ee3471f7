import { describe, expect, it } from 'vitest';
import { latestSchemaVersion } from '../../../src/main/history/migrations';
import { useDatabaseFixture } from './database-fixture';

const openStore = useDatabaseFixture();

describe('AppDatabase connection', () => {
  it('opens with WAL, synchronous FULL, foreign keys on and a busy timeout of at least 5 s', () => {
    const { database: store } = openStore();
    const info = store.connectionInfo();
    expect(info.journalMode).toBe('wal');
    expect(info.synchronous).toBe(2);
    expect(info.foreignKeys).toBe(1);
    expect(info.busyTimeout).toBeGreaterThanOrEqual(5000);
    expect(info.userVersion).toBe(latestSchemaVersion);
    store.close();
    store.close();
  });
});
