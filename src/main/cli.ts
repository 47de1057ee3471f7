/**
 * Entry of the `inkwell` CLI (bundled to out/main/cli.js; bin/inkwell.js
 * imports it). Plain Node: never imports electron.
 */
import { runCli } from './cli/run';

const interrupt = new AbortController();
const onSignal = (): void => {
  // A second Ctrl-C means "now": do not wait for the current decoder step.
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// stdout closed early (`inkwell generate … | head`) is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

void runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  interrupt: interrupt.signal,
  env: process.env,
  stderrIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns,
}).then((code) => {
  process.exitCode = code;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
});
