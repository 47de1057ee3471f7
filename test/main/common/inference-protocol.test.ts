import { describe, expect, it } from 'vitest';
import { parseReplyMessage, parseRequestMessage, parseResult } from '../../../src/main/common/inference-protocol';
import { GenerationParams } from '../../../src/shared/api';

const params = GenerationParams.parse({});

describe('parseRequestMessage', () => {
  it('accepts every operation with well-formed arguments', () => {
    const good = [
      { op: 'generate', args: { modelId: 'tiny', prompt: 'Once', memory: '', params } },
      { op: 'cancel', args: { target: 3 } },
      { op: 'tokenize', args: { modelId: 'tiny', text: 'hi' } },
      { op: 'logits', args: { modelId: 'tiny', prompt: 'hi', all: false } },
      { op: 'importModel', args: { srcDir: '/x', id: 'tiny' } },
      { op: 'unload', args: { modelId: 'tiny' } },
      { op: 'status', args: {} },
      { op: 'probe', args: {} },
    ];
    for (const [index, request] of good.entries()) {
      const parsed = parseRequestMessage({ seq: index + 1, request });
      expect(parsed, request.op).toMatchObject({ ok: true, seq: index + 1, op: request.op });
    }
  });

  it('refuses malformed envelopes without a usable seq', () => {
    for (const message of [null, 42, 'x', [], {}, { seq: 0, request: { op: 'status', args: {} } }, { seq: 1.5, request: { op: 'status', args: {} } }]) {
      const parsed = parseRequestMessage(message);
      expect(parsed.ok).toBe(false);
    }
    expect(parseRequestMessage({ seq: 'one', request: { op: 'status', args: {} } })).toMatchObject({ ok: false, seq: undefined });
  });

  it('names the seq and the problem for unknown operations, wrong types and extra keys', () => {
    expect(parseRequestMessage({ seq: 7, request: { op: 'format-disk', args: {} } })).toMatchObject({ ok: false, seq: 7, problem: expect.stringContaining('format-disk') });
    expect(parseRequestMessage({ seq: 8, request: { op: 'tokenize', args: { modelId: 'tiny', text: 5 } } })).toMatchObject({ ok: false, seq: 8, problem: expect.stringContaining('text') });
    expect(parseRequestMessage({ seq: 9, request: { op: 'status', args: { extra: true } } })).toMatchObject({ ok: false, seq: 9 });
    expect(parseRequestMessage({ seq: 10, request: { op: 'unload', args: { modelId: '../etc' } } })).toMatchObject({ ok: false, seq: 10 });
    expect(parseRequestMessage({ seq: 11, request: { op: 'status', args: {} }, more: 1 })).toMatchObject({ ok: false, seq: 11 });
  });
});

describe('parseReplyMessage', () => {
  it('accepts hello, result, error and generation events', () => {
    for (const message of [
      { hello: { pid: 12, protocol: 1 } },
      { seq: 1, result: { anything: true } },
      { seq: 2, error: { kind: 'not_found', message: 'no model' } },
      { seq: 3, event: { type: 'started', device: 'cpu', precision: 'fp32', seed: 1, promptTokens: 2, truncatedPromptTokens: 0, numSequences: 3 } },
      { seq: 3, event: { type: 'delta', sequence: 0, text: ' hi' } },
    ]) {
      expect(parseReplyMessage(message).ok, JSON.stringify(message)).toBe(true);
    }
  });

  it('refuses unknown error kinds, unknown event types and stray keys', () => {
    for (const message of [
      undefined,
      { seq: 1 },
      { seq: 2, error: { kind: 'oops', message: 'x' } },
      { seq: 3, event: { type: 'progress', value: 1 } },
      { seq: 4, event: { type: 'delta', sequence: -1, text: 'x' } },
      { seq: 5, result: 1, error: { kind: 'internal', message: 'both' } },
    ]) {
      expect(parseReplyMessage(message).ok, JSON.stringify(message)).toBe(false);
    }
  });
});

describe('parseResult', () => {
  it('checks a result against its operation', () => {
    expect(parseResult('tokenize', { ids: [1, 2], tokens: ['a', 'b'] }).ok).toBe(true);
    expect(parseResult('tokenize', { ids: ['1'], tokens: [] }).ok).toBe(false);
    expect(parseResult('logits', { tokenIds: [1], logitsLast: new Float32Array([1, -Infinity]) }).ok).toBe(true);
    expect(parseResult('logits', { tokenIds: [1], logitsLast: [1, 2] }).ok).toBe(false);
  });
});
