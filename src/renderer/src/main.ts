/** Renderer entry: picks the API (the demo back end with ?mock=1 in dev and demo builds), mounts the app. */
import { mount } from 'svelte';
import App from './App.svelte';
import { getApi } from './api';
import type { ClientApi } from './api/client';
import { pageFromHash } from './lib/route';
import './app.css';
import { AppState } from './state/app.svelte';

async function chooseApi(): Promise<ClientApi> {
  // Vite replaces both flags with constants, so a production build drops this branch and never contains the demo back end.
  const demoAllowed = import.meta.env.DEV || import.meta.env.MODE === 'demo';
  if (demoAllowed && new URLSearchParams(location.search).get('mock') === '1') {
    const { createMockApi } = await import('./demo/mock-api');
    return createMockApi({ sampleData: true });
  }
  return getApi();
}

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
const app = new AppState(await chooseApi());
app.showPage(pageFromHash(location.hash) ?? 'write');
mount(App, { target, props: { app } });
void app.start();
