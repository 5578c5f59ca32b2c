/**
 * Text checks shared by the self-specialization importers (seeds, corpora): files arrive as bytes
 * (browser File, Node readFile) or as already-decoded strings, and a wrong encoding must surface as a
 * message, not as mojibake that silently ends up in prompts or in the BM25 vocabulary.
 */

/** Bytes as UTF-8 text; throws a clear message when they are not UTF-8. A leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array, fileName: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new Error(`${fileName}: not valid UTF-8 text. Save the file as UTF-8 and load it again.`);
  }
}

/**
 * Throws when decoded text carries U+FFFD, the mark a lenient decoder leaves where bytes were not
 * UTF-8 (e.g. `fetch().text()` or `readFile(…, 'utf8')` of a Latin-1 file).
 */
export function assertUtf8Text(text: string, fileName: string): void {
  const at = text.indexOf('\uFFFD');
  if (at < 0) return;
  const line = text.slice(0, at).split('\n').length;
  throw new Error(`${fileName}: not valid UTF-8 text (undecodable bytes at line ${line}). Save the file as UTF-8 and load it again.`);
}

/** Text without a leading byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
