/** Renderer entry: picks the API (the mock with ?mock=1), mounts the app. */
import { mount } from 'svelte';
import type { InkwellApi } from '../../shared/api';
import App from './App.svelte';
import { getApi } from './api';
import { pageFromHash } from './lib/route';
import './app.css';
import { AppState } from './state/app.svelte';

async function chooseApi(): Promise<InkwellApi> {
  // The mock lives in its own chunk: production sessions never load it.
  if (new URLSearchParams(location.search).get('mock') === '1') {
    const { createMockApi } = await import('./api/mock');
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
