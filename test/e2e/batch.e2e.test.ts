/**
 * The Batch page in a browser against `inkwell serve` with a tiny random model: a prompts file on
 * the server's machine is run into a results file with progress, skipped rows by line, a preview
 * and a download; a run cancelled halfway and resumed ends complete, no row missing or doubled;
 * an uploaded file runs the same way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserUnavailableReason, launchChromium } from './helpers/browser';
import { assertBuilt, startServe, type ServeProcess } from './helpers/serve-process';
import { openApp, poll, type AppPage } from './helpers/write-page';
import { createWorkspace, type Workspace } from './helpers/workspace';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;

function resultIndexes(path: string): number[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { index: number }).index);
}

async function openBatchPage(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Batch' }).click();
  await page.getByRole('heading', { name: 'Batch', level: 1 }).waitFor();
}

async function setField(page: Page, role: 'textbox' | 'spinbutton', name: string, value: string): Promise<void> {
  const field = page.getByRole(role, { name, exact: true });
  await field.fill(value);
  await field.blur();
}

const figures = (page: Page) => page.getByRole('status', { name: 'Batch figures' });
const progressValue = async (page: Page) => Number(await page.getByRole('progressbar', { name: 'Batch progress' }).getAttribute('aria-valuenow'));

describe.skipIf(skipReason !== null)('the Batch page runs a prompts file in the back end', () => {
  let workspace: Workspace;
  let server: ServeProcess;
  let browser: Browser;
  let files: string;
  let app: AppPage | null = null;

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    workspace = await createWorkspace();
    server = await startServe(workspace.home);
    browser = await launchChromium();
    files = mkdtempSync(join(tmpdir(), 'inkwell-e2e-batch-'));
  });

  afterEach(async () => {
    const errors = app?.errors ?? [];
    await app?.context.close();
    app = null;
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    workspace?.remove();
    if (files) rmSync(files, { recursive: true, force: true });
  });

  it('picks a file, runs it with progress and skipped rows by line, and opens the result', async () => {
    const prompts = join(files, 'openings.jsonl');
    writeFileSync(prompts, [
      JSON.stringify({ prompt: 'The lighthouse keeper', id: 'a' }),
      JSON.stringify({ prompt: 'Once upon a time', max_new_tokens: 3 }),
      '{"prompt": "broken',
      JSON.stringify({ prompt: 'The harbour at dawn', seed: 9 }),
    ].join('\n'));
    app = await openApp(browser, server);
    const { page } = app;
    await openBatchPage(page);
    await setField(page, 'textbox', 'Prompts file path', prompts);
    expect(await page.getByRole('textbox', { name: 'Results file' }).inputValue()).toBe(join(files, 'openings.results.jsonl'));
    await setField(page, 'spinbutton', 'Max new tokens', '6');
    await setField(page, 'textbox', 'Seed', '40');
    await page.getByRole('button', { name: 'Start batch' }).click();

    await expect.poll(() => progressValue(page), poll).toBe(100);
    await expect.poll(async () => (await figures(page).textContent()) ?? '', poll).toMatch(/3 \/ 3\s+rows.*tok\/s.*1 skipped/s);
    await page.getByText('Finished').waitFor();
    await expect.poll(async () => (await page.getByRole('list', { name: 'Skipped rows' }).textContent()) ?? '', poll).toMatch(/Line 3\s*not valid JSON/);

    const table = page.getByRole('table', { name: 'Results preview' });
    await table.waitFor();
    const rows = table.getByRole('row');
    await expect.poll(() => rows.count(), poll).toBe(4);
    expect(await rows.nth(1).textContent()).toContain('The lighthouse keeper');
    expect(await rows.nth(3).textContent()).toMatch(/The harbour at dawn.*9/s);
    expect(resultIndexes(join(files, 'openings.results.jsonl')).sort()).toEqual([0, 1, 3]);

    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download results' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('openings.results.jsonl');
    expect(readFileSync(await file.path(), 'utf8')).toBe(readFileSync(join(files, 'openings.results.jsonl'), 'utf8'));
  });

  it('a run cancelled halfway and resumed ends complete, with no row missing and none written twice', async () => {
    const rows = 24;
    const prompts = join(files, 'many.txt');
    writeFileSync(prompts, Array.from({ length: rows }, (_, i) => `Prompt number ${i} about the sea`).join('\n'));
    const results = join(files, 'many.results.jsonl');
    app = await openApp(browser, server);
    const { page } = app;
    await openBatchPage(page);
    await setField(page, 'textbox', 'Prompts file path', prompts);
    await setField(page, 'spinbutton', 'Max new tokens', '24');
    await setField(page, 'spinbutton', 'Rows at once', '1');
    await setField(page, 'textbox', 'Seed', '5');
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(() => progressValue(page), poll).toBeGreaterThanOrEqual(10);
    // The status bar says a batch is running, wherever the writer is.
    await page.getByRole('contentinfo', { name: 'Status bar' }).getByRole('link', { name: /Batch/ }).waitFor();
    await page.getByRole('button', { name: 'Cancel batch' }).click();
    await page.getByText('Cancelled').waitFor({ timeout: poll.timeout });
    const before = resultIndexes(results).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(rows);

    // Starting again over the same results file is refused; the page offers to resume it instead.
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(async () => (await page.getByRole('alert').first().textContent()) ?? '', poll).toMatch(/already holds results/);
    // The browser logs the refusal's HTTP status; it is the one expected error of this test.
    const refusals = app.errors.filter((e) => /status of 403 .*batch\.start/.test(e));
    expect(refusals).toHaveLength(1);
    app.errors.splice(app.errors.indexOf(refusals[0] as string), 1);
    await page.getByRole('button', { name: 'Resume this results file' }).click();
    await page.getByText('Finished').waitFor({ timeout: 120_000 });
    await expect.poll(async () => (await figures(page).textContent()) ?? '', poll).toMatch(new RegExp(`${rows} / ${rows}\\s+rows \\(${before} from before\\)`));
    expect(resultIndexes(results).sort((a, b) => a - b)).toEqual(Array.from({ length: rows }, (_, i) => i));
  }, 180_000);

  it('runs an uploaded file into the data folder', async () => {
    app = await openApp(browser, server);
    const { page } = app;
    await openBatchPage(page);
    await page.getByRole('radio', { name: 'Upload from this computer' }).check();
    await page.getByLabel('Prompts file to upload').setInputFiles({ name: 'upload.csv', mimeType: 'text/csv', buffer: Buffer.from('id,prompt\n1,"Hello, sea"\n2,\n') });
    const results = join(workspace.home, 'batches', 'upload.results.jsonl');
    await expect.poll(() => page.getByRole('textbox', { name: 'Results file' }).inputValue(), poll).toBe(results);
    await setField(page, 'spinbutton', 'Max new tokens', '4');
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(async () => (await page.getByRole('list', { name: 'Skipped rows' }).textContent()) ?? '', poll).toMatch(/Line 3\s*prompt is empty/);
    // Polled, not read once after "Finished": the page may still show the previous test's finished
    // job for a moment after the click, before this one's state arrives.
    await expect.poll(() => resultIndexes(results), poll).toEqual([0]);
    await page.getByText('Finished').waitFor({ timeout: poll.timeout });
  });
});
