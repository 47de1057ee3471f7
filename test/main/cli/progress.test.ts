/** The CLI's progress output: a bar redrawn in place on a terminal, one plain line per tenth elsewhere. */
import { describe, expect, it } from 'vitest';
import { createProgressReporter, formatDuration } from '../../../src/main/cli/progress';

function io(tty: boolean) {
  let stderr = '';
  return {
    sink: { stdout: () => undefined, stderr: (t: string) => void (stderr += t), interrupt: new AbortController().signal, env: {}, stderrIsTTY: tty, columns: 120 },
    text: () => stderr,
  };
}

describe('progress', () => {
  it('writes plain lines at each tenth and each new step when stderr is not a terminal', () => {
    const out = io(false);
    const progress = createProgressReporter(out.sink);
    for (let done = 0; done <= 100; done += 5) progress.update({ label: 'downloading a', done: done * 1024 * 1024, total: 100 * 1024 * 1024, unit: 'bytes', bytesPerSecond: 2 * 1024 * 1024, secondsLeft: 90 });
    progress.update({ label: 'building', done: 1, total: 1, unit: 'steps' });
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[5]).toBe('downloading a: 50% (50.0 MiB of 100.0 MiB, 2.0 MiB/s, 1m30s left)');
    expect(lines[10]).toBe('downloading a: 100% (100.0 MiB of 100.0 MiB, 2.0 MiB/s)');
    expect(lines[11]).toBe('building: 100%');
  });

  it('redraws one bar on a terminal and ends its line on finish', () => {
    let now = 0;
    const out = io(true);
    const progress = createProgressReporter(out.sink, () => now);
    progress.update({ label: 'x', done: 25, total: 100, unit: 'steps' });
    now = 50;
    progress.update({ label: 'x', done: 30, total: 100, unit: 'steps' });
    now = 200;
    progress.update({ label: 'x', done: 100, total: 100, unit: 'steps' });
    progress.finish();
    expect(out.text()).toBe(`\r\x1b[K[######..................]  25%  x\r\x1b[K[########################] 100%  x\n`);
  });

  it('formats durations', () => {
    expect([5, 65, 3600 + 300].map(formatDuration)).toEqual(['5s', '1m05s', '1h05m']);
  });
});
