import { modelStore, useModel } from '../../state/app';
import { checkLoadSettings, MAX_CONTEXT, MAX_SLOTS, MIN_CONTEXT } from '../../state/model';
import { NumberField } from '../NumberField';

/** Whether the load settings are usable (the Load buttons are disabled otherwise). */
export function useLoadSettingsOk(): boolean {
  return useModel((s) => Object.keys(checkLoadSettings(s.loadSettings)).length === 0);
}

/**
 * What the next load allocates for: decoding slots (prompts decoded side by side; mixture and
 * contrastive decoding take several per response) and the context. The estimate below follows them.
 */
export function LoadSettingsFields({ disabled }: { disabled?: boolean }) {
  const settings = useModel((s) => s.loadSettings);
  const loaded = useModel((s) => s.model?.shape ?? null);
  const errors = checkLoadSettings(settings);
  const set = modelStore.getState().setLoadSettings;
  return (
    <div className="load-settings" data-testid="load-settings">
      <NumberField
        label="Parallel slots"
        value={settings.slots}
        onChange={(v) => set({ slots: v })}
        min={1}
        max={MAX_SLOTS}
        integer
        allowEmpty
        placeholder="4"
        disabled={disabled}
        hint={errors.slots ?? `prompts decoded side by side, 1–${MAX_SLOTS} (empty = 4); KV memory grows with slots × context`}
      />
      <NumberField
        label="Context (tokens)"
        value={settings.maxContext}
        onChange={(v) => set({ maxContext: v })}
        min={MIN_CONTEXT}
        max={MAX_CONTEXT}
        integer
        allowEmpty
        placeholder="model's"
        disabled={disabled}
        hint={errors.maxContext ?? "empty = the model's own, halved while slots × context exceeds 1 GiB of KV"}
      />
      {loaded && (
        <p className="hint tight" data-testid="load-settings-loaded">
          Loaded with {loaded.slots} slots × {loaded.maxContext}-token context. New settings apply at the next load.
        </p>
      )}
    </div>
  );
}
