/**
 * Child script of the read-only and unwritable-folder tests (run by test/helpers/unprivileged.ts):
 * `storage-probe.ts open <db file>` opens the database and tries to save; `serve <home> <renderer>`
 * starts serve mode; `import <home> <checkpoint>` runs the CLI's import. Prints one JSON line.
 */
import { AppDatabase } from '../../src/main/history';
import { describeError, exitCodeFor } from '../../src/main/cli/io';
import { runCli } from '../../src/main/cli/run';
import { toApiError } from '../../src/main/common/errors';
import { sampleGeneration } from '../main/history/sample-generation';

const [command, first = '', second = ''] = process.argv.slice(2);
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);

if (command === 'open') {
  try {
    const { database, notice } = AppDatabase.open(first);
    let saveError: { kind: string; message: string } | null = null;
    try {
      database.generations.add(sampleGeneration({ prompt: 'written while read-only' }));
    } catch (error) {
      saveError = toApiError(error).toJSON();
    }
    print({ notice, readOnly: database.readOnly, total: database.generations.list({}).total, saveError });
    database.close();
  } catch (error) {
    print({ openError: (error as Error).message, exit: exitCodeFor(error) });
  }
} else if (command === 'serve') {
  const { startServe } = await import('../../src/main/serve');
  try {
    const handle = await startServe({ port: 0, host: '127.0.0.1', home: first, rendererDir: second, log: () => {} });
    await handle.close();
    print({ started: true });
  } catch (error) {
    print({ exit: exitCodeFor(error), stderr: describeError(error) });
  }
} else if (command === 'import') {
  let stderr = '';
  const code = await runCli(['models', 'import', second, '--id', 'fresh'], {
    stdout: () => {},
    stderr: (text) => void (stderr += text),
    interrupt: new AbortController().signal,
    env: { ...process.env, INKWELL_HOME: first },
  });
  print({ exit: code, stderr });
}
