/**
 * Entry of the decoder worker thread (bundled as decoder-worker.js next to the main bundle).
 */
import { parentPort } from 'node:worker_threads';
import { serveDecoder } from './decoder-host';

if (!parentPort) throw new Error('decoder-worker must run as a worker thread');
serveDecoder(parentPort);
