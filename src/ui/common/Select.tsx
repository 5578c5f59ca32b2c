import { useId, type ReactNode } from 'react';

interface Props<T extends string> {
  label: string;
  value: T;
  options: ReadonlyArray<{ value: T; label: string; disabled?: boolean }>;
  onChange(v: T): void;
  disabled?: boolean;
  hint?: ReactNode;
  testId?: string;
  /** Extra class of the field (e.g. span-2: the whole row of an options grid). */
  className?: string;
}

export function Select<T extends string>({ label, value, options, onChange, disabled, hint, testId, className }: Props<T>) {
  const id = useId();
  return (
    <div className={className ? `field ${className}` : 'field'}>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as T)} disabled={disabled} data-testid={testId}>
        {options.map((o) => (
          <option key={o.value} value={o.value} disabled={o.disabled}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && <span className="field-hint">{hint}</span>}
    </div>
  );
}
