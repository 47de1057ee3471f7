import { describe, expect, it } from 'vitest';
import { StopStringFilter } from '../../../../src/main/engine/generate/stop-strings';

/** Feeds pieces; returns the emitted deltas, the final text and whether it stopped. */
function run(stops: string[], pieces: string[]): { deltas: string[]; text: string; stopped: boolean } {
  const filter = new StopStringFilter(stops);
  const deltas: string[] = [];
  let stopped = false;
  for (const piece of pieces) {
    const update = filter.push(piece);
    if (update.emit) deltas.push(update.emit);
    if (update.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    const rest = filter.end();
    if (rest) deltas.push(rest);
  }
  return { deltas, text: filter.text, stopped };
}

describe('StopStringFilter', () => {
  it('cuts the text before a stop string split across pieces and never emits part of it', () => {
    const r = run(['END'], ['Hello ', 'E', 'N', 'D', ' more']);
    expect(r.stopped).toBe(true);
    expect(r.text).toBe('Hello ');
    expect(r.deltas.join('')).toBe('Hello ');
    for (const d of r.deltas) expect(d).not.toMatch(/[END]/);
  });

  it('releases held-back text once it cannot start a stop string', () => {
    const r = run(['END'], ['Hello E', 'N', 'x', ' bye']);
    expect(r.stopped).toBe(false);
    expect(r.deltas).toEqual(['Hello ', 'ENx', ' bye']);
    expect(r.text).toBe('Hello ENx bye');
  });

  it('releases held-back text at the end of the sequence', () => {
    const r = run(['\n\n'], ['a', '\n']);
    expect(r.deltas).toEqual(['a', '\n']);
    expect(r.text).toBe('a\n');
  });

  it('stops at the earliest of several stop strings, inside one piece', () => {
    const r = run(['world', 'lo w'], ['hello world']);
    expect(r.text).toBe('hel');
    expect(r.deltas.join('')).toBe('hel');
  });

  it('handles overlapping prefixes (stop "aab" in "aaab")', () => {
    const r = run(['aab'], ['a', 'a', 'a', 'b']);
    expect(r.text).toBe('a');
    expect(r.deltas.join('')).toBe('a');
  });

  it('matches the final text of a reference cut on random pieces, deltas never showing a stop prefix', () => {
    let s = 17;
    const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 0x1_0000_0000);
    const alphabet = ['a', 'b', 'c', '\n', '😀'];
    const stops = ['ab\n', 'cc', '😀a'];
    for (let trial = 0; trial < 300; trial++) {
      const pieces = Array.from({ length: 12 }, () =>
        Array.from({ length: Math.floor(rand() * 3) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''));
      const full = pieces.join('');
      const hits = stops.map((stop) => full.indexOf(stop)).filter((i) => i >= 0);
      const expected = hits.length > 0 ? full.slice(0, Math.min(...hits)) : full;
      const r = run(stops, pieces);
      expect(r.text).toBe(expected);
      expect(r.deltas.join('')).toBe(expected);
      expect(r.stopped).toBe(hits.length > 0);
    }
  });

  it('passes everything through without stop strings', () => {
    expect(run([], ['a', 'b']).deltas).toEqual(['a', 'b']);
  });
});
