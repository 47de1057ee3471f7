/**
 * bin/inkwell.js, run as a real process in a scratch project whose
 * "electron-vite" is a stub that writes out/main/cli.js and counts builds:
 * builds when the output is missing or older than src/, not otherwise, keeps
 * build output off stdout, and exits 1 when the build fails.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LAUNCHER = resolve(__dirname, '../../../bin/inkwell.js');

let root: string;

const STUB_BUILD = `
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
if (process.env.STUB_BUILD_FAILS) { console.log('stub build failing'); process.exit(3); }
console.log('stub build output');
appendFileSync('builds.log', 'build\\n');
mkdirSync('out/main', { recursive: true });
writeFileSync('out/main/cli.js', "process.stdout.write('cli ran ' + JSON.stringify(process.argv.slice(2)) + '\\\\n');\\n");
`;

function launch(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(root, 'bin', 'inkwell.js'), ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
}

function builds(): number {
  const log = join(root, 'builds.log');
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'inkwell-launcher-'));
  mkdirSync(join(root, 'bin'));
  copyFileSync(LAUNCHER, join(root, 'bin', 'inkwell.js'));
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'scratch', type: 'module' }));
  mkdirSync(join(root, 'src', 'main'), { recursive: true });
  writeFileSync(join(root, 'src', 'main', 'cli.ts'), '// source\n');
  mkdirSync(join(root, 'node_modules', 'electron-vite', 'bin'), { recursive: true });
  writeFileSync(join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), STUB_BUILD);
  // Sources dated in the past so the build output is newer than them.
  const past = new Date(Date.now() - 60_000);
  for (const p of ['package.json', 'src/main/cli.ts', 'src/main', 'src']) utimesSync(join(root, p), past, past);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('bin/inkwell.js', () => {
  it('builds when out/main/cli.js is missing, then runs it with the arguments; build output goes to stderr', () => {
    const run = launch(['models', 'list', '--json']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('cli ran ["models","list","--json"]\n');
    expect(run.stderr).toMatch(/stub build output/);
    expect(builds()).toBe(1);
    expect(existsSync(join(root, 'out', '.inkwell-build-lock'))).toBe(false);
  });

  it('does not build again while the output is newer than every source', () => {
    const run = launch(['--version']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('cli ran ["--version"]\n');
    expect(run.stderr).toBe('');
    expect(builds()).toBe(1);
  });

  it('builds again when a file under src/ is newer than the output', () => {
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(root, 'src', 'main', 'cli.ts'), future, future);
    expect(launch(['x']).stdout).toBe('cli ran ["x"]\n');
    expect(builds()).toBe(2);
    const past = new Date(Date.now() - 30_000);
    utimesSync(join(root, 'src', 'main', 'cli.ts'), past, past);
  });

  it('exits 1 with a message when the build fails', () => {
    rmSync(join(root, 'out'), { recursive: true, force: true });
    const run = launch(['x'], { STUB_BUILD_FAILS: '1' });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/inkwell: error: the build failed/);
    expect(existsSync(join(root, 'out', '.inkwell-build-lock'))).toBe(false);
  });
});
