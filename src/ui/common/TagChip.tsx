import type { DragEvent, KeyboardEvent } from 'react';
import type { TagKind } from '../../tags/tag';

export const TAG_MIME = 'application/x-workbench-tag';

interface Props {
  name: string;
  kind: TagKind | 'unknown';
  /** Palette chips: draggable into prompt editors; Enter/Space/click inserts. */
  onInsert?: (name: string) => void;
  draggable?: boolean;
  title?: string;
  small?: boolean;
  /** Extra mark after the name (e.g. "ƒ" for a head). */
  badge?: string;
}

/** A tag shown as a chip, colour-coded: domain tags teal, function tags violet. */
export function TagChip({ name, kind, onInsert, draggable, title, small, badge }: Props) {
  const cls = `tagchip tagchip-${kind}${small ? ' tagchip-small' : ''}${onInsert ? ' tagchip-action' : ''}`;
  const onDragStart = (e: DragEvent) => {
    e.dataTransfer.setData(TAG_MIME, name);
    e.dataTransfer.setData('text/plain', `<${name}>`);
    e.dataTransfer.effectAllowed = 'copy';
  };
  const content = (
    <>
      <span className="tagchip-bracket" aria-hidden="true">
        ‹
      </span>
      {name}
      <span className="tagchip-bracket" aria-hidden="true">
        ›
      </span>
      {badge && <span className="tagchip-badge">{badge}</span>}
    </>
  );
  if (onInsert) {
    return (
      <button
        type="button"
        className={cls}
        draggable={draggable}
        onDragStart={draggable ? onDragStart : undefined}
        onClick={() => onInsert(name)}
        onKeyDown={(e: KeyboardEvent) => {
          if (e.key === 'Enter' || e.key === ' ') {
            e.preventDefault();
            onInsert(name);
          }
        }}
        title={title ?? `${kind} tag <${name}>: drag into a prompt, or press Enter to insert it at the cursor`}
        data-tag={name}
        data-testid={`palette-tag-${name}`}
      >
        {content}
      </button>
    );
  }
  return (
    <span className={cls} title={title ?? `${kind} tag <${name}>`} data-tag={name} draggable={draggable} onDragStart={draggable ? onDragStart : undefined}>
      {content}
    </span>
  );
}
