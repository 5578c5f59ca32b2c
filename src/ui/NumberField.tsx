import { useEffect, useId, useState } from 'react';

interface Props {
  label: string;
  value: number | null;
  onChange(v: number | null): void;
  min?: number;
  max?: number;
  step?: number;
  /** Empty input means null (e.g. "random seed"). */
  allowEmpty?: boolean;
  placeholder?: string;
  hint?: string;
  disabled?: boolean;
  integer?: boolean;
}

/** A labelled number input that keeps what the user types until it parses. */
export function NumberField({ label, value, onChange, min, max, step, allowEmpty, placeholder, hint, disabled, integer }: Props) {
  const id = useId();
  const [text, setText] = useState(value === null ? '' : String(value));
  useEffect(() => {
    const parsed = text.trim() === '' ? null : Number(text);
    if (parsed !== value) setText(value === null ? '' : String(value));
    // Only follow outside changes of `value`.
  }, [value]);
  const parsed = text.trim() === '' ? null : Number(text);
  const invalid =
    (parsed === null && !allowEmpty) ||
    (parsed !== null &&
      (!Number.isFinite(parsed) ||
        (integer && !Number.isInteger(parsed)) ||
        (min !== undefined && parsed < min) ||
        (max !== undefined && parsed > max)));
  return (
    <div className={invalid ? 'field invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="number"
        inputMode={integer ? 'numeric' : 'decimal'}
        value={text}
        min={min}
        max={max}
        step={step}
        placeholder={placeholder}
        disabled={disabled}
        aria-invalid={invalid || undefined}
        aria-describedby={hint ? `${id}-hint` : undefined}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          const v = t.trim() === '' ? null : Number(t);
          if (v === null ? allowEmpty : Number.isFinite(v)) onChange(v);
        }}
      />
      {hint && (
        <span id={`${id}-hint`} className="field-hint">
          {hint}
        </span>
      )}
    </div>
  );
}
