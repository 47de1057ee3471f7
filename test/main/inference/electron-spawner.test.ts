import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeUtilityProcess, resetElectronMock, utilityProcess } from '../../mocks/electron';
import { InferenceClient } from '../../../src/main/inference/client';
import type { ChildExit } from '../../../src/main/inference/client';
import { createElectronSpawner } from '../../../src/main/inference/electron-spawner';

vi.mock('electron', () => import('../../mocks/electron'));

let dir: string;
let entry: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'inkwell-spawner-'));
  entry = join(dir, 'inference-process.js');
  writeFileSync(entry, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => resetElectronMock());
afterEach(() => vi.useRealTimers());

function spawnFake(options: { killGraceMs?: number } = {}) {
  const child = new FakeUtilityProcess();
  utilityProcess.fork.mockReturnValueOnce(child);
  const handle = createElectronSpawner({ entry, home: '/data/inkwell', env: { PATH: '/bin' }, ...options })();
  return { child, handle };
}

describe('createElectronSpawner', () => {
  it('forks the entry as a named utility process with INKWELL_HOME set and collections exposed', () => {
    spawnFake();
    expect(utilityProcess.fork).toHaveBeenCalledWith(entry, ['--home', '/data/inkwell'], {
      serviceName: 'Inkwell inference',
      execArgv: ['--expose-gc'],
      env: { PATH: '/bin', INKWELL_HOME: '/data/inkwell' },
      stdio: 'inherit',
    });
  });

  it('throws before forking when the entry has not been built', () => {
    expect(() => createElectronSpawner({ entry: join(dir, 'missing.js'), home: '/h' })()).toThrow(/missing\.js does not exist/);
    expect(utilityProcess.fork).not.toHaveBeenCalled();
  });

  it('passes messages both ways', () => {
    const { child, handle } = spawnFake();
    const received = vi.fn();
    handle.onMessage(received);
    handle.postMessage({ seq: 1, request: { op: 'status', args: {} } });
    expect(child.postMessage).toHaveBeenCalledWith({ seq: 1, request: { op: 'status', args: {} } });
    child.emit('message', { hello: { protocol: 1 } });
    expect(received).toHaveBeenCalledWith({ hello: { protocol: 1 } });
  });

  it('reports the exit code once and refuses messages afterwards', () => {
    const { child, handle } = spawnFake();
    const exits: ChildExit[] = [];
    handle.onExit((exit) => exits.push(exit));
    child.emit('exit', 134);
    child.emit('exit', 134);
    expect(exits).toEqual([{ code: 134, signal: null }]);
    expect(() => handle.postMessage({})).toThrow(/exited/);
    expect(child.postMessage).not.toHaveBeenCalled();
  });

  it('kills gracefully, then with SIGKILL if the process is still there', () => {
    vi.useFakeTimers();
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    try {
      const { child, handle } = spawnFake({ killGraceMs: 1000 });
      handle.kill();
      expect(child.kill).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(999);
      expect(kill).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(kill).toHaveBeenCalledWith(4242, 'SIGKILL');
    } finally {
      kill.mockRestore();
    }
  });

  it('kills a hung process with SIGKILL at once when asked to (a stopped process ignores SIGTERM)', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    try {
      const { child, handle } = spawnFake({ killGraceMs: 1000 });
      handle.kill(true);
      expect(kill).toHaveBeenCalledWith(4242, 'SIGKILL');
      expect(child.kill).not.toHaveBeenCalled();
    } finally {
      kill.mockRestore();
    }
  });

  it('does not SIGKILL a process that exited in time', () => {
    vi.useFakeTimers();
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    try {
      const { child, handle } = spawnFake({ killGraceMs: 1000 });
      handle.kill();
      child.emit('exit', 0);
      vi.advanceTimersByTime(5000);
      expect(kill).not.toHaveBeenCalled();
    } finally {
      kill.mockRestore();
    }
  });

  it('drives the InferenceClient: a crash rejects in-flight work as engine_crashed and the next call forks again', async () => {
    const first = new FakeUtilityProcess();
    const second = new FakeUtilityProcess();
    utilityProcess.fork.mockReturnValueOnce(first).mockReturnValueOnce(second);
    const client = new InferenceClient({ spawn: createElectronSpawner({ entry, home: '/h' }) });
    const inFlight = client.status();
    expect(first.postMessage).toHaveBeenCalledTimes(1);
    first.emit('exit', 137);
    await expect(inFlight).rejects.toMatchObject({ kind: 'engine_crashed' });
    expect(client.state.state).toBe('crashed');
    const next = client.status();
    expect(utilityProcess.fork).toHaveBeenCalledTimes(2);
    const request = second.postMessage.mock.calls[0]?.[0] as { seq: number };
    second.emit('message', { seq: request.seq, result: { pid: 99, loaded: [] } });
    await expect(next).resolves.toMatchObject({ pid: 99 });
    const closing = client.close();
    second.emit('exit', 0);
    await closing;
  });
});
