/**
 * Refreshes docs/screenshots/*.png (only with INKWELL_SCREENSHOTS=1) from the
 * demo build, whose made-up prose reads better than a random model's tokens:
 * every page, and the fixed states of issue 7 (the ghost at the end of a long
 * document, candidates after switching documents, the seed control's two
 * states, stale candidates), automatic titles with word counts in the
 * Documents list.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserUnavailableReason, collectPageErrors, launchChromium } from './helpers/browser';
import { buildDemo, serveDemo, type DemoServer } from './helpers/demo';
import { repoRoot } from './helpers/serve-process';
import { candidatesPanel, cursorToEnd, editor, ghost, poll, topInView, waitForCandidates, waitForMeter } from './helpers/write-page';

const wanted = process.env['INKWELL_SCREENSHOTS'] === '1';
const unavailable = browserUnavailableReason();
const out = join(repoRoot, 'docs', 'screenshots');

describe.runIf(wanted && unavailable === null)('screenshots (demo back end)', () => {
  const demoDir = mkdtempSync(join(tmpdir(), 'inkwell-demo-shots-'));
  let demo: DemoServer;
  let browser: Browser;

  beforeAll(async () => {
    await buildDemo(demoDir);
    demo = await serveDemo(demoDir);
    browser = await launchChromium();
    mkdirSync(out, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
    rmSync(demoDir, { recursive: true, force: true });
  });

  async function openDemo(scheme: 'light' | 'dark' = 'light'): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: scheme, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(demo.url);
    await editor(page).waitFor();
    await expect.poll(async () => ((await editor(page).textContent()) ?? '').length, poll).toBeGreaterThan(100);
    return { page, errors, close: () => context.close() };
  }

  const shoot = async (page: Page, name: string) => {
    if (await page.getByRole('region', { name: 'Context window' }).isVisible()) await waitForMeter(page);
    await page.screenshot({ path: join(out, `${name}.png`) });
  };

  it('every page, light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, errors, close } = await openDemo(scheme);
      await cursorToEnd(page);
      await page.getByRole('button', { name: 'Continue' }).click();
      await waitForCandidates(page);
      await shoot(page, scheme === 'dark' ? 'write-dark' : 'write');
      if (scheme === 'light') {
        await page.getByRole('link', { name: 'History' }).click();
        await page.getByRole('searchbox', { name: 'Search history' }).fill('stove');
        await expect.poll(() => page.locator('mark').count(), poll).toBeGreaterThan(0);
        await shoot(page, 'history');
        const label = await page.getByRole('list', { name: 'History entries' }).getByRole('article').nth(1).getAttribute('aria-labelledby');
        // The re-run adds an entry at the top: hold on to this one by its id.
        const entry = page.locator(`article[aria-labelledby="${label}"]`);
        await entry.getByRole('button', { name: 'Re-run' }).click();
        await expect.poll(async () => (await entry.getByRole('region', { name: 'Re-run' }).getByRole('status').textContent()) ?? '', poll).toMatch(/^Done/);
        await entry.scrollIntoViewIfNeeded();
        await shoot(page, 'history-rerun');
        await page.getByRole('link', { name: 'Models' }).click();
        await page.getByText('Get CUDA support').waitFor();
        await shoot(page, 'models');
        await page.getByRole('link', { name: 'Inspect' }).click();
        await page.getByRole('list', { name: 'GPT-2 tokens' }).waitFor();
        await shoot(page, 'inspect');
        await page.getByRole('link', { name: 'Compare' }).click();
        await page.getByRole('button', { name: "Use the document's text" }).click();
        await page.getByRole('button', { name: 'Run comparison' }).click();
        await page.getByRole('table', { name: 'Perplexity matrix' }).waitFor({ timeout: poll.timeout });
        await shoot(page, 'compare');
      }
      expect(errors).toEqual([]);
      await close();
    }
  });

  it('the Compare page: three columns (one a WebGPU fallback), the perplexity matrix, the first divergence, and History', async () => {
    const { page, errors, close } = await openDemo();
    await page.getByRole('link', { name: 'Compare' }).click();
    await page.getByRole('button', { name: "Use the document's text" }).click();
    await page.getByRole('button', { name: 'Add a column' }).click();
    await page.getByRole('combobox', { name: 'Column 1 model' }).selectOption('gpt2');
    await page.getByRole('combobox', { name: 'Column 2 model' }).selectOption('gpt2-large');
    await page.getByRole('combobox', { name: 'Column 3 model' }).selectOption('gpt2');
    await page.getByRole('combobox', { name: 'Column 3 device' }).selectOption('webgpu');
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).fill('28');
    await page.getByRole('spinbutton', { name: 'Max new tokens' }).press('Tab');
    await page.getByRole('button', { name: 'Run comparison', exact: true }).click();
    await page.getByRole('table', { name: 'Perplexity matrix' }).waitFor({ timeout: poll.timeout });
    // Tall enough to show the columns, the matrix and the divergence at once (the page scrolls inside the app).
    await page.setViewportSize({ width: 1440, height: 1640 });
    await page.screenshot({ path: join(out, 'compare.png') });
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.getByRole('link', { name: 'History' }).click();
    await expect.poll(async () => (await page.getByRole('region', { name: 'Saved comparisons' }).getByRole('status').textContent()) ?? '', poll).toBe('1 comparison');
    await page.screenshot({ path: join(out, 'history-comparisons.png') });
    expect(errors).toEqual([]);
    await close();
  });

  it('the ghost text in view at the end of a long document', async () => {
    const { page, errors, close } = await openDemo();
    await page.getByRole('region', { name: 'Documents' }).getByRole('button', { name: 'Carrow Point — full draft' }).click();
    await expect.poll(async () => (await editor(page).textContent()) ?? '', poll).toContain('The fog came in');
    await cursorToEnd(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForCandidates(page);
    await expect.poll(() => topInView(ghost(page), page.locator('.cm-scroller')), poll).toBe(true);
    await shoot(page, 'write-long-document-end');
    expect(errors).toEqual([]);
    await close();
  });

  it('candidates after switching documents: none on the other one, kept with their own', async () => {
    const { page, errors, close } = await openDemo();
    const story = 'The Lighthouse Keeper';
    await cursorToEnd(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForCandidates(page);
    await page.getByRole('region', { name: 'Documents' }).getByRole('button', { name: 'Launch copy' }).click();
    await expect.poll(async () => (await candidatesPanel(page).textContent()) ?? '', poll).toContain(`wait with “${story}”`);
    await shoot(page, 'write-after-switching-documents');
    await candidatesPanel(page).getByRole('button', { name: `Open “${story}”` }).click();
    await expect.poll(() => ghost(page).count(), poll).toBe(1);
    await shoot(page, 'write-candidates-kept-with-their-document');

    // Typing at the anchor: the candidates are stale, marked, and Tab refuses them.
    await cursorToEnd(page);
    await page.keyboard.type(' And then');
    await expect.poll(async () => (await candidatesPanel(page).textContent()) ?? '', poll).toMatch(/Out of date/);
    await shoot(page, 'write-stale-candidates');
    expect(errors).toEqual([]);
    await close();
  });

  it('automatic titles and word counts in the Documents list; a named title with its way back', async () => {
    const { page, errors, close } = await openDemo();
    await page.getByRole('button', { name: 'New' }).click();
    await editor(page).focus();
    await page.keyboard.type('Notes from the north gallery');
    await page.keyboard.press('Enter');
    await page.keyboard.type('The lamp room smelled of paraffin and salt. Elias wrote the date, then nothing else.');
    const list = page.getByRole('region', { name: 'Documents' });
    await expect.poll(async () => (await list.textContent()) ?? '', poll).toContain('title from first line');
    await shoot(page, 'documents-automatic-title');
    const title = page.getByRole('textbox', { name: 'Document title' });
    await title.fill('Gallery notes');
    await title.press('Enter');
    await page.getByRole('button', { name: 'Use first line as title' }).waitFor();
    await page.locator('.doc-bar').screenshot({ path: join(out, 'document-bar-named-title.png') });
    expect(errors).toEqual([]);
    await close();
  });

  it('the seed control, unlocked and locked', async () => {
    const { page, errors, close } = await openDemo();
    const params = page.getByRole('region', { name: 'Parameters' });
    await cursorToEnd(page);
    await page.getByRole('button', { name: 'Continue' }).click();
    await waitForCandidates(page);
    await expect.poll(async () => (await params.textContent()) ?? '', poll).toContain('Last run used seed');
    await params.screenshot({ path: join(out, 'seed-unlocked.png') });
    await params.getByRole('button', { name: 'Lock seed' }).click();
    await params.getByRole('button', { name: 'Unlock seed' }).waitFor();
    await params.screenshot({ path: join(out, 'seed-locked.png') });
    expect(errors).toEqual([]);
    await close();
  });

  it('the Batch page: a batch running beside the writer, then its results', async () => {
    const { page, errors, close } = await openDemo();
    await page.getByRole('link', { name: 'Batch' }).click();
    await page.getByRole('textbox', { name: 'Prompts file path' }).fill('~/data/story-openings.jsonl');
    await page.getByRole('textbox', { name: 'Seed' }).fill('1000');
    await page.getByRole('button', { name: 'Start batch' }).click();
    await expect.poll(async () => Number(await page.getByRole('progressbar', { name: 'Batch progress' }).getAttribute('aria-valuenow')), poll).toBeGreaterThan(30);
    await shoot(page, 'batch-running');
    await page.getByRole('button', { name: 'Cancel batch' }).click();
    await page.getByRole('button', { name: 'Resume batch' }).click();
    await page.getByText('Finished').waitFor({ timeout: 60_000 });
    await page.getByRole('table', { name: 'Results preview' }).waitFor();
    await page.getByRole('heading', { name: 'Results', exact: true }).evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await shoot(page, 'batch-results');
    expect(errors).toEqual([]);
    await close();
  });
});
