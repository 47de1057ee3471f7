import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../scripts/ensure-electron-native.mjs');
const realModules = resolve(import.meta.dirname, '../../node_modules');

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'inkwell-ensure-native-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Runs the script against `root`; never with network-touching steps (check mode or an up-to-date stamp). */
function run(...args: string[]) {
  const env = { ...process.env };
  delete env.INKWELL_SKIP_ELECTRON_NATIVE;
  const result = spawnSync(process.execPath, [script, '--root', root, ...args], { encoding: 'utf8', env, timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function fakePackages(electron: string, sqlite: string): void {
  for (const [name, version] of [['electron', electron], ['better-sqlite3', sqlite]] as const) {
    mkdirSync(join(root, 'node_modules', name), { recursive: true });
    writeFileSync(join(root, 'node_modules', name, 'package.json'), JSON.stringify({ name, version }));
  }
}

function fakeBuild(stamp: Record<string, string>): void {
  mkdirSync(join(root, '.electron-native'), { recursive: true });
  writeFileSync(join(root, '.electron-native', 'better_sqlite3.node'), '');
  writeFileSync(join(root, '.electron-native', 'stamp.json'), JSON.stringify(stamp));
}

describe('ensure-electron-native', () => {
  it('skips the build when the stamp matches the installed versions', () => {
    fakePackages('45.5.0', '12.11.1');
    fakeBuild({ electron: '45.5.0', betterSqlite3: '12.11.1', platform: process.platform, arch: process.arch });
    const { status, output } = run('--skip-electron-binary');
    expect(output).toContain('up to date');
    expect(status).toBe(0);
  });

  it('reports an addon built for another Electron as outdated in check mode, and fails', () => {
    fakePackages('45.5.0', '12.11.1');
    fakeBuild({ electron: '44.0.0', betterSqlite3: '12.11.1', platform: process.platform, arch: process.arch });
    const { status, output } = run('--check', '--skip-electron-binary');
    expect(output).toContain('OUTDATED');
    expect(status).toBe(1);
  });

  it('reports a missing Electron binary and addon in check mode', () => {
    fakePackages('45.5.0', '12.11.1');
    const { status, output } = run('--check');
    expect(output).toMatch(/Electron 45\.5\.0 binary: MISSING/);
    expect(output).toMatch(/better-sqlite3 for Electron 45\.5\.0: MISSING/);
    expect(status).toBe(1);
  });

  it('says what to do when packages are not installed', () => {
    const { status, output } = run('--check');
    expect(output).toMatch(/the electron package .* is missing or unreadable.*npm install/);
    expect(status).toBe(1);
  });

  it('refuses unknown arguments with the usage line', () => {
    symlinkSync(realModules, join(root, 'node_modules'));
    const { status, output } = run('--frobnicate');
    expect(output).toContain('unknown argument "--frobnicate"');
    expect(output).toContain('usage:');
    expect(status).toBe(1);
  });
});
