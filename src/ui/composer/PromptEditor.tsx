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

/** Reads the editor's DOM back into segments: text nodes, chips, line breaks. */
function readDom(root: HTMLElement): Segment[] {
  const segs: Segment[] = [];
  const walk = (node: Node) => {
    node.childNodes.forEach((child, i) => {
      if (child.nodeType === Node.TEXT_NODE) {
        segs.push({ kind: 'text', text: (child.nodeValue ?? '').replace(/\u200b/g, '') });
      } else if (child instanceof HTMLElement) {
        if (child.dataset.tag) segs.push({ kind: 'tag', name: child.dataset.tag });
        else if (child.tagName === 'BR') {
          // Chrome keeps a trailing <br> so an empty last line shows; it is not text.
          if (!(i === node.childNodes.length - 1 && node === root)) segs.push({ kind: 'text', text: '\n' });
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
    const nodes: Node[] = [];
    for (const s of segments) {
      if (s.kind === 'tag') nodes.push(chipNode(s.name, kindsRef.current.get(s.name) ?? 'unknown'));
      else {
        const lines = s.text.split('\n');
        lines.forEach((line, i) => {
          if (i > 0) nodes.push(document.createElement('br'));
          if (line) nodes.push(document.createTextNode(line));
        });
      }
    }
    root.replaceChildren(...nodes);
  }, [segments]);

  // Chip colours follow the library (a tag renamed/deleted elsewhere).
  useEffect(() => {
    el.current?.querySelectorAll<HTMLElement>('[data-tag]').forEach((c) => {
      c.className = `tagchip tagchip-${kinds.get(c.dataset.tag!) ?? 'unknown'} tagchip-inline`;
    });
  }, [kinds]);

  useEffect(() => {
    const onSel = () => {
      const sel = document.getSelection();
      if (sel && sel.rangeCount && el.current?.contains(sel.anchorNode)) saved.current = sel.getRangeAt(0).cloneRange();
    };
    document.addEventListener('selectionchange', onSel);
    return () => document.removeEventListener('selectionchange', onSel);
  }, []);

  const emit = () => {
    const root = el.current;
    if (!root) return;
    const segs = readDom(root);
    emitted.current = JSON.stringify(segs);
    onChange(segs);
  };

  const insertAt = (name: string, range: Range | null) => {
    const root = el.current;
    if (!root) return;
    let r = range && root.contains(range.startContainer) ? range : null;
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
      onKeyDown={(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          onSubmit?.();
        } else if (e.key === 'Enter') {
          e.preventDefault();
          document.execCommand('insertLineBreak');
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
