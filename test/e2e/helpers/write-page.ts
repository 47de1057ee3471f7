/**
 * The app's pages as the browser suites drive them, by accessible names:
 * opening the app on a serve process, the editor's text, the candidates
 * panel, parameters, and geometry checks ("is the ghost text in view").
 */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { collectPageErrors } from './browser';
import type { ServeProcess } from './serve-process';

/** Polling for UI conditions: generous, since two cores are shared with other suites. */
export const poll = { timeout: 60_000, interval: 100 };

/** The window most tests use, wide enough for the documents column to start open. */
export const wideViewport = { width: 1360, height: 860 };

/** A page of the app with its collected console and page errors. */
export interface AppPage {
  context: BrowserContext;
  page: Page;
  errors: string[];
}

/** Opens the app in a fresh browser context (own cookies) and waits for the editor and a model. */
export async function openApp(browser: Browser, server: ServeProcess, viewport = wideViewport): Promise<AppPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  // INKWELL_E2E_CPU_THROTTLE=6 runs the page as on a slow machine, to shake out timing assumptions.
  const throttle = Number(process.env['INKWELL_E2E_CPU_THROTTLE'] ?? '1');
  if (throttle > 1) await (await context.newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.goto(server.url);
  await editor(page).waitFor();
  await expect.poll(() => page.getByRole('combobox', { name: 'Model' }).inputValue(), poll).not.toBe('');
  return { context, page, errors };
}

/** The CodeMirror editor. */
export function editor(page: Page): Locator {
  return page.getByRole('textbox', { name: 'Editor' });
}

/**
 * The editor's text as the document holds it: lines joined with "\n", without
 * the ghost text or the placeholder. Only lines CodeMirror has drawn are seen,
 * so use it for documents that fit the window.
 */
export function editorText(page: Page): Promise<string> {
  return page.locator('.cm-content > .cm-line').evaluateAll((lines) =>
    lines
      .map((line) => {
        const copy = line.cloneNode(true) as typeof line;
        for (const extra of copy.querySelectorAll('.cm-ghost, .cm-placeholder')) extra.remove();
        return copy.textContent ?? '';
      })
      .join('\n'),
  );
}

/** The accessible name of the focused element (its aria-label, else its text). */
export function focusedName(page: Page): Promise<string> {
  return page.locator(':focus').evaluate((element) => element.getAttribute('aria-label') ?? element.textContent ?? '');
}

/**
 * Waits until the editor shows `content`: all of it when it is short, else
 * its first line (CodeMirror draws only the lines near the viewport).
 */
export async function waitForDocument(page: Page, content: string): Promise<void> {
  const lines = content.split('\n');
  if (lines.length <= 8) await expect.poll(() => editorText(page), poll).toBe(content);
  else await expect.poll(async () => (await editorText(page)).split('\n')[0], poll).toBe(lines[0]);
}

/** The ghost text widget (drawn at the anchor while candidates are shown). */
export function ghost(page: Page): Locator {
  return page.locator('.cm-ghost');
}

/** The candidates panel. */
export function candidatesPanel(page: Page): Locator {
  return page.getByRole('region', { name: 'Candidates', exact: true });
}

/** The candidate cards. */
export function candidateCards(page: Page): Locator {
  return page.getByRole('list', { name: 'Candidates', exact: true }).getByRole('listitem');
}

/** The candidates panel's status line ("Writing 2 candidates…", "2 candidates ready"). */
export function candidatesStatus(page: Page): Locator {
  return candidatesPanel(page).getByRole('status').first();
}

/** Sets a numeric parameter field and commits it (the field saves on change). */
export async function setNumber(page: Page, label: string, value: number): Promise<void> {
  const field = page.getByRole('spinbutton', { name: label, exact: true });
  await field.fill(String(value));
  await field.press('Tab');
}

/** Presses Continue and waits until the candidates are ready. */
export async function continueAndWait(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Continue' }).click();
  await waitForCandidates(page);
}

/** Waits until the candidates panel says they are ready. */
export async function waitForCandidates(page: Page): Promise<void> {
  await expect.poll(async () => (await candidatesStatus(page).textContent()) ?? '', poll).toMatch(/candidates? ready/);
}

/** Opens a document from the Documents list by its title. */
export async function openDocument(page: Page, title: string, content: string): Promise<void> {
  await page.getByRole('region', { name: 'Documents' }).getByRole('button', { name: title }).click();
  await expect.poll(() => editorText(page), poll).toBe(content);
}

/** Puts the cursor at the end of the document, with the focus in the editor. */
export async function cursorToEnd(page: Page): Promise<void> {
  await editor(page).focus();
  await page.keyboard.press('Control+End');
}

/** True when the top of `target` (its first `probe` pixels) lies inside `container`'s box. */
export async function topInView(target: Locator, container: Locator, probe = 12): Promise<boolean> {
  const [t, c] = await Promise.all([target.boundingBox(), container.boundingBox()]);
  if (!t || !c) return false;
  return t.y >= c.y - 1 && t.y + Math.min(probe, t.height) <= c.y + c.height + 1;
}

/** Records the params of every generate.start the page sends. */
export function captureGenerateRequests(page: Page): Record<string, unknown>[] {
  const bodies: Record<string, unknown>[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/api/call/generate.start')) bodies.push(request.postDataJSON() as Record<string, unknown>);
  });
  return bodies;
}

/** Waits until the context meter has counted the text as it is now. */
export async function waitForMeter(page: Page): Promise<void> {
  const meter = page.getByRole('region', { name: 'Context window' });
  await expect.poll(async () => (await meter.textContent()) ?? '', poll).toMatch(/\d+ \/ \d+ tokens(?! …)/);
}

/** Waits until the open document's edits are written (so the next test's "latest document" is not this one). */
export async function waitUntilSaved(page: Page): Promise<void> {
  await expect.poll(async () => (await page.getByRole('status', { name: 'Save status', includeHidden: true }).textContent()) ?? '', poll).toMatch(/^Saved/);
}
