/**
 * The parent's side of a measuring process: fork it, send one command at a time,
 * await its reply.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command, Implementation, LoadSpec, PhaseMemory, Reply, RunSpec } from './protocol';

type ResultReply = Extract<Reply, { op: 'result' }>;

/** One worker process running one implementation. */
export class WorkerHandle {
  readonly implementation: Implementation;
  readonly #child: ChildProcess;
  #waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  #nextId = 1;
  #exited: Error | undefined;
  readonly #ready: Promise<Reply>;

  /** `nodeFlags` are added to the worker's Node/V8 flags (an experiment knob; default none). */
  constructor(implementation: Implementation, nodeFlags: readonly string[] = []) {
    this.implementation = implementation;
    // The bundle puts this module in out/bench/ or, when several entries share it, out/bench/chunks/.
    const here = dirname(fileURLToPath(import.meta.url));
    const entry = [join(here, 'worker.js'), join(here, '..', 'worker.js')].find((path) => existsSync(path)) ?? join(here, 'worker.js');
    this.#child = fork(entry, [implementation], { execArgv: ['--expose-gc', '--enable-source-maps', ...nodeFlags], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#ready = this.#next();
    // Awaited by every request; this only keeps an early crash from being an unhandled rejection.
    this.#ready.catch(() => undefined);
    this.#child.on('message', (reply: Reply) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (reply.op === 'error') waiting?.reject(new Error(`${implementation} worker: ${reply.message}`));
      else waiting?.resolve(reply);
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = new Error(`${implementation} worker exited (${signal ?? `code ${code}`})`);
      this.#waiting?.reject(this.#exited);
      this.#waiting = undefined;
    });
  }

  #next(): Promise<Reply> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  async #request(command: Command): Promise<Reply> {
    await this.#ready;
    const reply = this.#next();
    this.#child.send(command);
    return reply;
  }

  /** Loads the model; the load time and memory of that phase. */
  async load(spec: LoadSpec): Promise<{ loadMs: number; memory: PhaseMemory }> {
    const reply = await this.#request({ op: 'load', ...spec });
    if (reply.op !== 'loaded') throw new Error(`${this.implementation} worker answered ${reply.op} to load`);
    return reply;
  }

  /** Runs and times one generation. */
  async run(spec: RunSpec): Promise<ResultReply> {
    const id = this.#nextId++;
    const reply = await this.#request({ op: 'run', id, spec });
    if (reply.op !== 'result' || reply.id !== id) throw new Error(`${this.implementation} worker answered ${reply.op} to run ${id}`);
    return reply;
  }

  /** The worker's process id. */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Asks the worker to exit and waits for it (killing it after 10 s). */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    if (this.#child.connected) this.#child.send({ op: 'exit' } satisfies Command);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
