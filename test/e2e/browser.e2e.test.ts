/**
 * The app as a new user meets it in a browser through `inkwell serve`, with a
 * tiny random GPT-2 model: write, Continue, watch candidates stream in,
 * accept with Tab, find the generation by history search, reload and restart
 * the server and find the document again; a wrong token gets nothing.
 *
 * Runs against the build (`npm run build` first). Screenshots come from
 * screenshots.e2e.test.ts.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { browserUnavailableReason, collectPageErrors, launchChromium } from './helpers/browser';
import { assertBuilt, startServe, type ServeProcess } from './helpers/serve-process';
import { createWorkspace, type Workspace } from './helpers/workspace';
import { editorText, poll } from './helpers/write-page';

// CI sets INKWELL_REQUIRE_BROWSER=1 so that a missing browser fails the run instead of skipping it.
const unavailable = browserUnavailableReason();
const skipReason = process.env['INKWELL_REQUIRE_BROWSER'] === '1' ? null : unavailable;
if (skipReason) console.warn(`browser e2e skipped: ${skipReason}`);

const typed = 'The lighthouse keeper climbed the stairs';
const searchWord = 'lighthouse';

/** Editor text with whitespace dropped: CodeMirror's DOM text has no line breaks between lines. */
const squash = (text: string): string => text.replace(/\s+/g, '');

describe.skipIf(skipReason !== null)('browser against inkwell serve', () => {
  let workspace: Workspace;
  let server: ServeProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[] = [];
  let acceptedText = '';

  beforeAll(async () => {
    if (unavailable) throw new Error(`browser e2e cannot run: ${unavailable}`);
    assertBuilt();
    workspace = await createWorkspace();
    server = await startServe(workspace.home);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1360, height: 860 } });
    page = await context.newPage();
    pageErrors = collectPageErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    workspace?.remove();
  });

  it('writes, continues with streamed candidates, and accepts with Tab as one undo step', async () => {
    const frames: { type: string; generationId: string }[] = [];
    page.on('websocket', (socket) => {
      socket.on('framereceived', ({ payload }) => {
        if (typeof payload !== 'string') return;
        const message = JSON.parse(payload) as { channel: string; event?: { type: string; generationId: string } };
        if (message.channel === 'generation' && message.event) frames.push(message.event);
      });
    });
    await page.goto(server.url);
    const editor = page.getByRole('textbox', { name: 'Editor' });
    await editor.waitFor();
    await expect.poll(() => page.getByRole('combobox', { name: 'Model' }).inputValue(), poll).toBe('tiny');

    await page.getByRole('spinbutton', { name: 'Max new tokens' }).fill('12');
    await page.getByRole('spinbutton', { name: 'Candidates' }).fill('2');
    await page.getByRole('spinbutton', { name: 'Candidates' }).press('Tab');
    await editor.click();
    await page.keyboard.type(typed);

    await page.getByRole('button', { name: 'Continue' }).click();
    const cards = page.getByRole('list', { name: 'Candidates', exact: true }).getByRole('listitem');
    await expect.poll(() => cards.count(), poll).toBe(2);
    await expect.poll(() => page.getByRole('button', { name: 'Accept' }).isEnabled(), poll).toBe(true);
    await expect.poll(() => frames.some((f) => f.type === 'done' || f.type === 'error'), poll).toBe(true);

    // Streaming: text arrived as several delta events before the generation was done.
    const done = frames.findIndex((f) => f.type === 'done');
    expect(frames.find((f) => f.type === 'error')).toBeUndefined();
    expect(frames.slice(0, done).filter((f) => f.type === 'delta').length).toBeGreaterThan(1);
    expect(await cards.first().textContent()).not.toBe('');

    const ghost = page.locator('.cm-ghost');
    await ghost.waitFor();
    acceptedText = (await ghost.textContent()) ?? '';
    expect(acceptedText.length).toBeGreaterThan(0);
    await editor.press('Tab');
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed + acceptedText));
    await expect.poll(() => ghost.count(), poll).toBe(0);

    await editor.press('Control+z');
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed));
    // Undo of an accept brings its candidates back.
    await expect.poll(() => cards.count(), poll).toBe(2);
    // KeyZ with Shift sends "Z", as a real keyboard does; CodeMirror binds redo to Ctrl-Shift-z on Linux.
    await editor.press('Control+Shift+KeyZ');
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed + acceptedText));

    await expect.poll(() => page.getByRole('status', { name: 'Save status' }).textContent(), poll).toBe('Saved');
    expect(pageErrors).toEqual([]);
  });

  it('drives candidates from the keyboard: Ctrl+Enter continues, Alt+] cycles, Escape dismisses', async () => {
    const editor = page.getByRole('textbox', { name: 'Editor' });
    const cards = page.getByRole('list', { name: 'Candidates', exact: true }).getByRole('listitem');
    await editor.press('Control+Enter');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'candidates ready' }).count(), poll).toBe(1);
    const pressed = () => cards.getByRole('button', { pressed: true }).textContent();
    const first = await pressed();
    await editor.press('Alt+BracketRight');
    await expect.poll(() => cards.nth(1).locator('button[aria-pressed]').getAttribute('aria-pressed'), poll).toBe('true');
    expect(await pressed()).not.toBe(first);
    await editor.press('Alt+BracketLeft');
    await expect.poll(() => cards.first().locator('button[aria-pressed]').getAttribute('aria-pressed'), poll).toBe('true');
    await editor.press('Escape');
    await expect.poll(() => cards.count(), poll).toBe(0);
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed + acceptedText));
    expect(pageErrors).toEqual([]);
  });

  it('finds the generation by searching history, marked as accepted', async () => {
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByRole('searchbox', { name: 'Search history' }).fill(searchWord);
    const entries = page.getByRole('list', { name: 'History entries' }).getByRole('listitem');
    // Two generations used the prompt: the accepted one, and the one dismissed with Escape.
    await expect.poll(() => entries.filter({ hasText: typed }).count(), poll).toBe(2);
    const accepted = entries.filter({ hasText: typed }).filter({ has: page.getByText('Accepted', { exact: true }) });
    await expect.poll(() => accepted.count(), poll).toBe(1);
    expect(await accepted.textContent()).toContain('tiny');

    await page.getByRole('searchbox', { name: 'Search history' }).fill('zebra-not-in-any-prompt');
    await expect.poll(() => page.getByText('Nothing matches.').count(), poll).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it('keeps the document across a reload', async () => {
    await page.reload();
    await page.getByRole('link', { name: 'Write' }).click();
    await page.getByRole('textbox', { name: 'Editor' }).waitFor();
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed + acceptedText));
    expect(pageErrors).toEqual([]);
  });

  it('keeps the document and history across a server restart', async () => {
    // Leave the page first, so the app's event socket does not log reconnect failures while the server is down.
    await page.goto('about:blank');
    await server.stop();
    server = await startServe(workspace.home);
    await page.goto(server.url);
    await page.getByRole('textbox', { name: 'Editor' }).waitFor();
    await expect.poll(async () => squash(await editorText(page)), poll).toBe(squash(typed + acceptedText));
    await page.getByRole('link', { name: 'History' }).click();
    await page.getByRole('searchbox', { name: 'Search history' }).fill(searchWord);
    await expect
      .poll(() => page.getByRole('list', { name: 'History entries' }).getByRole('listitem').filter({ hasText: typed }).count(), poll)
      .toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });

  it('refuses requests and sockets without the right token', async () => {
    const call = (headers: Record<string, string> = {}) =>
      fetch(`${server.origin}/api/call/documents.list`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const noCookie = await call();
    expect(noCookie.status).toBe(401);
    expect(await noCookie.text()).not.toContain(typed);
    expect((await call({ authorization: 'Bearer wrong-token' })).status).toBe(401);
    expect((await call({ cookie: 'inkwell_token=wrong-token' })).status).toBe(401);
    expect((await fetch(`${server.origin}/?token=wrong-token`)).status).toBe(401);
    expect((await fetch(`${server.origin}/`)).status).toBe(401);
    // The right token is accepted, so the refusals above are about the token.
    expect((await call({ authorization: `Bearer ${server.token}` })).status).toBe(200);

    const socketOutcome = (url: string, origin: string): Promise<string> =>
      new Promise((resolve) => {
        const socket = new WebSocket(url, { origin });
        socket.on('open', () => {
          socket.close();
          resolve('open');
        });
        socket.on('unexpected-response', (_request, response) => {
          resolve(`refused ${response.statusCode}`);
          socket.terminate();
        });
        socket.on('error', () => resolve('error'));
      });
    const wsOrigin = server.origin.replace(/^http/, 'ws');
    expect(await socketOutcome(`${wsOrigin}/api/events?token=wrong-token`, server.origin)).toMatch(/^refused 40[13]$|^error$/);
    expect(await socketOutcome(`${wsOrigin}/api/events?token=${server.token}`, 'http://evil.example')).toMatch(/^refused 40[13]$|^error$/);
    expect(await socketOutcome(`${wsOrigin}/api/events?token=${server.token}`, server.origin)).toBe('open');

    // A browser that never saw the token is refused too.
    const stranger = await browser.newContext();
    const strangerPage = await stranger.newPage();
    const response = await strangerPage.goto(`${server.origin}/`);
    expect(response?.status()).toBe(401);
    await stranger.close();
  });
});
