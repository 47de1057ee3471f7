/**
 * Crash safety: a separate process saves entries through the real AppDatabase and is killed with
 * SIGKILL at random moments, again and again, on the same file. After every kill the file must open
 * without a notice, pass integrity_check and the FTS integrity-check, hold every entry the child
 * reported as saved, complete, and hold no partial entry.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { build } from 'vite';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppDatabase } from '../../../src/main/history';
import { candidateText, parseCrashPrompt } from '../../helpers/history-crash-entry';
import { mulberry32 } from '../../helpers/random';
import { useTempDirs } from '../../helpers/tmp';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const tempDir = useTempDirs('inkwell-crash-');
const runs = 24;

/** Bundles the child (TypeScript, real store code) into one CommonJS file that plain `node` runs. */
async function bundleWriterChild(outDir: string): Promise<string> {
  await build({
    configFile: false,
    logLevel: 'warn',
    root: repoRoot,
    build: {
      ssr: join(repoRoot, 'test/helpers/sqlite-writer-child.ts'),
      outDir,
      emptyOutDir: true,
      minify: false,
      copyPublicDir: false,
      // CommonJS so NODE_PATH can point the external better-sqlite3 and zod at this checkout's node_modules.
      rollupOptions: { output: { format: 'cjs', entryFileNames: 'sqlite-writer-child.cjs' } },
    },
  });
  return join(outDir, 'sqlite-writer-child.cjs');
}

interface ChildRun {
  lines: string[];
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Runs the child and SIGKILLs it `delayMs` after it starts (`from: 'spawn'`) or after it reports ready. */
function runAndKill(childPath: string, file: string, tag: string, delayMs: number, from: 'spawn' | 'ready'): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childPath, file, tag], {
      env: { ...process.env, NODE_PATH: join(repoRoot, 'node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    if (from === 'spawn') arm();
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (from === 'ready' && /^ready$/m.test(stdout)) arm();
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Only whole lines count: the child writes each line with one write(2) after the call returned.
      const lines = stdout.split('\n').slice(0, -1);
      resolve({ lines, signal, code, stderr });
    });
  });
}

describe('history crash safety', () => {
  let childPath: string;
  beforeAll(async () => {
    childPath = await bundleWriterChild(tempDir());
  });

  it(`keeps every committed entry and a consistent index through ${runs} SIGKILLs at random moments`, async () => {
    const file = join(tempDir(), 'crash.db');
    const seed = Number(process.env.INKWELL_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = mulberry32(seed);
    const context = `(INKWELL_CRASH_SEED=${seed})`;
    const committed = new Set<number>();
    const deleted = new Set<number>();
    const starred = new Set<number>();
    let added = 0;
    let killedWhileWriting = 0;

    for (let run = 0; run < runs; run++) {
      const tag = `run${String(run).padStart(2, '0')}`;
      // Every fourth run dies during start-up (creating or migrating the schema, WAL recovery);
      // the rest while saving entries.
      const early = run % 4 === 0;
      const result = await runAndKill(childPath, file, tag, early ? random() * 300 : 10 + random() * 250, early ? 'spawn' : 'ready');
      expect(result.signal, `${tag} should die by SIGKILL, exited ${result.code}: ${result.stderr} ${context}`).toBe('SIGKILL');
      for (const line of result.lines) {
        const [verb, arg] = line.split(' ');
        const id = Number(arg);
        if (verb === 'added') {
          committed.add(id);
          added++;
        } else if (verb === 'deleting') {
          committed.delete(id);
        } else if (verb === 'deleted') {
          deleted.add(id);
        } else if (verb === 'starred') {
          starred.add(id);
        } else if (verb === 'notice') {
          expect.fail(`${tag}: the child saw a set-aside notice: ${line} ${context}`);
        }
      }
      if (result.lines.some((line) => line.startsWith('added'))) killedWhileWriting++;

      const { database: store, notice } = AppDatabase.open(file);
      expect(notice, `${tag}: a kill must never make the file look unusable ${context}`).toBeUndefined();
      const runEntries = store.generations.list({ query: `crash-entry ${tag}`, limit: 200 });
      for (const entry of runEntries.entries) {
        const parsed = parseCrashPrompt(entry.prompt);
        expect(parsed, `${tag}: entry ${entry.id} prompt ${context}`).not.toBeNull();
        const { k, count } = parsed!;
        expect(entry.candidates.map((candidate) => candidate.text), `${tag}: entry ${entry.id} ${context}`).toEqual(
          Array.from({ length: count }, (_, index) => candidateText(tag, k, index)),
        );
        if (starred.has(entry.id)) expect(entry.starred, `${tag}: entry ${entry.id} star ${context}`).toBe(true);
      }
      store.close();

      const db = new Database(file);
      try {
        expect(db.pragma('integrity_check', { simple: true }), `${tag} ${context}`).toBe('ok');
        db.prepare("INSERT INTO generations_fts (generations_fts, rank) VALUES ('integrity-check', 1)").run();
        const partial = db
          .prepare('SELECT g.id FROM generations g WHERE g.candidate_count != (SELECT count(*) FROM candidates c WHERE c.generation_id = g.id)')
          .pluck()
          .all();
        expect(partial, `${tag}: entries with missing candidates ${context}`).toEqual([]);
        const orphans = db.prepare('SELECT count(*) FROM candidates WHERE generation_id NOT IN (SELECT id FROM generations)').pluck().get();
        expect(orphans, `${tag}: orphaned candidates ${context}`).toBe(0);
        const present = new Set(db.prepare('SELECT id FROM generations').pluck().all() as number[]);
        const missing = [...committed].filter((id) => !present.has(id));
        expect(missing, `${tag}: committed entries missing after the kill ${context}`).toEqual([]);
        const resurrected = [...deleted].filter((id) => present.has(id));
        expect(resurrected, `${tag}: deleted entries back after the kill ${context}`).toEqual([]);
        const runCount = db.prepare("SELECT count(*) FROM generations WHERE prompt LIKE 'crash-entry ' || ? || ' %'").pluck().get(tag);
        expect(runEntries.total, `${tag}: full-text search finds every entry of the run ${context}`).toBe(runCount);
      } finally {
        db.close();
      }
    }
    // The kills must have landed while the child was writing, not only before it began.
    expect(killedWhileWriting, context).toBeGreaterThanOrEqual(runs / 2);
    expect(added, context).toBeGreaterThan(runs * 2);
  }, 120_000);
});
