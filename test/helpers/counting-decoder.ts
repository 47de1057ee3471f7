/**
 * A decoder session wrapped so that every decode step of its batches is recorded (the rows it
 * fed): how tests see that concurrent generations share decoder steps (issue 12).
 */
import type { DecoderBatch, DecoderSession } from '../../src/main/engine/runtime';

/** Wraps `session`; each decode step pushes its row count onto `steps`. */
export function countingDecoder(session: DecoderSession, steps: number[]): DecoderSession {
  return {
    device: session.device,
    config: session.config,
    step: (input) => session.step(input),
    logitsAll: (ids) => session.logitsAll(ids),
    release: () => session.release(),
    createBatch(): DecoderBatch {
      const batch = session.createBatch();
      return {
        get rows() {
          return batch.rows;
        },
        get kvBytes() {
          return batch.kvBytes;
        },
        lengthOf: (row) => batch.lengthOf(row),
        prefill: (tokens, copies) => batch.prefill(tokens, copies),
        decode: (rows, tokens) => {
          steps.push(rows.length);
          return batch.decode(rows, tokens);
        },
        extend: (row, tokens) => batch.extend(row, tokens),
        truncate: (row, length) => batch.truncate(row, length),
        remove: (rows) => batch.remove(rows),
        dispose: () => batch.dispose(),
      };
    },
  };
}
