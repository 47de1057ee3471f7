/**
 * Runs the built CLI (`out/main/cli.js`) as the e2e tests need it: one-shot
 * commands, and `inkwell serve --port 0` whose first stdout line is the URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MethodName, MethodRequest, MethodResponse } from '../../../src/shared/api';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

const cliPath = join(repoRoot, 'out', 'main', 'cli.js');

/** Throws a clear error when the app has not been built (the suites run against the build). */
export function assertBuilt(): void {
  for (const file of [cliPath, join(repoRoot, 'out', 'renderer', 'index.html')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` before the e2e suites`);
  }
}

/** Result of a one-shot CLI command. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `inkwell <args>` with INKWELL_HOME set to `home` (and `env` added to the environment). */
export function runCli(args: string[], home: string, timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env, INKWELL_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`inkwell ${args.join(' ')} took longer than ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A running `inkwell serve`. */
export interface ServeProcess {
  /** The first line it printed: `http://127.0.0.1:PORT/?token=TOKEN`. */
  url: string;
  origin: string;
  token: string;
  /** The server's process id (its inference process is a child of it). */
  pid: number;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const urlLine = /^http:\/\/127\.0\.0\.1:(\d+)\/\?token=([A-Za-z0-9_-]+)$/;

/** Starts `inkwell serve --port 0` on `home` (with `env` added to the environment) and waits for its URL line. */
export function startServe(home: string, timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [cliPath, 'serve', '--port', '0'], {
    cwd: repoRoot,
    env: { ...process.env, ...env, INKWELL_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const stop = async (graceMs = 15_000): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    let firstLine: string | null = null;
    const fail = (message: string): void => {
      void stop(1000);
      reject(new Error(`${message}\n--- serve output ---\n${output}`));
    };
    const timer = setTimeout(() => fail(`inkwell serve printed no URL within ${timeoutMs} ms`), timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // The URL is the first line of stdout; `output` also holds stderr, which may have spoken first.
      stdout += chunk.toString();
      if (firstLine !== null || !stdout.includes('\n')) return;
      firstLine = stdout.slice(0, stdout.indexOf('\n')).trim();
      clearTimeout(timer);
      const match = urlLine.exec(firstLine);
      if (!match) {
        fail(`the first line of inkwell serve is not http://127.0.0.1:PORT/?token=…: ${JSON.stringify(firstLine)}`);
        return;
      }
      resolve({ url: firstLine, origin: `http://127.0.0.1:${match[1]}`, token: match[2]!, pid: child.pid ?? 0, output: () => output, stop });
    });
    child.once('exit', (code) => {
      if (firstLine === null) {
        clearTimeout(timer);
        fail(`inkwell serve exited with code ${code} before printing its URL`);
      }
    });
  });
}

/** Calls one API method as a script would (Bearer token); rejects with the server's error message. */
export async function callApi<M extends MethodName>(server: ServeProcess, method: M, params: MethodRequest<M>): Promise<MethodResponse<M>> {
  const response = await fetch(`${server.origin}/api/call/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
    body: JSON.stringify(params),
  });
  const body = (await response.json()) as { result?: MethodResponse<M>; error?: { kind: string; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.kind}: ${body.error.message}`);
  return body.result as MethodResponse<M>;
}
