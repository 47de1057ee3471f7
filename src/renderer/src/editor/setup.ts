/**
 * The editor's extensions: prose-friendly basics (history, search, line
 * wrapping, spellcheck), the accessible name "Editor", the ghost text, and
 * the Write page's keys (Ctrl/Cmd+Enter, Tab, Alt+[ / Alt+], Escape, Ctrl/Cmd+S).
 */
import { defaultKeymap, history, historyKeymap, isolateHistory } from '@codemirror/commands';
import { highlightSelectionMatches, search, searchKeymap } from '@codemirror/search';
import { EditorSelection, EditorState, Prec, Text, Transaction, type Extension } from '@codemirror/state';
import { drawSelection, EditorView, keymap, placeholder } from '@codemirror/view';
import { clearGhost, ghostTextExtension, placeAnchor, showGhost } from './ghost';

/** What the keys do; each returns whether it handled the key (else the key does its default). */
export interface WriteKeys {
  continue(): boolean;
  accept(): boolean;
  cycle(step: number): boolean;
  escape(): boolean;
  save(): boolean;
}

/** Everything an editor needs besides its text. */
export function editorExtensions(keys: WriteKeys, onChange: (text: string) => void, onCursor: (position: number) => void): Extension[] {
  return [
    history(),
    drawSelection(),
    search({ top: true }),
    highlightSelectionMatches(),
    EditorView.lineWrapping,
    placeholder('Start writing. Ctrl+Enter continues from the cursor.'),
    EditorView.contentAttributes.of({
      'aria-label': 'Editor',
      spellcheck: 'true',
      autocorrect: 'on',
      autocapitalize: 'sentences',
    }),
    ghostTextExtension(),
    proseTheme,
    Prec.highest(
      keymap.of([
        { key: 'Mod-Enter', run: () => keys.continue(), preventDefault: true },
        { key: 'Tab', run: () => keys.accept() },
        { key: 'Alt-[', run: () => keys.cycle(-1) },
        { key: 'Alt-]', run: () => keys.cycle(1) },
        { key: 'Escape', run: () => keys.escape() },
        { key: 'Mod-s', run: () => keys.save(), preventDefault: true },
      ]),
    ),
    keymap.of([...defaultKeymap, ...historyKeymap, ...searchKeymap]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) onChange(update.state.doc.toString());
      if (update.docChanged || update.selectionSet) onCursor(update.state.selection.main.head);
    }),
  ];
}

/**
 * A fresh state (new undo history) holding `text`, cursor at the end. The
 * document splits lines at "\r\n", "\r" and "\n" as CodeMirror does, so the
 * cursor goes at the end of what it holds, not past it (a Windows file's
 * "\r\n" made `text.length` point outside the document).
 */
export function createEditorState(text: string, extensions: Extension[]): EditorState {
  const doc = Text.of(text.split(/\r\n?|\n/));
  return EditorState.create({ doc, selection: EditorSelection.cursor(doc.length), extensions });
}

/** Pins the ghost anchor at `at`. */
export function setGhostAnchor(view: EditorView, at: number): void {
  view.dispatch({ effects: placeAnchor.of(at) });
}

/** Shows (or hides, with null) the ghost text at the anchor. */
export function setGhostText(view: EditorView, text: string | null): void {
  view.dispatch({ effects: showGhost.of(text) });
}

/**
 * Inserts at `at` as its own undo step (isolateHistory keeps it from merging
 * with typing before or after), cursor after it, ghost cleared.
 */
export function insertAsOneStep(view: EditorView, at: number, text: string): void {
  view.dispatch({
    changes: { from: at, insert: text },
    selection: EditorSelection.cursor(at + text.length),
    effects: clearGhost.of(null),
    annotations: [isolateHistory.of('full'), Transaction.userEvent.of('input.complete')],
    scrollIntoView: true,
  });
}

/** Colours and type come from the app's CSS variables, so the editor follows the theme. */
export const proseTheme = EditorView.theme({
  '&': { height: '100%', color: 'var(--text)', backgroundColor: 'transparent', fontSize: '1.08rem' },
  '&.cm-focused': { outline: 'none' },
  '.cm-scroller': { fontFamily: 'var(--font-prose)', lineHeight: '1.75', overflow: 'auto' },
  '.cm-content': { maxWidth: '70ch', margin: '0 auto', padding: '2.25rem 2rem 30vh', caretColor: 'var(--accent)' },
  '.cm-line': { padding: '0' },
  '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--accent)', borderLeftWidth: '2px' },
  '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground': { backgroundColor: 'var(--selection)' },
  '.cm-placeholder': { color: 'var(--text-faint)', fontStyle: 'italic' },
  '&.cm-has-ghost .cm-placeholder': { display: 'none' },
  '.cm-ghost': { color: 'var(--ghost)', fontStyle: 'italic', whiteSpace: 'pre-wrap', opacity: '0.95' },
  '.cm-selectionMatch': { backgroundColor: 'var(--accent-soft)' },
  '.cm-panels': { backgroundColor: 'var(--surface-2)', color: 'var(--text)', fontFamily: 'var(--font-ui)', fontSize: '0.85rem' },
  '.cm-panels.cm-panels-top': { borderBottom: '1px solid var(--border)' },
  '.cm-panel.cm-search input, .cm-panel.cm-search button': { fontFamily: 'var(--font-ui)', fontSize: '0.85rem' },
  '.cm-searchMatch': { backgroundColor: 'var(--warning-soft)', outline: '1px solid var(--warning)' },
});
