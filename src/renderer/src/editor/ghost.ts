/**
 * Ghost text: the selected candidate drawn at the generation's anchor as a
 * dimmed, italic widget. The anchor is kept in editor state so it follows
 * edits made while candidates stream in.
 */
import { StateEffect, StateField, type EditorState, type Extension } from '@codemirror/state';
import { Decoration, EditorView, WidgetType, type DecorationSet } from '@codemirror/view';

interface GhostState {
  /** Where candidates will be inserted; null when no generation is pending. */
  anchor: number | null;
  text: string | null;
}

/** Pins the anchor at a position. */
export const placeAnchor = StateEffect.define<number>();
/** Shows `text` at the anchor (null hides it). */
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
    // assoc 1: text typed at the anchor goes before the ghost, as it does at a cursor.
    if (anchor !== null && tr.docChanged) anchor = tr.changes.mapPos(anchor, 1);
    for (const effect of tr.effects) {
      if (effect.is(placeAnchor)) anchor = effect.value;
      else if (effect.is(showGhost)) text = effect.value;
      else if (effect.is(clearGhost)) {
        anchor = null;
        text = null;
      }
    }
    return anchor === value.anchor && text === value.text ? value : { anchor, text };
  },
  provide: (field) =>
    EditorView.decorations.from(field, (value): DecorationSet => {
      if (value.anchor === null || !value.text) return Decoration.none;
      return Decoration.set([Decoration.widget({ widget: new GhostWidget(value.text), side: 1 }).range(value.anchor)]);
    }),
});

/** The anchor position, or null. */
export function ghostAnchor(state: EditorState): number | null {
  return state.field(ghostField, false)?.anchor ?? null;
}

/** The ghost text shown, or null. */
export function ghostText(state: EditorState): string | null {
  return state.field(ghostField, false)?.text ?? null;
}

/** The extension that keeps and draws the ghost. */
export function ghostTextExtension(): Extension {
  return ghostField;
}
