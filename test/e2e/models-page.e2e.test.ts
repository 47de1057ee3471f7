/**
 * From nothing to writing (issue 9): a fresh install in a browser against `inkwell serve`, with
 * HF_ENDPOINT pointing at the fake Hub (test/helpers/fake-hub.ts) that serves a tiny random GPT-2
 * as openai-community/gpt2. The first screen offers the catalog; the Models page downloads gpt2
 * with visible progress (the transfer is cut twice and resumed), converts it to int8 with its
 * measured quality shown, writes with it, and deletes the variant and the model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomCheckpoint } from '../helpers/checkpoint-factory';
import { repoFilesFromFolder, startFakeHub, type FakeHub } from '../helpers/fake-hub';
import { browserUnavailableReason, collectPageErrors, launchChromium } from './helpers/browser';
import { assertBuilt, repoRoot, startServe, type ServeProcess } from './helpers/serve-process';
import { candidateCards, editor, poll, waitForCandidates } from './helpers/write-page';

const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;

describe.skipIf(skipReason !== null)('the Models page takes a fresh install to writing', () => {
  let root: string;
  let hub: FakeHub;
  let server: ServeProcess;
  let browser: Browser;

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    root = mkdtempSync(join(tmpdir(), 'inkwell-e2e-models-'));
    const checkpoint = join(root, 'ckpt');
    await makeRandomCheckpoint(checkpoint, { nLayer: 2, nEmbd: 64, nHead: 2, nPositions: 128, seed: 21 });
    hub = await startFakeHub({ repos: { 'openai-community/gpt2': { files: repoFilesFromFolder(checkpoint) } } });
    // Cut twice mid-transfer: the pull resumes with Range, and its progress is on screen meanwhile.
    hub.fault('openai-community/gpt2', 'model.safetensors', { cutAfterBytes: 2_000_000, times: 2 });
    server = await startServe(join(root, 'home'), 60_000, { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(root, 'no-cache') });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await hub?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function installedCard(page: Pick<Page, 'getByRole'>, id: string) {
    return page.getByRole('region', { name: 'Installed' }).getByRole('listitem', { name: id, exact: true });
  }

  it('downloads gpt2 with progress, converts it to int8, writes with it, and deletes both', async () => {
    const context = await browser.newContext({ viewport: { width: 1500, height: 1000 } });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(server.url);
    await editor(page).waitFor();

    // The first screen: no model, and the catalog to get one.
    const firstRun = page.getByRole('region', { name: 'Get GPT-2 to start writing' }).first();
    await expect.poll(() => firstRun.getByRole('listitem', { name: 'GPT-2 Large', exact: true }).count(), poll).toBe(1);

    await page.getByRole('navigation').getByRole('link', { name: 'Models' }).click();
    const models = page.locator('#page-title-models');
    await models.waitFor();
    const modelsPage = page.locator('.page-slot:not([hidden])');
    await modelsPage.getByRole('button', { name: 'Download gpt2', exact: true }).click();
    const bar = modelsPage.getByRole('progressbar', { name: 'Downloading gpt2' });
    await bar.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(repoRoot, 'docs', 'screenshots', 'models-download.png') });

    const card = installedCard(modelsPage, 'gpt2');
    await card.waitFor({ timeout: 120_000 });
    // The cut transfers were resumed from where they stopped.
    expect(hub.requests.filter((r) => r.range !== undefined).length).toBeGreaterThan(0);

    // Convert to int8: progress, then the row with its measured KL and agreement.
    await card.getByRole('button', { name: 'Convert gpt2 to int8' }).click();
    await expect.poll(async () => (await card.getByRole('row', { name: /^int8/ }).count()), { timeout: 180_000, interval: 200 }).toBe(1);
    const int8Row = card.getByRole('row', { name: /^int8/ });
    await expect.poll(() => int8Row.textContent(), poll).toMatch(/MatMulNBits 8-bit.*\d+(\.\d+)?%/);
    await page.screenshot({ path: join(repoRoot, 'docs', 'screenshots', 'models.png'), fullPage: true });

    // Write with it.
    await page.getByRole('navigation').getByRole('link', { name: 'Write' }).click();
    await expect.poll(() => page.getByRole('combobox', { name: 'Model' }).inputValue(), poll).toBe('gpt2');
    await editor(page).click();
    await page.keyboard.type('The lighthouse keeper');
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForCandidates(page);
    expect(await candidateCards(page).count()).toBeGreaterThan(0);

    // The speed of that generation is shown on the Models page, then the variant and the model go.
    await page.getByRole('navigation').getByRole('link', { name: 'Models' }).click();
    await expect.poll(() => card.textContent(), poll).toMatch(/tok\/s on cpu \(1 run\)/);
    await card.getByRole('button', { name: 'Delete the int8 variant of gpt2' }).click();
    await card.getByRole('button', { name: 'Delete variant' }).click();
    await expect.poll(() => card.getByRole('row', { name: /^int8/ }).count(), poll).toBe(0);
    await card.getByRole('button', { name: 'Remove gpt2' }).click();
    await card.getByRole('button', { name: 'Remove model' }).click();
    await expect.poll(() => modelsPage.getByRole('region', { name: 'Installed' }).getByRole('listitem').count(), poll).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  }, 400_000);
});
