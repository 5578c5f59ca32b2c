/**
 * The protein "descriptor" label of Tag-LLM's descriptor task: the mean per-residue BLOSUM1 index
 * (Georgiev 2009) over a sequence = Σ value(residue) / length. A residue missing from the table
 * (X, B, U…) adds 0 but still counts in the length, as in the reference data.
 */
import Papa from 'papaparse';

/** Residue letter (upper case) → value. */
export type ResidueTable = ReadonlyMap<string, number>;

/** Reads "AA,value" rows (BLOSUM1.csv); a first row whose value is not a number is taken as a header. */
export function parseResidueTable(csv: string): Map<string, number> {
  const rows = Papa.parse<string[]>(csv.replace(/^\uFEFF/, ''), { delimiter: ',', skipEmptyLines: 'greedy' }).data;
  const table = new Map<string, number>();
  rows.forEach((r, i) => {
    const [aa, raw] = [r[0]?.trim() ?? '', r[1]?.trim() ?? ''];
    const value = raw === '' ? NaN : Number(raw);
    if (i === 0 && !Number.isFinite(value)) return; // header
    if (r.length !== 2 || !/^[A-Za-z]$/.test(aa) || !Number.isFinite(value)) {
      throw new Error(`Residue table, row ${i + 1}: expected "letter,number", got ${JSON.stringify(r.join(','))}.`);
    }
    table.set(aa.toUpperCase(), value);
  });
  if (table.size === 0) throw new Error('Residue table is empty.');
  return table;
}

/** Mean table value over the residues of `sequence` (case and whitespace ignored). Throws on an empty sequence. */
export function blosumDescriptor(sequence: string, table: ResidueTable): number {
  const residues = sequence.replace(/\s+/g, '').toUpperCase();
  if (residues.length === 0) throw new Error('The descriptor of an empty sequence is undefined.');
  let sum = 0;
  for (const r of residues) sum += table.get(r) ?? 0;
  return sum / residues.length;
}
