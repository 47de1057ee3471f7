/**
 * Crash-test writer: opens the real AppDatabase and saves entries in a loop, printing a line only
 * after each call has returned (so every printed id is committed). Bundled by the test and run with
 * `node`; the test kills it with SIGKILL at random moments.
 *
 * argv: <database file> <run tag>. Output lines: `ready`, `notice <json>`, `added <id>`,
 * `starred <id>`, `deleting <id>` (before the call), `deleted <id>`.
 */
import { writeSync } from 'node:fs';
import { AppDatabase } from '../../src/main/history';
import { crashEntry } from './history-crash-entry';

const [file, tag] = process.argv.slice(2);
if (!file || !tag) {
  process.stderr.write('usage: sqlite-writer-child <database file> <run tag>\n');
  process.exit(2);
}

// fs.writeSync on fd 1 (a pipe) returns once the line is in the kernel's buffer, which outlives SIGKILL.
const report = (line: string): void => {
  writeSync(1, `${line}\n`);
};

const { database: store, notice } = AppDatabase.open(file);
if (notice !== undefined) report(`notice ${JSON.stringify(notice)}`);
report('ready');

// A guard so an orphaned child (the test died) stops by itself.
const deadline = Date.now() + 30_000;
const ownIds: number[] = [];
for (let k = 0; Date.now() < deadline; k++) {
  const entry = store.generations.add(crashEntry(tag, k));
  report(`added ${entry.id}`);
  ownIds.push(entry.id);
  if (k % 3 === 1) {
    store.generations.setStarred(entry.id, true);
    report(`starred ${entry.id}`);
  }
  if (k % 4 === 3) {
    const victim = ownIds.shift();
    if (victim !== undefined) {
      // Announced first: a kill between the commit and the `deleted` line must not count as a lost entry.
      report(`deleting ${victim}`);
      store.generations.delete(victim);
      report(`deleted ${victim}`);
    }
  }
}
store.close();
