/** Sorting dropped/picked files into "model" and "tokenizer". */

const TOKENIZER_NAME = /(^|[^a-z])(tok|tokenizer)[^/]*\.(bin|json|model)$/i;
const MODEL_EXT = /\.(gguf|bin|safetensors)$/i;

export function isTokenizerFile(name: string): boolean {
  return TOKENIZER_NAME.test(name) || /^tokenizer/i.test(name);
}

/**
 * From a set of files, picks the model (largest non-tokenizer file, preferring known extensions)
 * and an optional tokenizer (a file named tok*, tokenizer*).
 */
export function classifyFiles<F extends { name: string; size: number }>(files: readonly F[]): { model?: F; tokenizer?: F; ignored: F[] } {
  const tokenizers = files.filter((f) => isTokenizerFile(f.name));
  const rest = files.filter((f) => !isTokenizerFile(f.name));
  const candidates = rest.filter((f) => MODEL_EXT.test(f.name));
  const pool = candidates.length ? candidates : rest;
  const model = [...pool].sort((a, b) => b.size - a.size)[0];
  const tokenizer = tokenizers[0];
  const ignored = files.filter((f) => f !== model && f !== tokenizer);
  return { model, tokenizer, ignored };
}
