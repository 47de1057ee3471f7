import { describe, expect, it } from 'vitest';
import { APP_ENTRY_URL, APP_ORIGIN, createOriginPolicy, originOf } from '../../../src/main/app/origins';

describe('originOf', () => {
  it('keeps scheme, host and port, and tells app hosts apart', () => {
    expect(originOf('app://inkwell/index.html')).toBe('app://inkwell');
    expect(originOf('app://evil/index.html')).toBe('app://evil');
    expect(originOf('http://localhost:5173/x?y')).toBe('http://localhost:5173');
    expect(originOf('https://example.com:443/')).toBe('https://example.com');
  });

  it('is null for URLs without a host', () => {
    for (const url of ['about:blank', 'data:text/html,hi', 'file:///etc/passwd', 'javascript:alert(1)', '', 'garbage']) {
      expect(originOf(url)).toBeNull();
    }
  });
});

describe('createOriginPolicy', () => {
  it('trusts only app://inkwell in a packaged app, even with a dev URL set', () => {
    const policy = createOriginPolicy({ isPackaged: true, devServerUrl: 'http://localhost:5173' });
    expect(policy.origins).toEqual([APP_ORIGIN]);
    expect(policy.entryUrl).toBe(APP_ENTRY_URL);
    expect(policy.isTrusted('app://inkwell/index.html')).toBe(true);
    expect(policy.isTrusted('http://localhost:5173/')).toBe(false);
  });

  it('adds the dev server in development and loads it first', () => {
    const policy = createOriginPolicy({ isPackaged: false, devServerUrl: 'http://localhost:5173' });
    expect(policy.origins).toEqual([APP_ORIGIN, 'http://localhost:5173']);
    expect(policy.entryUrl).toBe('http://localhost:5173');
    expect(policy.isTrusted('http://localhost:5173/src/main.ts')).toBe(true);
    expect(policy.isTrusted('http://127.0.0.1:5173/')).toBe(false);
  });

  it('ignores an unparseable dev URL', () => {
    const policy = createOriginPolicy({ isPackaged: false, devServerUrl: 'not a url' });
    expect(policy.origins).toEqual([APP_ORIGIN]);
    expect(policy.entryUrl).toBe(APP_ENTRY_URL);
  });
});
