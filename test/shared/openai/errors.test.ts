/**
 * OpenAI error objects: the body shape and the status, type and code of each
 * kind of error the /v1 routes answer with (OpenAI API reference, "Error codes").
 */
import { describe, expect, it } from 'vitest';
import { OpenAiError, OpenAiErrorBody } from '../../../src/shared/openai/errors';

describe('OpenAiError', () => {
  it.each([
    [OpenAiError.invalidRequest('bad', 'temperature'), 400, 'invalid_request_error', null, 'temperature'],
    [OpenAiError.invalidApiKey(), 401, 'invalid_request_error', 'invalid_api_key', null],
    [OpenAiError.modelNotFound('gpt-4'), 404, 'invalid_request_error', 'model_not_found', 'model'],
    [OpenAiError.unknownRoute('GET', '/v1/x'), 404, 'invalid_request_error', 'unknown_url', null],
    [OpenAiError.methodNotAllowed('GET', '/v1/completions', 'POST'), 405, 'invalid_request_error', 'method_not_allowed', null],
    [OpenAiError.bodyTooLarge(10), 413, 'invalid_request_error', 'request_too_large', null],
    [OpenAiError.queueFull('busy', 3), 429, 'rate_limit_error', 'queue_full', null],
    [OpenAiError.engineFailed('boom'), 500, 'server_error', 'engine_error', null],
    [OpenAiError.unavailable('gone'), 503, 'server_error', 'engine_unavailable', null],
  ])('%#: status %i, type %s, code %s, param %s', (error, status, type, code, param) => {
    expect(error.status).toBe(status);
    const body = error.toBody();
    expect(OpenAiErrorBody.parse(body)).toEqual({ error: { message: error.message, type, code, param } });
  });

  it('carries Retry-After for a full queue', () => {
    expect(OpenAiError.queueFull('busy', 7).retryAfterSeconds).toBe(7);
    expect(OpenAiError.modelNotFound('x').message).toBe('The model `x` does not exist. GET /v1/models lists the models this server has.');
  });
});
