/**
 * SMILES → RDKit molecule, with RDKit's own reason when it refuses one, as a value rather than a
 * throw so that one bad string never stops a batch.
 */
import type { RDKitModule, RDKitMol } from './rdkit';

export type ParsedSmiles = { ok: true; mol: RDKitMol } | { ok: false; error: string };

/**
 * Parses one SMILES string. The caller owns the returned molecule and must call `mol.delete()`
 * (wasm memory is not garbage-collected).
 *
 * Parsing removes hydrogens with RDKit's default rules (as Chem.MolFromSmiles does, and as
 * Chem.RemoveHs would): isotopic hydrogens such as [2H] stay.
 */
export function parseSmiles(rdkit: RDKitModule, smiles: string): ParsedSmiles {
  const text = smiles.trim();
  if (text === '') return { ok: false, error: 'empty SMILES' };
  // RDKit's get_mol also accepts mol blocks and "SMILES name" lines; a SMILES has no whitespace.
  if (/\s/.test(text)) return { ok: false, error: 'SMILES contains whitespace' };
  const log = rdkit.set_log_capture('rdApp.error');
  // Parsing warns about things like a lone [H+] it keeps; in a batch of thousands that is noise.
  const warnings = rdkit.set_log_capture('rdApp.warning');
  let mol: RDKitMol | null = null;
  let message = '';
  try {
    mol = rdkit.get_mol(text);
  } catch (e) {
    message = e instanceof Error ? e.message : String(e);
  } finally {
    if (log) {
      message ||= log.get_buffer();
      log.delete(); // restores RDKit's normal logging
    }
    warnings?.delete();
  }
  if (mol && mol.is_valid() && mol.get_num_atoms() > 0) return { ok: true, mol };
  mol?.delete();
  return { ok: false, error: cleanMessage(message) || 'RDKit could not parse the SMILES' };
}

/** RDKit's canonical SMILES of a string, or the parse error. */
export function canonicalSmiles(rdkit: RDKitModule, smiles: string): { ok: true; canonical: string } | { ok: false; error: string } {
  const parsed = parseSmiles(rdkit, smiles);
  if (!parsed.ok) return parsed;
  try {
    return { ok: true, canonical: parsed.mol.get_smiles() };
  } finally {
    parsed.mol.delete();
  }
}

/** RDKit log lines start with a "[hh:mm:ss] " stamp; keep only the messages, on one line. */
function cleanMessage(buffer: string): string {
  return buffer
    .split('\n')
    .map((l) => l.replace(/^\[\d\d:\d\d:\d\d\]\s*/, '').trim())
    .filter((l) => l !== '')
    .join('; ');
}
