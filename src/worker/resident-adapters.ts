/**
 * Library adapters made resident on the loaded model for generation: the UI names adapters as the
 * library does, the engine holds them under its own names. An adapter is uploaded once and again
 * only when the library's object for that name changes (retrained with replace, re-imported,
 * renamed); adapters the library no longer holds are dropped from the GPU.
 */
import type { LoadedModel } from '../model/api';
import type { LoraAdapter } from '../tags/head';
import type { TagLibrary } from '../tags/library';

/** Engine names of library adapters; other users of setAdapter (self-specialization) keep theirs. */
const PREFIX = 'library:';

export function createResidentAdapters(library: TagLibrary) {
  // Per model (a reload starts empty): engine name → the library object uploaded under it.
  const resident = new WeakMap<LoadedModel, Map<string, LoraAdapter>>();

  /**
   * Library adapter names (null = base) → engine names for `GenerateRequest.adapters`, uploading what
   * is missing or stale. Throws naming the adapter when the library lacks it or it does not fit.
   */
  function resolve(m: LoadedModel, names: ReadonlyArray<string | null | undefined>): Array<string | null> {
    let held = resident.get(m);
    if (!held) resident.set(m, (held = new Map()));
    for (const [key, a] of held) {
      if (library.getAdapter(key.slice(PREFIX.length)) !== a) {
        m.removeAdapter(key);
        held.delete(key);
      }
    }
    return names.map((name) => {
      if (name === null || name === undefined || name === '') return null;
      const a = library.getAdapter(name);
      if (!a) throw new Error(`The library has no adapter "${name}". Pick another one (or none) in the Adapter menu.`);
      const key = PREFIX + name;
      // A queued upload that failed (reported by the generate() that followed) left it off the GPU: retry.
      if (held.get(key) !== a || !m.adapterNames().includes(key)) {
        try {
          m.setAdapter(key, a);
        } catch (e) {
          throw new Error(`${(e as Error).message.replace(`"${key}"`, `"${name}"`)} Pick another adapter (or none).`);
        }
        held.set(key, a);
      }
      return key;
    });
  }

  return { resolve };
}

export type ResidentAdapters = ReturnType<typeof createResidentAdapters>;
