/**
 * `inkwell models pull | cache | catalog | import --from-cache`, run in-process
 * against a fake Hub on 127.0.0.1 (HF_ENDPOINT) and a fake Hugging Face cache
 * (HF_HUB_CACHE): a pulled model and a cache import both generate; every
 * refusal of the fault list (issue 6, fault 3.4) exits 2 with the reason.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/main/cli/run';
import { makeRandomCheckpoint } from '../../helpers/checkpoint-factory';
import { repoFilesFromFolder, startFakeHub, type FakeHub } from '../../helpers/fake-hub';
import { useTempDirs } from '../../helpers/tmp';

const tempDir = useTempDirs('inkwell-cli-hub-');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let hub: FakeHub;
let checkpoint: string;
let cache: string;

async function inkwell(args: string[], env: NodeJS.ProcessEnv, opts: { interrupt?: AbortSignal; tty?: boolean } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    interrupt: opts.interrupt ?? new AbortController().signal,
    env,
    stderrIsTTY: opts.tty ?? false,
    columns: 100,
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  checkpoint = join(tempDir(), 'ckpt');
  await makeRandomCheckpoint(checkpoint, { nLayer: 1, nEmbd: 16, nHead: 2, seed: 3 });
  const files = repoFilesFromFolder(checkpoint);
  hub = await startFakeHub({
    repos: {
      'someone/tiny-gpt2': { files },
      'openai-community/gpt2': { files },
      'someone/pickled': { files: { 'config.json': files['config.json'] ?? '', 'pytorch_model.bin': 'x' } },
    },
  });
  cache = tempDir();
  const snapshot = join(cache, 'models--openai-community--gpt2', 'snapshots', 'f'.repeat(40));
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(cache, 'models--openai-community--gpt2', 'blobs'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(cache, 'models--openai-community--gpt2', 'blobs', `blob-${name}`), content);
    symlinkSync(join('..', '..', 'blobs', `blob-${name}`), join(snapshot, name));
  }
});

afterAll(() => hub.close());

describe('inkwell models pull', () => {
  it('HF_ENDPOINT=… inkwell models pull owner/name, then inkwell generate --model name works end to end', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_ENDPOINT: hub.url };
    const pulled = await inkwell(['models', 'pull', 'someone/tiny-gpt2'], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(/^pulled someone\/tiny-gpt2 as tiny-gpt2: gpt2-like 1L\/16d \(808\.4K\), 4\.4 MiB downloaded → /);
    expect(pulled.stderr).toContain(`pulling someone/tiny-gpt2 from ${hub.url}`);
    expect(pulled.stderr).toMatch(/downloading model\.safetensors: 100% \([\d.]+ MiB of [\d.]+ MiB/);
    expect(pulled.stderr).toContain('building the ONNX graphs: 100%');
    const generated = await inkwell(['generate', '--model', 'tiny-gpt2', '--prompt', 'Hello', '--max-new-tokens', '4', '--greedy', '--json'], env);
    expect(generated.code, generated.stderr).toBe(0);
    const out = JSON.parse(generated.stdout) as { model: string; sequences: { token_ids: number[] }[] };
    expect(out.model).toBe('tiny-gpt2');
    expect(out.sequences[0]?.token_ids).toHaveLength(4);
  });

  it('maps the alias gpt2 to openai-community/gpt2 and prints JSON with --json', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_ENDPOINT: hub.url };
    const pulled = await inkwell(['models', 'pull', 'gpt2', '--json'], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ id: 'gpt2', repo: 'openai-community/gpt2', weights_linked: true, origin: { kind: 'hub', repo: 'openai-community/gpt2' } });
  });

  it('draws a progress bar on a terminal', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_ENDPOINT: hub.url };
    const pulled = await inkwell(['models', 'pull', 'someone/tiny-gpt2', '--id', 'bar'], env, { tty: true });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toMatch(/\r\x1b\[K\[#{24}\] 100% {2}[\d.]+ MiB of [\d.]+ MiB.*downloading model\.safetensors/);
    expect(pulled.stderr.endsWith('\n')).toBe(true);
  });

  it('exits 2 with the reason for 404, a pickle-only repository and a bad repository id; nothing is installed', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_ENDPOINT: hub.url };
    for (const [name, reason] of [
      ['someone/missing', /someone\/missing was not found on 127\.0\.0\.1:\d+ \(HTTP 404/],
      ['someone/pickled', /only PyTorch pickle weights \(pytorch_model\.bin\).*safe_serialization=True/],
      ['../etc', /not a Hugging Face repository id/],
    ] as const) {
      const run = await inkwell(['models', 'pull', name], env);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(reason);
      expect(run.stderr).not.toContain('internal');
    }
    expect(JSON.parse((await inkwell(['models', 'list', '--json'], env)).stdout)).toEqual([]);
  });

  it('exits 130 when interrupted, and a second run resumes', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_ENDPOINT: hub.url };
    hub.fault('someone/tiny-gpt2', 'model.safetensors', { stall: true, times: 1 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 500);
    const run = await inkwell(['models', 'pull', 'someone/tiny-gpt2'], env, { interrupt: controller.signal });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/inkwell: .*cancelled.*resume/);
    hub.fault('someone/tiny-gpt2', 'model.safetensors', undefined);
    const again = await inkwell(['models', 'pull', 'someone/tiny-gpt2'], env);
    expect(again.code, again.stderr).toBe(0);
  });
});

describe('inkwell models cache and import --from-cache', () => {
  it('lists the cache and imports from it without copying the weights', async () => {
    const env = { INKWELL_HOME: tempDir(), HF_HUB_CACHE: cache };
    const listed = await inkwell(['models', 'cache'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`Hugging Face cache: ${cache}`);
    expect(listed.stdout).toMatch(/openai-community\/gpt2\s+ffffffff\s+[\d.]+[KMB]\s+[\d.]+ MiB\s+importable/);
    const imported = await inkwell(['models', 'import', '--from-cache', 'openai-community/gpt2', '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ id: 'gpt2', weights_linked: true, origin: { kind: 'hf-cache', repo: 'openai-community/gpt2' } });
    const json = JSON.parse((await inkwell(['models', 'cache', '--json'], env)).stdout) as { cache_dir: string; repos: { repo: string; imported_as: string[] }[] };
    expect(json.cache_dir).toBe(cache);
    expect(json.repos[0]).toMatchObject({ repo: 'openai-community/gpt2', imported_as: ['gpt2'] });
    const generated = await inkwell(['generate', '--model', 'gpt2', '--prompt', 'Hi', '--max-new-tokens', '2', '--json'], env);
    expect(generated.code, generated.stderr).toBe(0);
    const missing = await inkwell(['models', 'import', '--from-cache', 'someone/else'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is not in the Hugging Face cache');
    const both = await inkwell(['models', 'import', '/x', '--from-cache', 'gpt2'], env);
    expect(both.code).toBe(2);
  });

  it('lists the catalog as a table and as JSON', async () => {
    const env = { INKWELL_HOME: tempDir() };
    const table = await inkwell(['models', 'catalog'], env);
    expect(table.stdout).toMatch(/^ALIAS\s+REPO\s+PARAMS\s+DOWNLOAD\s+MEMORY fp32/);
    expect(table.stdout).toMatch(/\ngpt2-large\s+openai-community\/gpt2-large\s+774M\s+3\.0 GiB/);
    const json = JSON.parse((await inkwell(['models', 'catalog', '--json'], env)).stdout) as { alias: string; download_bytes: number; precisions?: { int4: { weight_bytes: number } } }[];
    expect(json.map((e) => e.alias)).toContain('bert-base-uncased');
    expect(json.find((e) => e.alias === 'gpt2')?.precisions?.int4.weight_bytes).toBeGreaterThan(0);
  });
});

describe('import refusals exit 2 with the reason (issue 6, fault 3.4)', () => {
  const home = () => ({ INKWELL_HOME: tempDir() });
  const broken = (mutate: (dir: string) => void): string => {
    const dir = join(tempDir(), 'ckpt');
    cpSync(checkpoint, dir, { recursive: true });
    mutate(dir);
    return dir;
  };
  const editConfig = (dir: string, patch: Record<string, unknown>) => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...patch }));
  };

  it.each([
    ['n_layer 1e9', (d: string) => editConfig(d, { n_layer: 1e9 }), /n_layer is 1000000000 but .* holds 1 layer/],
    ['model.safetensors a folder', (d: string) => { rmSync(join(d, 'model.safetensors')); mkdirSync(join(d, 'model.safetensors')); }, /model\.safetensors: not a regular file \(a folder\)/],
    ['model.safetensors a symlink to /etc', (d: string) => { rmSync(join(d, 'model.safetensors')); symlinkSync('/etc', join(d, 'model.safetensors')); }, /not a regular file \(a folder\)/],
    ['config.json a FIFO', (d: string) => { rmSync(join(d, 'config.json')); execFileSync('mkfifo', [join(d, 'config.json')]); }, /config\.json: not a regular file \(a FIFO/],
    ['malformed merges', (d: string) => {
      const file = join(d, 'tokenizer.json');
      const json = JSON.parse(readFileSync(file, 'utf8')) as { model: { merges: unknown[] } };
      json.model.merges = [[1, 2], null, { a: 1 }, 'x'];
      writeFileSync(file, JSON.stringify(json));
    }, /tokenizer\.json: merges\[0\]/],
    ['NaN weights', (d: string) => {
      const buf = readFileSync(join(d, 'model.safetensors'));
      buf.writeUInt32LE(0x7fc00000, buf.byteLength - 4);
      writeFileSync(join(d, 'model.safetensors'), buf);
    }, /holds 1 NaN or infinite value/],
  ])('%s', async (_label, mutate, reason) => {
    const dir = broken(mutate);
    const env = home();
    const run = await inkwell(['models', 'import', dir, '--id', 'broken'], env);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(reason);
    expect(run.stderr).not.toMatch(/internal|\n\s+at /);
    expect(JSON.parse((await inkwell(['models', 'list', '--json'], env)).stdout)).toEqual([]);
  });

  it('config.json linked to a passwd-like file: exit 2 and no line of it printed', async () => {
    const secret = join(tempDir(), 'passwd');
    writeFileSync(secret, 'root:x:0:0:SECRET:/root:/bin/bash\n');
    const dir = broken((d) => { rmSync(join(d, 'config.json')); symlinkSync(secret, join(d, 'config.json')); });
    const run = await inkwell(['models', 'import', dir, '--id', 'broken'], home());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/config\.json: malformed JSON/);
    expect(run.stderr).not.toMatch(/root|SECRET/);
  });
});
