/**
 * The built CLI as a user runs it: `HF_ENDPOINT=http://127.0.0.1:PORT inkwell
 * models pull owner/name` against the fake Hub (test/helpers/fake-hub.ts),
 * then `inkwell generate --model name`; and a pull stopped with Ctrl-C
 * (SIGINT) that exits 130 and resumes when run again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomCheckpoint } from '../helpers/checkpoint-factory';
import { repoFilesFromFolder, startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { assertBuilt, repoRoot, runCli } from './helpers/serve-process';

let hub: FakeHub;
let root: string;

beforeAll(async () => {
  assertBuilt();
  root = mkdtempSync(join(tmpdir(), 'inkwell-e2e-pull-'));
  const checkpoint = join(root, 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 2, nEmbd: 32, nHead: 4, seed: 12 });
  hub = await startFakeHub({ repos: { 'someone/tiny-gpt2': { files: repoFilesFromFolder(checkpoint) } } });
});

afterAll(async () => {
  await hub?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('inkwell models pull (built CLI, real process)', () => {
  it('pulls from HF_ENDPOINT and generates with the pulled model', async () => {
    const home = join(root, 'home-1');
    const pulled = await runCli(['models', 'pull', 'someone/tiny-gpt2'], home, 120_000, { HF_ENDPOINT: hub.url });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(/^pulled someone\/tiny-gpt2 as tiny-gpt2: /);
    const generated = await runCli(['generate', '--model', 'tiny-gpt2', '--prompt', 'The lighthouse', '--max-new-tokens', '5', '--seed', '1', '--json'], home);
    expect(generated.code, generated.stderr).toBe(0);
    const out = JSON.parse(generated.stdout) as { model: string; sequences: { token_ids: number[]; finish_reason: string }[] };
    expect(out.model).toBe('tiny-gpt2');
    expect(out.sequences[0]?.token_ids.length).toBeGreaterThan(0);
  });

  it('Ctrl-C during the download exits 130, and the next run resumes with Range', async () => {
    const home = join(root, 'home-2');
    // Every response of the weights is cut after 1 MB: the pull advances 1 MB per retry.
    hub.fault('someone/tiny-gpt2', 'model.safetensors', { cutAfterBytes: 1_000_000 });
    hub.requests.length = 0;
    const child = spawn(process.execPath, [join(repoRoot, 'out', 'main', 'cli.js'), 'models', 'pull', 'someone/tiny-gpt2'], {
      cwd: repoRoot, env: { ...process.env, INKWELL_HOME: home, HF_ENDPOINT: hub.url }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Interrupt once the weights' first transfer was cut and the retry began.
    const started = Date.now();
    while (hub.requests.filter((r) => r.server === 'cdn').length < 2 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/cancelled/);
    hub.fault('someone/tiny-gpt2', 'model.safetensors', undefined);
    hub.requests.length = 0;
    const again = await runCli(['models', 'pull', 'someone/tiny-gpt2'], home, 120_000, { HF_ENDPOINT: hub.url });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/resumed after [\d.]+ MiB/);
    expect(hub.requests.find((r) => r.server === 'cdn')?.range).toMatch(/^bytes=[1-9]\d*-$/);
  });
});
