/**
 * A stand-in for the CodeMirror component (EditorPort): plain text, a
 * cursor, a ghost anchor that follows edits as CodeMirror maps it (assoc 1:
 * text typed at the anchor goes before it), and undo/redo. Every change is
 * reported to `onChange`, as the editor's update listener reports it.
 */
import type { EditorPort } from '../../../src/renderer/src/state/write.svelte';

interface Change {
  from: number;
  to: number;
  insert: string;
}

export class FakeEditor implements EditorPort {
  text = '';
  cursor = 0;
  /** Receives the whole text after each change (wire it to WriteSession.editText). */
  onChange: (text: string) => void = () => {};
  readonly undoStack: string[] = [];
  readonly redoStack: string[] = [];
  #anchor: number | null = null;

  load(text: string): void {
    this.text = text;
    this.cursor = text.length;
    this.#anchor = null;
    this.undoStack.length = 0;
    this.redoStack.length = 0;
  }
  snapshot(): { text: string; cursor: number } {
    return { text: this.text, cursor: this.cursor };
  }
  placeAnchor(at: number): void {
    this.#anchor = at;
  }
  anchor(): number | null {
    return this.#anchor;
  }
  insert(at: number, text: string): void {
    this.#edit({ from: at, to: at, insert: text });
    this.cursor = at + text.length;
    this.#anchor = null;
    this.onChange(this.text);
  }
  focus(): void {}

  /** Moves the cursor. */
  moveTo(position: number): void {
    this.cursor = position;
  }
  /** Types at the cursor. */
  type(text: string): void {
    const at = this.cursor;
    this.#edit({ from: at, to: at, insert: text });
    this.cursor = at + text.length;
    this.onChange(this.text);
  }
  /** Deletes the character before the cursor. */
  backspace(): void {
    const at = this.cursor;
    if (at === 0) return;
    this.#edit({ from: at - 1, to: at, insert: '' });
    this.cursor = at - 1;
    this.onChange(this.text);
  }
  /** Ctrl+Z: back to the text before the last change. */
  undo(): void {
    const previous = this.undoStack.pop();
    if (previous === undefined) return;
    this.redoStack.push(this.text);
    this.#replace(previous);
    this.onChange(this.text);
  }
  /** Ctrl+Shift+Z. */
  redo(): void {
    const next = this.redoStack.pop();
    if (next === undefined) return;
    this.undoStack.push(this.text);
    this.#replace(next);
    this.onChange(this.text);
  }

  #edit(change: Change): void {
    this.undoStack.push(this.text);
    this.redoStack.length = 0;
    this.#apply(change);
  }

  /** Undo and redo swap whole texts: the change is what differs between them. */
  #replace(next: string): void {
    const previous = this.text;
    let from = 0;
    while (from < previous.length && from < next.length && previous[from] === next[from]) from += 1;
    let tail = 0;
    while (tail < previous.length - from && tail < next.length - from && previous[previous.length - 1 - tail] === next[next.length - 1 - tail]) tail += 1;
    this.#apply({ from, to: previous.length - tail, insert: next.slice(from, next.length - tail) });
  }

  /** Applies one change, mapping the anchor through it as CodeMirror's mapPos(pos, 1) does. */
  #apply({ from, to, insert }: Change): void {
    const anchor = this.#anchor;
    if (anchor !== null) this.#anchor = anchor < from ? anchor : anchor > to ? anchor + insert.length - (to - from) : from + insert.length;
    this.text = this.text.slice(0, from) + insert + this.text.slice(to);
    this.cursor = Math.min(this.cursor, this.text.length);
  }
}
