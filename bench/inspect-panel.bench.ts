/**
 * `npm run bench:inspect-panel`: the Inspect panel in headless Chromium against `inkwell serve`, at
 * GPT-2 Large's attention shape (36 layers × 20 heads) over the full 1024-token window. The model
 * is random with a narrow residual stream (d 80), so the pass itself is cheap and what is measured
 * is the panel's part: bytes sent per view, time from opening the head view to its first frame,
 * switching layer, the hover redraw, and the model view. The engine's pass on the real GPT-2 Large
 * shape is `npm run bench:inspect`. Needs `npm run build` first and Chromium (as the e2e suites).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { it } from 'vitest';
import { browserUnavailableReason, launchChromium } from '../test/e2e/helpers/browser';
import { assertBuilt, startServe } from '../test/e2e/helpers/serve-process';
import { createWorkspace } from '../test/e2e/helpers/workspace';
import { describeMachine } from './machine';
import { median } from './report';

const REPS = Number(process.env['INKWELL_BENCH_REPS'] ?? '5');
const TOKENS = 1024;

/** Milliseconds from `act` until `done` holds and the browser has drawn the next frame. */
async function timeUntil(page: Page, act: () => Promise<void>, done: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  await act();
  while (!(await done())) await new Promise((r) => setTimeout(r, 5));
  await page.evaluate(() => new Promise((r) => (globalThis as unknown as { requestAnimationFrame(cb: () => void): void }).requestAnimationFrame(() => r(null))));
  return Date.now() - start;
}

async function main(): Promise<void> {
  const unavailable = browserUnavailableReason();
  if (unavailable) throw new Error(unavailable);
  assertBuilt();
  const workspace = await createWorkspace([{ id: 'wide', checkpoint: { nLayer: 36, nEmbd: 80, nHead: 20, nPositions: TOKENS, seed: 3 } }]);
  const server = await startServe(workspace.home);
  const browser = await launchChromium();
  const profile = mkdtempSync(join(tmpdir(), 'inkwell-panel-bench-'));
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 960 } });
    const page = await context.newPage();
    const bytes = new Map<string, number[]>();
    page.on('response', (response) => {
      const method = /\/api\/call\/(inspect\.[a-z]+)/i.exec(response.url())?.[1];
      const length = Number(response.headers()['content-length'] ?? 'NaN');
      if (method) bytes.set(method, [...(bytes.get(method) ?? []), length]);
    });
    await page.goto(server.url);
    await page.getByRole('link', { name: 'Inspect' }).click();
    await page.getByRole('radio', { name: 'Custom text' }).check();
    // More than the window: the panel inspects the last 1024 tokens.
    const text = Array.from({ length: TOKENS + 40 }, (_, i) => ` w${i % 97}`).join('');
    await page.getByRole('textbox', { name: 'Text to inspect' }).fill(text);
    const status = page.getByRole('status', { name: 'Inspect status' });
    const headView = page.getByRole('img', { name: /^Head view/ });

    const firstView = await timeUntil(
      page,
      () => page.getByRole('tab', { name: 'Head view' }).click(),
      async () => (await headView.count()) > 0,
    );
    const statusText = (await status.textContent()) ?? '';

    const layerSwitch: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const layer = 1 + rep;
      layerSwitch.push(
        await timeUntil(
          page,
          () => page.getByRole('combobox', { name: 'Layer' }).selectOption({ value: String(layer) }).then(() => {}),
          async () => ((await headView.getAttribute('aria-label')) ?? '').startsWith(`Head view: layer ${layer + 1},`),
        ),
      );
    }

    await page.getByRole('button', { name: 'All heads' }).click();
    await page.evaluate(() => new Promise((r) => (globalThis as unknown as { requestAnimationFrame(cb: () => void): void }).requestAnimationFrame(() => r(null))));
    // Hover redraw, all 20 heads shown: one mousemove onto a new row until the next frame.
    const canvas = headView.locator('canvas');
    await canvas.scrollIntoViewIfNeeded();
    const hover: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const row = 5 + rep * 3;
      hover.push(
        await timeUntil(
          page,
          () => canvas.hover({ position: { x: 60, y: 8 + row * 18 + 9 } }),
          async () => ((await page.getByRole('status', { name: 'Focused token' }).textContent()) ?? '').includes(`(#${row})`),
        ),
      );
    }
    const unfocused: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      unfocused.push(
        await timeUntil(
          page,
          async () => {
            await page.mouse.move(1400, 900);
            await page.getByRole('combobox', { name: 'Layer' }).selectOption({ value: String(rep % 2 === 0 ? 0 : 1) });
          },
          async () => ((await headView.getAttribute('aria-label')) ?? '').startsWith(`Head view: layer ${(rep % 2 === 0 ? 0 : 1) + 1}, 20 heads`),
        ),
      );
    }

    const modelView = await timeUntil(
      page,
      () => page.getByRole('tab', { name: 'Model view' }).click(),
      async () => (await page.getByRole('img', { name: /^Model view/ }).count()) > 0,
    );

    const result = {
      bench: 'inspect-panel',
      machine: describeMachine(),
      shape: { layers: 36, heads: 20, nEmbd: 80, tokens: TOKENS },
      status: statusText,
      ms: {
        firstHeadView: firstView,
        layerSwitchMedian: median(layerSwitch),
        hoverRedrawMedianAllHeads: median(hover),
        layerSwitchAllHeadsMedian: median(unfocused),
        modelViewFirst: modelView,
      },
      runs: { layerSwitch, hover, unfocused },
      bytes: Object.fromEntries([...bytes].map(([method, sizes]) => [method, sizes[0]])),
    };
    console.log(JSON.stringify(result, null, 2));
    await context.close();
  } finally {
    await browser.close();
    await server.stop();
    workspace.remove();
    rmSync(profile, { recursive: true, force: true });
  }
}

it('Inspect panel at GPT-2 Large attention shape × 1024 tokens', main);
