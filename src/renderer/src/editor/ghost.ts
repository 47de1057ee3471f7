/**
 * Ghost text: the selected candidate drawn at the generation's anchor as a
 * dimmed, italic widget. The anchor is kept in editor state so it follows
 * edits (the Write controller reads it back to tell whether the text before
 * it changed), the placeholder steps aside while a ghost is shown, and the
 * view keeps the anchor and the start of the ghost in sight.
 */
import { StateEffect, StateField, type EditorState, type Extension } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType, type DecorationSet, type ViewUpdate } from '@codemirror/view';

interface GhostState {
  /** Where candidates will be inserted; null when no generation is pending. */
  anchor: number | null;
  text: string | null;
}

/** Pins the anchor at a position. */
export const placeAnchor = StateEffect.define<number>();
/** Shows `text` at the anchor (null hides it; the anchor keeps following edits). */
export const showGhost = StateEffect.define<string | null>();
/** Forgets the anchor and hides the ghost. */
export const clearGhost = StateEffect.define<null>();

class GhostWidget extends WidgetType {
  readonly text: string;

  constructor(text: string) {
    super();
    this.text = text;
  }

  override eq(other: GhostWidget): boolean {
    return other.text === this.text;
  }

  toDOM(): HTMLElement {
    const span = document.createElement('span');
    span.className = 'cm-ghost';
    // The candidates list is the accessible copy of this text; reading it twice would be noise.
    span.setAttribute('aria-hidden', 'true');
    span.textContent = this.text;
    return span;
  }

  override updateDOM(dom: HTMLElement): boolean {
    dom.textContent = this.text;
    return true;
  }

  override ignoreEvent(): boolean {
    return false;
  }
}

const ghostField = StateField.define<GhostState>({
  create: () => ({ anchor: null, text: null }),
  update(value, tr) {
    let { anchor, text } = value;
    // assoc 1: text typed at the anchor goes before it, as it does at a cursor, so the text before the anchor changes.
    if (anchor !== null && tr.docChanged) anchor = tr.changes.mapPos(anchor, 1);
    for (const effect of tr.effects) {
      if (effect.is(placeAnchor)) anchor = Math.min(effect.value, tr.state.doc.length);
      else if (effect.is(showGhost)) text = effect.value;
      else if (effect.is(clearGhost)) {
        anchor = null;
        text = null;
      }
    }
    return anchor === value.anchor && text === value.text ? value : { anchor, text };
  },
  provide: (field) => [
    EditorView.decorations.from(field, (value): DecorationSet => {
      if (value.anchor === null || !value.text) return Decoration.none;
      return Decoration.set([Decoration.widget({ widget: new GhostWidget(value.text), side: 1 }).range(value.anchor)]);
    }),
    // The placeholder of an empty document would run straight into the ghost ("…the cursor.Clement…").
    EditorView.editorAttributes.compute([field], (state): Record<string, string> => (visibleGhost(state.field(field)) ? { class: 'cm-has-ghost' } : {})),
  ],
});

function visibleGhost(value: GhostState | undefined): value is { anchor: number; text: string } {
  return value !== undefined && value.anchor !== null && !!value.text;
}

/** The anchor position, or null. */
export function ghostAnchor(state: EditorState): number | null {
  return state.field(ghostField, false)?.anchor ?? null;
}

/** The ghost text shown, or null. */
export function ghostText(state: EditorState): string | null {
  return state.field(ghostField, false)?.text ?? null;
}

/** Room kept between the anchor (or the ghost's end) and the edges of the editor, in pixels. */
const viewMargin = 24;

/** Keys with which a writer moves through the text themselves. */
const navigationKeys = new Set(['PageUp', 'PageDown', 'ArrowUp', 'ArrowDown', 'Home', 'End']);

/**
 * Keeps the anchor and the start of the ghost in view while candidates stream
 * in and the panel below the editor grows (the editor shrinks from the
 * bottom, which is where the anchor is at the end of a document): the anchor
 * is kept clear of the top edge, then as much of the ghost as fits is shown.
 * It follows from the moment a ghost appears until the writer scrolls, clicks
 * or moves through the text themselves, so nobody who scrolled away to read
 * is pulled back.
 */
const keepGhostInView = ViewPlugin.fromClass(
  class {
    readonly view: EditorView;
    following = false;

    constructor(view: EditorView) {
      this.view = view;
    }

    update(update: ViewUpdate): void {
      const before = update.startState.field(ghostField, false);
      const after = update.state.field(ghostField, false);
      if (!visibleGhost(after)) {
        this.following = false;
        return;
      }
      if (!visibleGhost(before) || before.anchor !== after.anchor) this.following = true;
      if (this.following && (before?.text !== after.text || update.geometryChanged || update.viewportChanged)) this.#follow(after.anchor);
    }

    #follow(anchor: number): void {
      this.view.requestMeasure({
        key: this,
        read: (view) => ({
          scroller: view.scrollDOM.getBoundingClientRect(),
          caret: view.coordsAtPos(anchor, -1) ?? view.coordsAtPos(anchor, 1),
          ghost: view.contentDOM.querySelector('.cm-ghost')?.getBoundingClientRect() ?? null,
        }),
        write: ({ scroller, caret, ghost }, view) => {
          if (!this.following) return;
          if (!caret) {
            // The anchor's line is not rendered (outside CodeMirror's viewport), so it has no
            // coordinates to measure and nothing would scroll until some later update happened to
            // measure again: let CodeMirror bring it to the middle, where the ghost's first lines
            // (which may wrap below the caret's line) are in view too. Dispatching inside a
            // measure phase is not allowed, hence the task.
            queueMicrotask(() => {
              if (this.following) view.dispatch({ effects: EditorView.scrollIntoView(anchor, { y: 'center' }) });
            });
            return;
          }
          const top = scroller.top + viewMargin;
          const bottom = scroller.bottom - viewMargin;
          let delta = 0;
          if (caret.top < top) delta = caret.top - top;
          else {
            const end = Math.max(caret.bottom, ghost?.bottom ?? caret.bottom);
            if (end > bottom) delta = Math.min(end - bottom, caret.top - top);
            if (caret.bottom > bottom) delta = Math.max(delta, caret.bottom - bottom);
          }
          if (Math.abs(delta) >= 1) view.scrollDOM.scrollTop += delta;
        },
      });
    }
  },
  {
    eventHandlers: {
      wheel() {
        this.following = false;
      },
      touchmove() {
        this.following = false;
      },
      mousedown() {
        this.following = false;
      },
      keydown(event) {
        if (navigationKeys.has(event.key)) this.following = false;
      },
    },
  },
);

/** The extension that keeps, draws and shows the ghost. */
export function ghostTextExtension(): Extension {
  return [ghostField, keepGhostInView];
}
