import { describe, expect, it } from 'vitest';
import { fileNameForTitle, titleFromFileName } from '../../../src/renderer/src/lib/files';
import { formatBytes, formatCount, formatMs, formatRate } from '../../../src/renderer/src/lib/format';
import { formatStopStrings, parseStopStrings } from '../../../src/renderer/src/lib/stop-strings';
import { visibleToken } from '../../../src/renderer/src/lib/token-display';
import { suggestId } from '../../../src/renderer/src/state/models.svelte';

describe('stop strings field', () => {
  it('round-trips line breaks, tabs, pipes and backslashes', () => {
    const stops = ['\n\n', 'THE END', 'a|b', 'back\\slash', '\t'];
    expect(parseStopStrings(formatStopStrings(stops))).toEqual(stops);
  });

  it('drops empty entries and surrounding spaces', () => {
    expect(parseStopStrings(' \\n |  | END ')).toEqual(['\n', 'END']);
  });
});

describe('formatters', () => {
  it('formats counts, bytes, durations and rates', () => {
    expect(formatCount(124_439_808)).toBe('124M');
    expect(formatCount(774_030_080)).toBe('774M');
    expect(formatCount(1_557_611_200)).toBe('1.6B');
    expect(formatBytes(548_105_171)).toBe('522.7 MiB');
    expect(formatMs(840)).toBe('840 ms');
    expect(formatMs(2400)).toBe('2.4 s');
    expect(formatRate(38.24)).toBe('38.2 tok/s');
    expect(formatRate(0)).toBe('—');
  });

  it('shows invisible characters of tokens', () => {
    expect(visibleToken(' world\n')).toBe('·world↵');
    expect(visibleToken('')).toBe('∅');
  });
});

describe('file names', () => {
  it('turns file names into titles and titles into safe file names', () => {
    expect(titleFromFileName('Chapter 1.md')).toBe('Chapter 1');
    expect(titleFromFileName('.txt')).toBe('Untitled');
    expect(fileNameForTitle('Chapter 1: Fog?', 'md')).toBe('Chapter 1 Fog.md');
    expect(fileNameForTitle('///', 'txt')).toBe('Untitled.txt');
  });
});

describe('models helpers', () => {
  it('suggests a valid model id from a folder path', () => {
    expect(suggestId('/home/me/models/gpt2-large/')).toBe('gpt2-large');
    expect(suggestId('C:\\models\\My Model (v2)')).toBe('My-Model-v2');
  });
});
