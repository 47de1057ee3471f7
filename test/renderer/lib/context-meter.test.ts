import { describe, expect, it } from 'vitest';
import { measureWindow, previewCutText } from '../../../src/renderer/src/lib/context-meter';

const tokens = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i} `);

describe('measureWindow', () => {
  it('keeps everything when memory + prompt + reply fit', () => {
    const usage = measureWindow({ windowSize: 1024, memoryTokens: 40, promptTokens: tokens(300), maxNewTokens: 48 });
    expect(usage).toMatchObject({ keptPromptTokens: 300, cutTokens: 0, reservedTokens: 48, usedTokens: 340, freeTokens: 1024 - 340 - 48, cutText: '' });
    expect(usage.memoryCrowdsOut).toBe(false);
  });

  it('cuts the prompt from the left and reports the cut text', () => {
    // 1024 - 100 (reply) - 24 (memory) = 900 prompt tokens fit; 1112 - 900 = 212 are cut.
    const usage = measureWindow({ windowSize: 1024, memoryTokens: 24, promptTokens: tokens(1112), maxNewTokens: 100 });
    expect(usage.cutTokens).toBe(212);
    expect(usage.keptPromptTokens).toBe(900);
    expect(usage.usedTokens).toBe(924);
    expect(usage.freeTokens).toBe(0);
    expect(usage.cutText).toBe(tokens(212).join(''));
  });

  it('caps the reply reservation at half the window, as the engine does', () => {
    const usage = measureWindow({ windowSize: 1024, memoryTokens: 0, promptTokens: tokens(1000), maxNewTokens: 1024 });
    expect(usage.reservedTokens).toBe(512);
    expect(usage.keptPromptTokens).toBe(512);
    expect(usage.cutTokens).toBe(488);
  });

  it('says when memory leaves no room for the prompt, and when it fills the window', () => {
    const crowded = measureWindow({ windowSize: 64, memoryTokens: 40, promptTokens: tokens(10), maxNewTokens: 30 });
    expect(crowded.keptPromptTokens).toBe(0);
    expect(crowded.memoryCrowdsOut).toBe(true);
    expect(crowded.memoryFillsWindow).toBe(false);
    const full = measureWindow({ windowSize: 64, memoryTokens: 64, promptTokens: [], maxNewTokens: 1 });
    expect(full.memoryFillsWindow).toBe(true);
  });

  it('reserves at least one token', () => {
    expect(measureWindow({ windowSize: 64, memoryTokens: 0, promptTokens: tokens(100), maxNewTokens: 0 }).reservedTokens).toBe(1);
  });
});

describe('previewCutText', () => {
  it('keeps the end of long cut text, where it meets the kept text', () => {
    const preview = previewCutText(`${'a'.repeat(300)} the end`, 20);
    expect(preview).toHaveLength(20);
    expect(preview.startsWith('…')).toBe(true);
    expect(preview.endsWith('the end')).toBe(true);
  });

  it('flattens whitespace', () => {
    expect(previewCutText('one\n\n  two')).toBe('one two');
  });
});
