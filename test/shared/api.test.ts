import { describe, expect, it } from 'vitest';
import { checkModelId } from '../../src/main/engine/models/store';
import { methods, ModelId } from '../../src/shared/api';

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
});
