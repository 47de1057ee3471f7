/**
 * How much CPU other programs took while a run was being timed: all CPU time the
 * kernel accounted (/proc/stat) minus that of the bench's own processes
 * (/proc/<pid>/stat, all threads). On a shared machine a run that others disturbed
 * is repeated, and every run records the figure. Linux only; elsewhere it reads NaN.
 */
import { existsSync, readFileSync } from 'node:fs';

const PROC_STAT = '/proc/stat';

/** Busy jiffies of all CPUs together (everything but idle and iowait). */
function busyTicks(): number {
  const line = readFileSync(PROC_STAT, 'utf8').split('\n', 1)[0] ?? '';
  const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** User + system jiffies of one process (all its threads); 0 once it is gone. */
function processTicks(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Jiffies per second of /proc accounting (USER_HZ, 100 on every mainstream Linux build). */
const TICKS_PER_SECOND = 100;

const MIN_SECONDS = 0.1;

/** Measures the CPU used by processes other than `ownPids` between start() and stop(). */
export class InterferenceMeter {
  readonly #ownPids: readonly number[];
  readonly #available = existsSync(PROC_STAT);
  #startBusy = 0;
  #startOwn = 0;
  #startTime = 0;

  constructor(ownPids: readonly number[]) {
    this.#ownPids = ownPids;
  }

  #own(): number {
    return this.#ownPids.reduce((sum, pid) => sum + processTicks(pid), 0);
  }

  start(): void {
    if (!this.#available) return;
    this.#startTime = performance.now();
    this.#startBusy = busyTicks();
    this.#startOwn = this.#own();
  }

  /** Average number of CPUs other programs kept busy since start() (NaN where /proc is missing or the run was too short). */
  stop(): number {
    if (!this.#available) return Number.NaN;
    const seconds = (performance.now() - this.#startTime) / 1000;
    // Below ~10 jiffies one tick of someone else's time would read as a large fraction of a CPU.
    if (seconds < MIN_SECONDS) return Number.NaN;
    const others = busyTicks() - this.#startBusy - (this.#own() - this.#startOwn);
    return Math.max(0, others / TICKS_PER_SECOND / Math.max(seconds, 1e-3));
  }
}
