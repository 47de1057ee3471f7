import { describe, expect, it } from 'vitest';
import { nestsDeeperThan, parseJsonBody } from '../../../src/main/transports/http-body';

describe('parseJsonBody (fault 3.6, for every HTTP route that takes JSON)', () => {
  it('parses UTF-8 JSON', () => {
    expect(parseJsonBody(Buffer.from(JSON.stringify({ prompt: 'café ☕ 𝄞', n: [1, [2]] })))).toEqual({ ok: true, value: { prompt: 'café ☕ 𝄞', n: [1, [2]] } });
  });

  it('refuses bytes that are not UTF-8 instead of turning them into U+FFFD', () => {
    expect(parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]))).toEqual({ ok: false, problem: 'the request body is not valid UTF-8' });
  });

  it('refuses deep nesting before parsing it, and counts brackets inside strings as text', () => {
    expect(parseJsonBody(Buffer.from(`${'['.repeat(33)}${']'.repeat(33)}`))).toEqual({ ok: false, problem: 'the request body nests deeper than 32 levels' });
    expect(parseJsonBody(Buffer.from(`${'['.repeat(32)}${']'.repeat(32)}`)).ok).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ text: '[[[[{{{{\\"[[[[' }), 2)).toBe(false);
    expect(nestsDeeperThan('[[["\\\\"]]]', 2)).toBe(true);
  });

  it('says why a body is not JSON', () => {
    const result = parseJsonBody(Buffer.from('{"a":'));
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problem).toMatch(/^the request body is not valid JSON: /);
  });
});
