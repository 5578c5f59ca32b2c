/**
 * What is not a dataset at all, before any parsing: an empty file, or binary content (an image, an
 * archive, a model file renamed .csv). Text decoders turn such bytes into replacement characters and
 * control codes that a CSV parser happily splits into "rows", so the check looks at the characters.
 */

/** Well-known binary file signatures, as the text decoder leaves them (U+FFFD for invalid UTF-8 bytes). */
const SIGNATURES: Array<[RegExp, string]> = [
  [/^\uFFFDPNG\r\n/, 'a PNG image'],
  [/^\uFFFD\uFFFD\uFFFD/, 'binary data (a JPEG image or similar)'],
  [/^GIF8[79]a/, 'a GIF image'],
  [/^%PDF-/, 'a PDF document'],
  [/^PK\u0003\u0004/, 'a ZIP archive (also .xlsx, .docx)'],
  [/^\u001f\uFFFD/, 'a gzip archive'],
  [/^GGUF/, 'a GGUF model file'],
];

const SAMPLE_CHARS = 64 << 10;

/**
 * Why `text` cannot be a dataset (a sentence for the user), or null when it may be one.
 * Empty = only whitespace; binary = a known signature, any NUL character, or more than 1% of the
 * first 64 K characters being replacement characters or control codes other than tab, CR, LF, FF.
 */
export function notADataset(text: string, name = 'The file'): string | null {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (t.trim() === '') return `${name} is empty: there is nothing to import.`;
  const sample = t.slice(0, SAMPLE_CHARS);
  for (const [re, what] of SIGNATURES) {
    if (re.test(sample)) return `${name} is ${what}, not a text dataset. Import CSV, TSV, JSONL, FASTA or plain lines.`;
  }
  let bad = 0;
  for (let i = 0; i < sample.length; i++) {
    const c = sample.charCodeAt(i);
    if (c === 0) return `${name} is binary (it contains NUL bytes), not a text dataset. Import CSV, TSV, JSONL, FASTA or plain lines.`;
    if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 127) bad++;
  }
  if (bad > Math.max(2, sample.length * 0.01)) {
    return `${name} looks binary (${bad} of its first ${sample.length} characters are not text: invalid UTF-8 or control codes), not a text dataset. Import CSV, TSV, JSONL, FASTA or plain lines saved as UTF-8.`;
  }
  return null;
}

/** Why a file that parsed to no record at all is not a dataset (only a header, or nothing usable). */
export function noRecords(name: string, columns: readonly string[]): string {
  return `${name} has no records${columns.length ? ` (only a header: ${columns.join(', ')})` : ''}.`;
}
