/**
 * The installer's file selection (electron-builder.yml `files`, measured by
 * scripts/package-size.mjs) leaves out most of the production dependency tree. This checks that
 * what is left is enough: the built CLI, run from a copy of exactly those files, tokenizes and
 * generates with a stored model (engine, bundled tokenizer, onnxruntime-node).
 * Needs `npm run build` first (as `npm test` does).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../src/main/engine';
import { makeRandomCheckpoint } from '../helpers/checkpoint-factory';
import { useTempDirs } from '../helpers/tmp';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const tempDir = useTempDirs('inkwell-package-files-');
let stage: string;
let home: string;

beforeAll(async () => {
  if (!existsSync(join(repoRoot, 'out', 'main', 'cli.js'))) throw new Error('out/ is not built: run `npm run build` first');
  stage = tempDir();
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'package-size.mjs'), '--stage', stage], { cwd: repoRoot, stdio: 'ignore' });
  home = tempDir();
  const checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 4 });
  await new ModelStore(home).import(checkpoint, 'tiny');
});

function stagedCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(stage, 'out', 'main', 'cli.js'), ...args], { encoding: 'utf8', env: { ...process.env, INKWELL_HOME: home }, timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the packaged file set', () => {
  it('carries only the packages loaded at run time', () => {
    expect(readdirSync(join(stage, 'node_modules')).sort()).toEqual(['better-sqlite3', 'bindings', 'file-uri-to-path', 'onnxruntime-common', 'onnxruntime-node', 'ws', 'zod']);
    expect(existsSync(join(stage, 'node_modules', 'onnxruntime-node', 'script'))).toBe(false);
  });

  it('is enough to tokenize and generate with the built CLI', () => {
    const tokenized = stagedCli(['tokenize', '--model', 'tiny', '--text', 'Hello world', '--json']);
    expect(tokenized.stderr).toBe('');
    expect(JSON.parse(tokenized.stdout)).toEqual({ ids: [15496, 995], tokens: ['Hello', ' world'] });
    const generated = stagedCli(['generate', '--model', 'tiny', '--prompt', 'Hello', '--max-new-tokens', '3', '--num-return-sequences', '2', '--seed', '1', '--json']);
    expect(generated.status, generated.stderr).toBe(0);
    expect((JSON.parse(generated.stdout) as { sequences: unknown[] }).sequences).toHaveLength(2);
  });
});
