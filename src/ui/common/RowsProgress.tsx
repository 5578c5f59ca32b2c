import { formatInt } from '../format';

/** A large upload being mapped in the mapping worker before a run or an evaluation: rows done, and Cancel. */
export function RowsProgress({ progress, onCancel, testId }: { progress: { done: number; total: number }; onCancel?: () => void; testId: string }) {
  const pct = progress.total ? Math.floor((progress.done / progress.total) * 100) : 0;
  return (
    <div className="check-progress" data-testid={testId}>
      <span>
        Mapping {formatInt(progress.total)} rows… {pct}%
      </span>
      <progress max={100} value={pct} aria-label="Mapping the rows" />
      {onCancel && (
        <button type="button" className="small" onClick={onCancel} data-testid={`${testId}-cancel`}>
          Cancel
        </button>
      )}
    </div>
  );
}
