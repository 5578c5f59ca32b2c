import { forwardRef, useEffect, useImperativeHandle, useLayoutEffect, useRef } from 'react';
import { normalizeSegments, type Segment } from '../../state/composer';
import type { TagKind } from '../../tags/tag';
import { TAG_MIME } from '../common/TagChip';

export interface PromptEditorHandle {
  /** Inserts a tag chip at the caret (or the last caret position in this editor, else at the end). */
  insertTag(name: string): void;
  focus(): void;
}

interface Props {
  id: string;
  label: string;
  segments: Segment[];
  onChange(segs: Segment[]): void;
  kinds: ReadonlyMap<string, TagKind>;
  onSubmit?(): void;
  onFocus?(): void;
  disabled?: boolean;
  testId?: string;
}

function chipNode(name: string, kind: TagKind | 'unknown'): HTMLElement {
  const span = document.createElement('span');
  span.className = `tagchip tagchip-${kind} tagchip-inline`;
  span.contentEditable = 'false';
  span.dataset.tag = name;
  span.title = `${kind} tag <${name}> (Backspace removes it)`;
  span.textContent = `‹${name}›`;
  return span;
}

/** Chrome cannot put a caret after a non-editable chip that ends a line: a zero-width space follows it (never read back). */
const ZWSP = '\u200b';

/** The outermost chip that contains `node` inside `root`, if any. */
function chipAround(node: Node | null, root: HTMLElement): HTMLElement | null {
  let found: HTMLElement | null = null;
  for (let n: Node | null = node; n && n !== root; n = n.parentNode) {
    if (n instanceof HTMLElement && n.dataset.tag) found = n;
  }
  return found;
}

/**
 * A caret position that is not inside a chip: a position inside one (Chrome puts the caret in a
 * trailing chip's text on a click after it) moves to just after the chip, so insertion and typing
 * land between chips and a chip is never nested in another.
 */
export function outsideChips(range: Range, root: HTMLElement): Range {
  const chip = chipAround(range.startContainer, root) ?? chipAround(range.endContainer, root);
  if (!chip) return range;
  const r = document.createRange();
  r.setStartAfter(chip);
  r.collapse(true);
  return r;
}

/** Reads the editor's DOM back into segments: text nodes, chips, line breaks. Chips are atomic: their label is not text. */
function readDom(root: HTMLElement): Segment[] {
  const segs: Segment[] = [];
  const walk = (node: Node) => {
    node.childNodes.forEach((child) => {
      if (child.nodeType === Node.TEXT_NODE) {
        segs.push({ kind: 'text', text: (child.nodeValue ?? '').replaceAll(ZWSP, '') });
      } else if (child instanceof HTMLElement) {
        if (child.dataset.tag) {
          segs.push({ kind: 'tag', name: child.dataset.tag });
          // A chip that ended up inside another (never built by us) is still a chip of the prompt.
          child.querySelectorAll<HTMLElement>('[data-tag]').forEach((inner) => segs.push({ kind: 'tag', name: inner.dataset.tag! }));
        } else if (child.tagName === 'BR') {
          // Chrome keeps a trailing <br> so an empty last line shows; it is not text.
          if (!(node === root && onlySpacersAfter(child))) segs.push({ kind: 'text', text: '\n' });
        } else if (child.tagName === 'DIV' || child.tagName === 'P') {
          if (segs.length) segs.push({ kind: 'text', text: '\n' });
          walk(child);
        } else walk(child);
      }
    });
  };
  walk(root);
  return normalizeSegments(segs);
}

/** Nothing but empty or zero-width-space text follows `node` among its siblings. */
function onlySpacersAfter(node: Node): boolean {
  for (let n = node.nextSibling; n; n = n.nextSibling) {
    if (n.nodeType !== Node.TEXT_NODE || (n.nodeValue ?? '').replaceAll(ZWSP, '') !== '') return false;
  }
  return true;
}

/** The DOM of a prompt: text, <br> for newlines, one non-editable chip per tag. */
function renderInto(root: HTMLElement, segments: readonly Segment[], kinds: ReadonlyMap<string, TagKind>): void {
  const nodes: Node[] = [];
  for (const s of segments) {
    if (s.kind === 'tag') nodes.push(chipNode(s.name, kinds.get(s.name) ?? 'unknown'));
    else {
      const lines = s.text.split('\n');
      lines.forEach((line, i) => {
        if (i > 0) nodes.push(document.createElement('br'));
        if (line) nodes.push(document.createTextNode(line));
      });
    }
  }
  root.replaceChildren(...nodes);
  padChips(root);
}

/**
 * The chip right before (Backspace) or after (Delete) a collapsed caret, looking past the
 * zero-width spacers, so one key press removes a whole chip.
 */
function chipBesideCaret(range: Range, root: HTMLElement, backwards: boolean): HTMLElement | null {
  let node: Node | null;
  const c = range.startContainer;
  if (c.nodeType === Node.TEXT_NODE) {
    const text = c.nodeValue ?? '';
    const side = backwards ? text.slice(0, range.startOffset) : text.slice(range.startOffset);
    if (side.replaceAll(ZWSP, '') !== '') return null;
    node = backwards ? c.previousSibling : c.nextSibling;
  } else if (c === root) {
    node = backwards ? (root.childNodes[range.startOffset - 1] ?? null) : (root.childNodes[range.startOffset] ?? null);
  } else return null;
  while (node && node.nodeType === Node.TEXT_NODE && (node.nodeValue ?? '').replaceAll(ZWSP, '') === '') node = backwards ? node.previousSibling : node.nextSibling;
  return node instanceof HTMLElement && node.dataset.tag ? node : null;
}

function placeCaretAtEnd(root: HTMLElement): void {
  const sel = document.getSelection();
  if (!sel || document.activeElement !== root) return;
  const r = document.createRange();
  r.selectNodeContents(root);
  r.collapse(false);
  sel.removeAllRanges();
  sel.addRange(r);
}

/** A zero-width space after every chip not followed by text, so the caret has a place between and after chips. */
function padChips(root: HTMLElement): void {
  root.querySelectorAll<HTMLElement>('[data-tag]').forEach((chip) => {
    if (chip.parentNode !== root) return;
    const next = chip.nextSibling;
    if (!next || next.nodeType !== Node.TEXT_NODE) chip.after(document.createTextNode(ZWSP));
    // An empty text node left after deleting the text that followed a chip is no place for a caret either.
    else if (next.nodeValue === '') next.nodeValue = ZWSP;
  });
}

/**
 * A prompt editor where tags are chips among the text: drag a chip from the palette onto it (it lands
 * where it is dropped), or insert one at the caret from the keyboard (palette chip + Enter).
 * Enter inserts a newline; Ctrl+Enter submits.
 */
export const PromptEditor = forwardRef<PromptEditorHandle, Props>(function PromptEditor(
  { id, label, segments, onChange, kinds, onSubmit, onFocus, disabled, testId },
  ref,
) {
  const el = useRef<HTMLDivElement>(null);
  const emitted = useRef<string>('');
  const saved = useRef<Range | null>(null);
  const kindsRef = useRef(kinds);
  kindsRef.current = kinds;

  // Outside changes (clear, another panel) rebuild the DOM; our own edits do not.
  useLayoutEffect(() => {
    const root = el.current;
    if (!root) return;
    const json = JSON.stringify(segments);
    if (json === emitted.current) return;
    emitted.current = json;
    renderInto(root, segments, kindsRef.current);
  }, [segments]);

  // Chip colours follow the library (a tag renamed/deleted elsewhere).
  useEffect(() => {
    el.current?.querySelectorAll<HTMLElement>('[data-tag]').forEach((c) => {
      c.className = `tagchip tagchip-${kinds.get(c.dataset.tag!) ?? 'unknown'} tagchip-inline`;
    });
  }, [kinds]);

  /** Keeps the caret (out of any chip) as where the next palette insertion lands. */
  const rememberCaret = () => {
    const sel = document.getSelection();
    const root = el.current;
    if (!root || !sel || !sel.rangeCount || !root.contains(sel.anchorNode)) return;
    const r = sel.getRangeAt(0);
    if (r.collapsed) {
      const out = outsideChips(r, root);
      if (out !== r) {
        // Typing, Backspace and Delete work from here; inside the chip they do nothing.
        sel.removeAllRanges();
        sel.addRange(out);
      }
      saved.current = out.cloneRange();
    } else saved.current = r.cloneRange();
  };

  useEffect(() => {
    // selectionchange is queued and coalesced: on a busy page the last one can arrive after focus has
    // left the editor, so blur (below) records the caret too.
    document.addEventListener('selectionchange', rememberCaret);
    return () => document.removeEventListener('selectionchange', rememberCaret);
  }, []);

  const emit = () => {
    const root = el.current;
    if (!root) return;
    const segs = readDom(root);
    // What is shown is what is sent: a DOM that does not read back as it renders (a nested chip,
    // a chip's label edited) is rebuilt from the segments.
    if (root.querySelector('[data-tag] [data-tag]') || [...root.querySelectorAll<HTMLElement>('[data-tag]')].some((c) => c.textContent !== `‹${c.dataset.tag}›`)) {
      renderInto(root, segs, kindsRef.current);
      placeCaretAtEnd(root);
    } else padChips(root);
    emitted.current = JSON.stringify(segs);
    onChange(segs);
  };

  const insertAt = (name: string, range: Range | null) => {
    const root = el.current;
    if (!root) return;
    let r = range && root.contains(range.startContainer) ? outsideChips(range, root) : null;
    if (!r) {
      r = document.createRange();
      r.selectNodeContents(root);
      r.collapse(false);
      // Not after Chrome's trailing <br>.
      const last = root.lastChild;
      if (last instanceof HTMLElement && last.tagName === 'BR') r.setStartBefore(last);
    }
    r.deleteContents();
    const chip = chipNode(name, kindsRef.current.get(name) ?? 'unknown');
    r.insertNode(chip);
    if (!chip.nextSibling || chip.nextSibling.nodeType !== Node.TEXT_NODE) chip.after(document.createTextNode(ZWSP));
    const after = document.createRange();
    after.setStartAfter(chip);
    after.collapse(true);
    const sel = document.getSelection();
    if (sel && document.activeElement === root) {
      sel.removeAllRanges();
      sel.addRange(after);
    }
    saved.current = after;
    emit();
  };

  useImperativeHandle(ref, () => ({
    insertTag: (name) => insertAt(name, saved.current),
    focus: () => el.current?.focus(),
  }));

  return (
    <div
      ref={el}
      id={id}
      className={`prompt-editor${disabled ? ' disabled' : ''}`}
      contentEditable={!disabled}
      suppressContentEditableWarning
      role="textbox"
      aria-multiline="true"
      aria-label={label}
      spellCheck={false}
      data-testid={testId}
      onInput={emit}
      onFocus={onFocus}
      onBlur={rememberCaret}
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          onSubmit?.();
        } else if (e.key === 'Enter') {
          e.preventDefault();
          document.execCommand('insertLineBreak');
        } else if ((e.key === 'a' || e.key === 'A') && (e.ctrlKey || e.metaKey) && el.current) {
          // Select the prompt, whatever node the caret is in (Chrome's own select-all can stall next to a non-editable chip).
          e.preventDefault();
          const sel = document.getSelection();
          const all = document.createRange();
          all.selectNodeContents(el.current);
          sel?.removeAllRanges();
          sel?.addRange(all);
        } else if ((e.key === 'Backspace' || e.key === 'Delete') && el.current) {
          const sel = document.getSelection();
          if (!sel?.rangeCount) return;
          if (!sel.isCollapsed) {
            // A selection (Ctrl+A, a drag) goes as a whole, chips included.
            const r = sel.getRangeAt(0);
            if (!el.current.contains(r.commonAncestorContainer)) return;
            e.preventDefault();
            r.deleteContents();
            r.collapse(true);
            emit();
            return;
          }
          const chip = chipBesideCaret(sel.getRangeAt(0), el.current, e.key === 'Backspace');
          if (!chip) return;
          e.preventDefault();
          const at = document.createRange();
          at.setStartBefore(chip);
          at.collapse(true);
          const next = chip.nextSibling;
          if (next?.nodeType === Node.TEXT_NODE && next.nodeValue === ZWSP) next.remove();
          chip.remove();
          sel.removeAllRanges();
          sel.addRange(at);
          emit();
        }
      }}
      onPaste={(e) => {
        e.preventDefault();
        document.execCommand('insertText', false, e.clipboardData.getData('text/plain'));
      }}
      onDragOver={(e) => {
        if (e.dataTransfer.types.includes(TAG_MIME)) {
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
        }
      }}
      onDrop={(e) => {
        const name = e.dataTransfer.getData(TAG_MIME);
        if (!name) return;
        e.preventDefault();
        const range = document.caretRangeFromPoint?.(e.clientX, e.clientY) ?? null;
        insertAt(name, range);
      }}
    />
  );
});
