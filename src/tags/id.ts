/**
 * Ids for tags, heads and adapters. Ids are stable handles (names can be renamed); they only need to
 * be unique within a library, so a random UUID is enough.
 */
export function newId(prefix: string): string {
  // crypto.randomUUID exists in Node ≥ 19 and in secure browser contexts (workers included); the
  // fallback keeps plain-http pages working.
  const c = globalThis.crypto as Crypto | undefined;
  const uuid =
    typeof c?.randomUUID === 'function'
      ? c.randomUUID()
      : `${Date.now().toString(16)}-${Math.floor(Math.random() * 2 ** 48).toString(16)}`;
  return `${prefix}-${uuid}`;
}
