/**
 * The handle the InferenceClient drives, whatever made the process: Node's
 * child_process.fork (serve mode, tests) or Electron's utilityProcess (the app).
 */

/** How a child process ended. */
export interface ChildExit {
  code: number | null;
  signal: string | null;
}

/** The minimal process handle the client drives (Node ChildProcess, Electron UtilityProcess). */
export interface ChildLike {
  /** Throws when the channel is already closed. */
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once, when the process has ended (or could not be started). */
  onExit(listener: (exit: ChildExit) => void): void;
  /** Asks the process to end (SIGTERM, then SIGKILL after a grace period); `now`: SIGKILL at once (a hung or stopped process). */
  kill(now?: boolean): void;
}

/** Starts one inference process. */
export type Spawner = () => ChildLike;
