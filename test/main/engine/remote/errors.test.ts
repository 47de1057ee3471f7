/**
 * Reading the message out of whatever error body a server sends, and keeping
 * API keys out of messages.
 */
import { describe, expect, it } from 'vitest';
import { messageOfErrorBody, redactKey } from '../../../../src/main/engine/remote/errors';
import { readRecording } from '../../../helpers/remote-standin';

describe('messageOfErrorBody', () => {
  it.each([
    ['OpenAI / llama.cpp', readRecording('llama.cpp', 'error-401.json'), 'Invalid API Key'],
    ['older vLLM ErrorResponse', readRecording('vllm', 'error-404-model.json'), 'The model `gpt3` does not exist.'],
    ["vLLM's API-key middleware", readRecording('vllm', 'error-401.json'), 'Unauthorized'],
    ['TGI', '{"error":"Input validation error: `top_p` must be > 0.0 and < 1.0","error_type":"validation"}', 'Input validation error: `top_p` must be > 0.0 and < 1.0 (validation)'],
    ['FastAPI detail', '{"detail":"Not Found"}', 'Not Found'],
    ['FastAPI validation', '{"detail":[{"loc":["body","prompt"],"msg":"field required","type":"value_error.missing"}]}', 'body.prompt: field required'],
    ['an HTML page', '<html><head><title>504 Gateway Time-out</title></head><body>…</body></html>', 'an HTML page: "504 Gateway Time-out"'],
    ['plain text', 'upstream connect error\n or disconnect', 'upstream connect error or disconnect'],
    ['nothing', '  ', ''],
  ])('reads %s', (_name, body, message) => {
    expect(messageOfErrorBody(body)).toBe(message);
  });

  it('quotes at most 300 characters', () => {
    expect(messageOfErrorBody('x'.repeat(1000))).toBe(`${'x'.repeat(300)}…`);
  });
});

describe('redactKey', () => {
  it('replaces every occurrence of the key and leaves text without it alone', () => {
    expect(redactKey('bad key sk-abc123 (sk-abc123)', 'sk-abc123')).toBe('bad key [redacted] ([redacted])');
    expect(redactKey('nothing here', 'sk-abc123')).toBe('nothing here');
    expect(redactKey('a b c', undefined)).toBe('a b c');
  });
});
