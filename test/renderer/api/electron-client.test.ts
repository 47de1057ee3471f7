import { describe, expect, it, vi } from 'vitest';
import { createElectronApi } from '../../../src/renderer/src/api/electron-client';
import type { InkwellBridge } from '../../../src/renderer/src/env';
import { ApiError, methodNames } from '../../../src/shared/api';
import type { ServerEvent } from '../../../src/shared/api';

function fakeBridge(reply: (method: string, params: unknown) => unknown) {
  const calls: [string, unknown][] = [];
  const listeners = new Set<(event: ServerEvent) => void>();
  const bridge: Record<string, unknown> = {};
  for (const method of methodNames) {
    bridge[method] = async (params: unknown) => {
      calls.push([method, params]);
      return reply(method, params);
    };
  }
  bridge.onEvent = (listener: (event: ServerEvent) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  return { bridge: bridge as InkwellBridge, calls, listeners };
}

describe('createElectronApi', () => {
  it('is null outside Electron', () => {
    expect(createElectronApi(undefined)).toBeNull();
    expect(createElectronApi()).toBeNull();
  });

  it('unwraps a successful envelope', async () => {
    const { bridge, calls } = fakeBridge(() => ({ ok: true, result: { removed: true } }));
    const api = createElectronApi(bridge);
    await expect(api?.call('models.remove', { id: 'gpt2' })).resolves.toEqual({ removed: true });
    expect(calls).toEqual([['models.remove', { id: 'gpt2' }]]);
  });

  it('rethrows an error envelope as ApiError with its kind', async () => {
    const { bridge } = fakeBridge(() => ({ ok: false, error: { kind: 'engine_crashed', message: 'the inference process stopped' } }));
    const error = await createElectronApi(bridge)?.call('models.list', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ kind: 'engine_crashed', message: 'the inference process stopped' });
  });

  it('maps transport failures and malformed replies to internal errors', async () => {
    const rejecting = fakeBridge(() => Promise.reject(new Error("No handler registered for 'inkwell:models.list'")));
    await expect(createElectronApi(rejecting.bridge)?.call('models.list', {})).rejects.toMatchObject({ kind: 'internal' });
    const garbage = fakeBridge(() => 'nonsense');
    await expect(createElectronApi(garbage.bridge)?.call('models.list', {})).rejects.toMatchObject({ kind: 'internal' });
  });

  it('sends plain JSON data (reactive proxies and undefined fields do not cross)', async () => {
    const { bridge, calls } = fakeBridge(() => ({ ok: true, result: null }));
    const target = { id: 4, title: 'Draft', content: undefined };
    const proxied = new Proxy(target, {});
    await createElectronApi(bridge)?.call('documents.save', proxied);
    const sent = calls[0]?.[1];
    expect(sent).toEqual({ id: 4, title: 'Draft' });
    expect(sent).not.toBe(proxied);
    expect(Object.getPrototypeOf(sent)).toBe(Object.prototype);
  });

  it('subscribes through onEvent and unsubscribes', () => {
    const { bridge, listeners } = fakeBridge(() => null);
    const api = createElectronApi(bridge);
    const listener = vi.fn();
    const unsubscribe = api?.subscribe(listener);
    expect(listeners.size).toBe(1);
    unsubscribe?.();
    expect(listeners.size).toBe(0);
  });
});
