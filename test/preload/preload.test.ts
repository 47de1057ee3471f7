import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { contextBridge, ipcRenderer } from '../mocks/electron';
import { bridgeMethodNames, EVENT_CHANNEL } from '../../src/preload/bridge';
import type { InkwellBridge } from '../../src/preload/bridge';
import { methodNames } from '../../src/shared/api';
import type { ServerEvent } from '../../src/shared/api';

vi.mock('electron', () => import('../mocks/electron'));
// What electron.vite.config.ts's `define` writes into the bundle (the built bundle is checked in test/main/bundle.test.ts).
await vi.hoisted(async () => {
  const { methodNames: names } = await import('../../src/shared/api');
  (globalThis as { __INKWELL_API_METHODS__?: unknown }).__INKWELL_API_METHODS__ = names;
});

let bridge: InkwellBridge;
const event: ServerEvent = { channel: 'generation', event: { type: 'delta', generationId: 'g1', sequence: 0, text: ' world' } };

beforeAll(async () => {
  await import('../../src/preload/index');
  bridge = contextBridge.exposed.get('inkwell') as InkwellBridge;
});

describe('the preload', () => {
  it('exposes one object, window.inkwell, and nothing else', () => {
    expect(contextBridge.exposeInMainWorld).toHaveBeenCalledTimes(1);
    expect([...contextBridge.exposed.keys()]).toEqual(['inkwell']);
  });

  it('exposes exactly the API methods plus onEvent, all functions, frozen', () => {
    expect(Object.keys(bridge).sort()).toEqual([...methodNames, 'onEvent'].sort());
    for (const value of Object.values(bridge)) expect(typeof value).toBe('function');
    expect(Object.isFrozen(bridge)).toBe(true);
  });

  it('never hands out ipcRenderer or a generic invoke/send/on', () => {
    const values = Object.values(bridge) as unknown[];
    expect(values).not.toContain(ipcRenderer);
    expect(values).not.toContain(ipcRenderer.invoke);
    for (const key of ['ipcRenderer', 'invoke', 'send', 'sendSync', 'on', 'once', 'removeListener', 'require', 'process']) {
      expect(bridge).not.toHaveProperty(key);
    }
  });

  it('sends each method on its own fixed channel with the params only', async () => {
    ipcRenderer.invoke.mockClear();
    ipcRenderer.invoke.mockResolvedValueOnce({ ok: true, result: { id: 3 } });
    await expect(bridge['history.get']({ id: 3 })).resolves.toEqual({ ok: true, result: { id: 3 } });
    expect(ipcRenderer.invoke).toHaveBeenCalledWith('inkwell:history.get', { id: 3 });
    for (const method of methodNames) {
      ipcRenderer.invoke.mockClear();
      await (bridge[method] as (params: unknown) => Promise<unknown>)({});
      expect(ipcRenderer.invoke).toHaveBeenCalledExactlyOnceWith(`inkwell:${method}`, {});
    }
  });

  it('hands event listeners the payload only, and unsubscribes', () => {
    const listener = vi.fn();
    const unsubscribe = bridge.onEvent(listener);
    ipcRenderer.deliver(EVENT_CHANNEL, event);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(listener.mock.calls[0]).toEqual([event]);
    unsubscribe();
    ipcRenderer.deliver(EVENT_CHANNEL, event);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(ipcRenderer.listenerCount(EVENT_CHANNEL)).toBe(0);
  });

  it('keeps one ipcRenderer listener for many subscribers and isolates a throwing one', () => {
    const throwing = vi.fn(() => {
      throw new Error('listener bug');
    });
    const healthy = vi.fn();
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const unsubscribers = [bridge.onEvent(throwing), ...Array.from({ length: 20 }, () => bridge.onEvent(healthy))];
    expect(ipcRenderer.listenerCount(EVENT_CHANNEL)).toBe(1);
    ipcRenderer.deliver(EVENT_CHANNEL, event);
    expect(throwing).toHaveBeenCalledTimes(1);
    expect(healthy).toHaveBeenCalledTimes(20);
    expect(error).toHaveBeenCalledWith('inkwell: an event listener threw', expect.any(Error));
    for (const unsubscribe of unsubscribers) unsubscribe();
    unsubscribers[0]?.();
    expect(ipcRenderer.listenerCount(EVENT_CHANNEL)).toBe(0);
    error.mockRestore();
  });

  it('rejects a listener that is not a function', () => {
    expect(() => bridge.onEvent('x' as never)).toThrow(TypeError);
  });
});

describe('bridgeMethodNames', () => {
  it('is the contract method list, each once', () => {
    expect(new Set(bridgeMethodNames).size).toBe(bridgeMethodNames.length);
    expect([...bridgeMethodNames].sort()).toEqual([...methodNames].sort());
  });
});

describe('the preload bundle', () => {
  // The sandboxed preload is bundled into one file: a value import of the
  // contract would pull zod into it. Types are erased, so they are fine.
  it('imports only electron, its own folder and the zod-free src/shared/bridge.ts at run time', () => {
    const dir = join(import.meta.dirname, '../../src/preload');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      for (const match of source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)) {
        expect([`${file}: ${match[1]}`]).toEqual([expect.stringMatching(/: (electron|\.\/[\w-]+|\.\.\/shared\/bridge)$/)]);
      }
    }
    const shared = readFileSync(join(dir, '../shared/bridge.ts'), 'utf8');
    expect([...shared.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm)]).toEqual([]);
  });
});
