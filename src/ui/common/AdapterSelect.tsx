import type { ReactNode } from 'react';
import { useLibrary } from '../../state/app';
import { Select } from './Select';

/** The library's LoRA adapters to pick from, or none (the base model / a fresh adapter). */
export function AdapterSelect({
  label = 'Adapter',
  value,
  onChange,
  noneLabel = 'none (base model)',
  disabled,
  hint,
  testId,
  wide = true,
}: {
  label?: string;
  value: string | null;
  onChange(name: string | null): void;
  noneLabel?: string;
  disabled?: boolean;
  hint?: ReactNode;
  testId?: string;
  /** The whole row of a two-column options grid (names and shapes are long). */
  wide?: boolean;
}) {
  const adapters = useLibrary((s) => s.summary.adapters);
  // A chosen adapter the list lacks (restore pending) stays visible rather than silently showing "none".
  const missing = value && !adapters.some((a) => a.name === value) ? [{ value, label: `${value} (not in the library)` }] : [];
  return (
    <Select<string>
      label={label}
      value={value ?? ''}
      options={[
        { value: '', label: noneLabel },
        ...adapters.map((a) => ({ value: a.name, label: `${a.name} (r ${a.rank}, α ${a.alpha}, ${a.targets.join(' ')})` })),
        ...missing,
      ]}
      onChange={(v) => onChange(v || null)}
      disabled={disabled}
      hint={hint ?? (adapters.length ? undefined : 'Train a LoRA or import a PEFT adapter in the Library panel.')}
      testId={testId}
      className={wide ? 'span-2' : undefined}
    />
  );
}
