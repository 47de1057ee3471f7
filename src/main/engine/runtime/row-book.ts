/**
 * Bookkeeping of a batch of rows: which row ids exist, in which order the batch holds them, and
 * how many cache positions each holds. Kept identically on both sides of the decoder worker
 * thread, so that requests that get no reply (remove, truncate) are checked before they are sent.
 */
import { paddedHeadSize } from '../onnx/gpt2';
import { EngineError } from '../types';

/** Bytes one cache position of one row takes: keys and values of every layer (heads padded as the graph pads them), float32. */
export function kvBytesPerPosition(config: { nLayer: number; nHead: number; nEmbd: number }): number {
  return 2 * config.nLayer * config.nHead * paddedHeadSize(config) * 4;
}

/** A row moved from one slot to another when rows are removed; `length` positions are to be copied. */
export interface RowMove {
  readonly from: number;
  readonly to: number;
  readonly length: number;
}

/** Row ids in batch order and the cache length of each. */
export class RowBook {
  readonly #order: number[] = [];
  readonly #lengths = new Map<number, number>();
  #nextId = 1;

  /** Row ids in the order the batch holds (and decodes) them. */
  get rows(): readonly number[] {
    return this.#order;
  }

  /** How many rows the batch holds. */
  get size(): number {
    return this.#order.length;
  }

  /** Cache positions held by `row`. */
  lengthOf(row: number): number {
    const length = this.#lengths.get(row);
    if (length === undefined) throw new EngineError('internal', `row ${row} is not in this batch`);
    return length;
  }

  /** Slot (batch index) of `row`. */
  slotOf(row: number): number {
    const slot = this.#order.indexOf(row);
    if (slot < 0) throw new EngineError('internal', `row ${row} is not in this batch`);
    return slot;
  }

  /** The longest row's length (0 for an empty batch). */
  maxLength(): number {
    let max = 0;
    for (const length of this.#lengths.values()) max = Math.max(max, length);
    return max;
  }

  /** Appends `count` new rows of `length` positions at the end of the batch; returns their ids. */
  add(count: number, length: number): number[] {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const id = this.#nextId++;
      this.#order.push(id);
      this.#lengths.set(id, length);
      ids.push(id);
    }
    return ids;
  }

  /** Sets the length of `row` (growing after a step, shrinking when drafted tokens are rejected). */
  setLength(row: number, length: number): void {
    this.lengthOf(row);
    this.#lengths.set(row, length);
  }

  /**
   * Removes rows; each freed slot is filled by the batch's current last row, so the remaining rows
   * stay in slots 0..size-1. Returns the moves made, in the order they must be applied.
   */
  remove(rows: readonly number[]): RowMove[] {
    for (const row of rows) this.lengthOf(row);
    const moves: RowMove[] = [];
    for (const row of new Set(rows)) {
      const slot = this.slotOf(row);
      const last = this.#order.length - 1;
      if (slot !== last) {
        const moved = this.#order[last] as number;
        this.#order[slot] = moved;
        moves.push({ from: last, to: slot, length: this.lengthOf(moved) });
      }
      this.#order.pop();
      this.#lengths.delete(row);
    }
    return moves;
  }

  /** Checks that `rows` names every row of the batch exactly once; returns their slots. */
  slotsOfAll(rows: readonly number[]): number[] {
    if (rows.length !== this.#order.length) {
      throw new EngineError('internal', `a decode step takes every row of the batch: ${rows.length} given, the batch holds ${this.#order.length}`);
    }
    const slots = rows.map((row) => this.slotOf(row));
    if (new Set(slots).size !== slots.length) throw new EngineError('internal', 'a decode step names a row twice');
    return slots;
  }
}
