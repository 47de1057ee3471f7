/**
 * Entry of the inspect worker thread (bundled as inspect-worker.js next to the main bundle).
 */
import { parentPort } from 'node:worker_threads';
import { serveInspect } from './inspect-host';

if (!parentPort) throw new Error('inspect-worker must run as a worker thread');
serveInspect(parentPort);
