import { useId, useRef, useState, type ReactNode } from 'react';
import { droppedFiles, entriesOf, hasFolder, type DroppedFile } from './dropped-entries';

interface Props {
  label: string;
  accept?: string;
  onFiles(files: File[]): void;
  disabled?: boolean;
  multiple?: boolean;
  /** The picker chooses a folder (all its files, with webkitRelativePath). */
  directory?: boolean;
  /**
   * A drop that holds a folder: every file under it (walked recursively; sizes known, nothing read),
   * paths as a folder picker gives them. Without this, a dropped folder is ignored.
   */
  onFolderDrop?(files: Promise<DroppedFile[]>): void;
  children?: ReactNode;
  testId?: string;
}

/** A drop zone that is also a file picker (click, or Enter when focused). */
// The folder picker's attributes are not in React's input props; spread so TypeScript lets them through.
const FOLDER_PICKER = { webkitdirectory: '', directory: '' } as Record<string, string>;

export function FileDrop({ label, accept, onFiles, disabled, multiple, directory, onFolderDrop, children, testId }: Props) {
  const [over, setOver] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  return (
    <div
      className={`filedrop${over ? ' over' : ''}${disabled ? ' disabled' : ''}`}
      onDragOver={(e) => {
        if (disabled || !e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (disabled) return;
        // Entries are only valid during the event: take them now, walk them afterwards.
        const entries = entriesOf(e.dataTransfer.items);
        if (entries && hasFolder(entries)) {
          if (onFolderDrop) onFolderDrop(droppedFiles(entries));
          return;
        }
        const files = Array.from(e.dataTransfer.files);
        if (files.length) onFiles(multiple || directory ? files : files.slice(0, 1));
      }}
      data-testid={testId}
    >
      <label htmlFor={id} className="filedrop-label">
        <span className="filedrop-icon" aria-hidden="true">
          ⤓
        </span>
        <span>
          <strong>{label}</strong>
          {children && <span className="filedrop-hint">{children}</span>}
        </span>
      </label>
      <input
        ref={input}
        id={id}
        type="file"
        className="filedrop-input"
        accept={accept}
        multiple={multiple || directory}
        disabled={disabled}
        {...(directory ? FOLDER_PICKER : {})}
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          if (files.length) onFiles(files);
          e.target.value = '';
        }}
      />
    </div>
  );
}
