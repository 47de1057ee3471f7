// A parent that dies: forks the built inference process (argv[2], home argv[3]), starts a long
// generation of model argv[4], prints `streaming <child pid>` at the first delta and then waits to be
// killed. Plain JavaScript so that it starts without a TypeScript loader.
import { fork } from 'node:child_process';

const [entry, home, modelId] = process.argv.slice(2);
const child = fork(entry, ['--home', home], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
let said = false;
child.on('message', (message) => {
  if (!said && message?.event?.type === 'delta') {
    said = true;
    process.stdout.write(`streaming ${child.pid}\n`);
  }
});
const params = { maxNewTokens: 200, numReturnSequences: 4, doSample: true, temperature: 0.9, topK: 50, topP: 0.95, repetitionPenalty: 1.1, noRepeatNgramSize: 0, stop: [], device: 'auto' };
child.send({ seq: 1, request: { op: 'generate', args: { modelId, prompt: 'The lighthouse keeper', memory: '', params } } });
setInterval(() => {}, 1_000);
