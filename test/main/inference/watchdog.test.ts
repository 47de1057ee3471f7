import { describe, expect, it } from 'vitest';
import { Watchdog } from '../../../src/main/inference/watchdog';

function watch(options: { hangMs?: number; stallMs?: number } = {}) {
  let now = 0;
  const hangs: string[] = [];
  const dog = new Watchdog({ hangMs: options.hangMs ?? 1000, stallMs: options.stallMs ?? 5000, checkEveryMs: 60_000, onHang: (reason) => hangs.push(reason), now: () => now });
  return { dog, hangs, advance: (ms: number) => { now += ms; dog.check(); } };
}

describe('Watchdog', () => {
  it('lets a process live while it beats, and calls it hung after a silence past the limit, once', () => {
    const { dog, hangs, advance } = watch();
    for (let i = 0; i < 20; i += 1) {
      advance(900);
      dog.heard();
    }
    expect(hangs).toEqual([]);
    advance(1001);
    advance(5000);
    expect(hangs).toEqual(['it sent nothing, not even its heartbeat, for 1 s']);
  });

  it('calls a beating process hung when a generation streams nothing past the stall limit', () => {
    const { dog, hangs, advance } = watch();
    dog.progressed(7);
    for (let i = 0; i < 5; i += 1) {
      advance(900);
      dog.heard();
    }
    expect(hangs).toEqual([]);
    dog.progressed(7);
    for (let i = 0; i < 6; i += 1) {
      advance(900);
      dog.heard();
    }
    expect(hangs).toEqual(['a generation made no progress for 5 s']);
  });

  it('forgets generations that ended', () => {
    const { dog, hangs, advance } = watch();
    dog.progressed(1);
    dog.forget(1);
    for (let i = 0; i < 10; i += 1) {
      advance(900);
      dog.heard();
    }
    expect(hangs).toEqual([]);
    dog.stop();
  });
});
