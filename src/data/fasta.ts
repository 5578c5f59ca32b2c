/**
 * FASTA import: ">name description" headers, each followed by sequence lines that are joined
 * (whitespace removed). Columns: name, description, sequence. Lines starting with ";" are comments.
 */
import { splitLines, stripBom, type ParsedDataset, type SkippedRow } from './dataset';

// Residue letters, plus "*" (stop), "-" and "." (gaps) that alignments and translations contain.
const SEQUENCE = /^[A-Za-z*.-]*$/;

export function parseFasta(input: string): ParsedDataset {
  const rows: Array<Record<string, string>> = [];
  const lines: number[] = [];
  const skipped: SkippedRow[] = [];
  let total = 0;
  let current: { line: number; header: string; seq: string[]; bad: string | null } | null = null;
  let orphanReported = false;

  const finish = () => {
    if (!current) return;
    const { line, header, bad } = current;
    const seq = current.seq.join('');
    const [name, ...rest] = header.trim().split(/\s+/);
    if (!name) skipped.push({ line, reason: 'header ">" has no name' });
    else if (bad) skipped.push({ line, reason: `${name}: ${bad}` });
    else if (seq === '') skipped.push({ line, reason: `${name}: empty sequence` });
    else {
      rows.push({ name, description: rest.join(' '), sequence: seq });
      lines.push(line);
    }
    current = null;
  };

  splitLines(stripBom(input)).forEach((text, i) => {
    const line = i + 1;
    if (text.startsWith('>')) {
      finish();
      total++;
      current = { line, header: text.slice(1), seq: [], bad: null };
      return;
    }
    if (text.startsWith(';') || text.trim() === '') return;
    if (!current) {
      // Sequence text with no header: one report for the whole run, not one per line.
      if (!orphanReported) {
        total++;
        skipped.push({ line, reason: 'sequence text before the first ">" header' });
        orphanReported = true;
      }
      return;
    }
    const part = text.replace(/\s+/g, '');
    if (!current.bad && !SEQUENCE.test(part)) {
      const ch = [...part].find((c) => !SEQUENCE.test(c));
      current.bad = `invalid character ${JSON.stringify(ch)} in the sequence (line ${line})`;
    }
    current.seq.push(part);
  });
  finish();
  return { format: 'fasta', columns: ['name', 'description', 'sequence'], rows, lines, report: { total, kept: rows.length, skipped } };
}
