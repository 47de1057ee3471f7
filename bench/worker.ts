/**
 * A measuring process: runs one implementation (argv[2]) and answers the bench's
 * commands over the IPC channel, one at a time, timing each and sampling its own RSS.
 */
import type { Command, Implementation, PhaseMemory, Reply } from './protocol';
import { createRunner } from './runners';

/** RSS sampling period; process.memoryUsage.rss() is one read of /proc/self/statm on Linux. */
const SAMPLE_MS = 5;
const MiB = 1024 * 1024;

/**
 * Highest RSS over a phase, sampled on a timer: the fallback where the parent cannot read
 * /proc. It misses peaks inside a session run, which blocks this thread (onnxruntime-node 1.30).
 */
class PhaseSampler {
  #peak = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
  }

  #sample(): void {
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
  }

  stop(): PhaseMemory {
    clearInterval(this.#timer);
    this.#sample();
    // resourceUsage().maxRSS is in KiB.
    return { peakRssMiB: this.#peak / MiB, maxRssMiB: process.resourceUsage().maxRSS / 1024 };
  }
}

function send(reply: Reply): void {
  process.send?.(reply);
}

const implementation = process.argv[2] as Implementation;
if (implementation !== 'inkwell' && implementation !== 'transformers.js') {
  throw new Error(`bench worker: unknown implementation ${JSON.stringify(process.argv[2])}`);
}
const runner = createRunner(implementation);
const gc = (globalThis as { gc?: () => void }).gc;

async function handle(command: Command): Promise<void> {
  if (command.op === 'exit') {
    process.disconnect();
    return;
  }
  gc?.();
  const sampler = new PhaseSampler();
  try {
    if (command.op === 'load') {
      const loadMs = await runner.load(command);
      send({ op: 'loaded', loadMs, memory: sampler.stop() });
      return;
    }
    const started = performance.now();
    const output = await runner.run(command.spec);
    const wallMs = performance.now() - started;
    send({ op: 'result', id: command.id, wallMs, ...output, memory: sampler.stop() });
  } catch (error) {
    sampler.stop();
    send({ op: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}

let queue = Promise.resolve();
process.on('message', (command: Command) => {
  queue = queue.then(() => handle(command));
});
send({ op: 'ready', rssMiB: process.memoryUsage.rss() / MiB });
