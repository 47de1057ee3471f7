import { describe, expect, it } from 'vitest';
import { checkModelId } from '../../src/main/engine/models/store';
import { ApiError, methods, ModelId, parseRequest } from '../../src/shared/api';

describe('the contract', () => {
  // The API used to accept "con" and then the store refused it (issue 6 §1): one rule for both.
  it('has one model-id rule: the API schema and the model store accept exactly the same ids', () => {
    const ids = ['gpt2', 'gpt2-large', 'my_model.v2', 'A1', 'x'.repeat(64), '', '.hidden', '-dash', 'a/b', 'a\\b', '../escape', 'sp ace',
      'x'.repeat(65), 'con', 'CON', 'nul.txt', 'Aux', 'com1', 'LPT9.bin', 'console', 'null', 'ünï', 'a\u0000b'];
    for (const id of ids) {
      let storeAccepts = true;
      try {
        checkModelId(id);
      } catch {
        storeAccepts = false;
      }
      expect(ModelId.safeParse(id).success, JSON.stringify(id)).toBe(storeAccepts);
    }
    expect(ModelId.safeParse('con').success).toBe(false);
    expect(ModelId.safeParse('console').success).toBe(true);
  });

  it('declares a real request and response schema for every method', () => {
    for (const [method, { request, response }] of Object.entries(methods)) {
      expect(typeof request.safeParse, method).toBe('function');
      expect(typeof response.safeParse, method).toBe('function');
    }
  });

  // Fault 3.6: an unknown 5 M-character key was echoed back in a 5 MB error.
  it('never echoes a hostile request back in full in a validation error', () => {
    let thrown: unknown;
    try {
      parseRequest('history.get', { id: 1, ['k'.repeat(5_000_000)]: true });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    expect((thrown as ApiError).kind).toBe('invalid_request');
    expect((thrown as ApiError).message.length).toBeLessThanOrEqual(500);
    expect((thrown as ApiError).message).toMatch(/^history\.get: request: Unrecognized key: "kkkk/);
  });
});
