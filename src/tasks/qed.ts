/**
 * QED, the quantitative estimate of drug-likeness (Bickerton et al. 2012), computed exactly as
 * RDKit's `rdkit.Chem.QED.qed` (descriptor version 1.1.0) does, on RDKit's WebAssembly build:
 *
 *   QED = exp( Σ w_i · ln d_i(x_i) / Σ w_i )
 *
 * over eight properties x (MW, ALOGP, HBA, HBD, PSA, ROTB, AROM, ALERTS), each mapped through its
 * asymmetric double sigmoid d_i (constants in qed-data.ts), weighted by WEIGHT_MEAN by default.
 * QED is the label of Tag-LLM's QED regression task.
 */
import {
  ACCEPTOR_SMARTS,
  ADS_PARAMETERS,
  ALIPHATIC_RING_SMARTS,
  QED_PROPERTY_NAMES,
  STRICT_ROTATABLE_BOND_SMARTS,
  STRUCTURAL_ALERT_SMARTS,
  WEIGHT_MEAN,
  type AdsParameter,
  type QedPropertyName,
  type QedWeights,
} from './qed-data';
import { loadRdkit, type RDKitModule, type RDKitMol } from './rdkit';
import { parseSmiles } from './smiles';

export { loadRdkit, type RdkitLoadOptions, type RDKitModule } from './rdkit';
export { WEIGHT_MAX, WEIGHT_MEAN, WEIGHT_NONE, QED_PROPERTY_NAMES, type QedPropertyName, type QedWeights } from './qed-data';

export type QedProperties = Record<QedPropertyName, number>;

/** One molecule's result; `error` says why RDKit refused the SMILES. */
export type QedRow = { smiles: string; canonical: string; qed: number } | { smiles: string; error: string };
export type QedPropertiesRow = { smiles: string; canonical: string; properties: QedProperties } | { smiles: string; error: string };

export function isQedError<T extends { smiles: string }>(row: T | { smiles: string; error: string }): row is { smiles: string; error: string } {
  return 'error' in row;
}

/** The asymmetric double-sigmoid desirability d(x), scaled so its maximum is ~1. */
export function ads(x: number, p: AdsParameter): number {
  const rise = 1 + Math.exp(-(x - p.C + p.D / 2) / p.E);
  const fall = 1 + Math.exp(-(x - p.C - p.D / 2) / p.F);
  return (p.A + (p.B / rise) * (1 - 1 / fall)) / p.DMAX;
}

/** Weighted geometric mean of the eight desirabilities. */
export function qedFromProperties(props: QedProperties, weights: QedWeights = WEIGHT_MEAN): number {
  let t = 0;
  let wsum = 0;
  for (const name of QED_PROPERTY_NAMES) {
    const w = weights[name];
    wsum += w;
    // A zero weight drops the term even where d = 0 (0 · ln 0 would be NaN; Python would raise).
    if (w !== 0) t += w * Math.log(ads(props[name], ADS_PARAMETERS[name]));
  }
  return Math.exp(t / wsum);
}

/** The eight QED properties of a SMILES string, or the reason it could not be parsed. */
export function qedProperties(rdkit: RDKitModule, smiles: string): QedPropertiesRow {
  const parsed = parseSmiles(rdkit, smiles);
  if (!parsed.ok) return { smiles, error: parsed.error };
  const mol = parsed.mol;
  try {
    return { smiles, canonical: mol.get_smiles(), properties: propertiesOf(rdkit, mol) };
  } catch (e) {
    return { smiles, error: `QED properties failed: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    mol.delete();
  }
}

/** QED of one SMILES string (never throws on bad input). */
export function qedOf(rdkit: RDKitModule, smiles: string, weights: QedWeights = WEIGHT_MEAN): QedRow {
  const row = qedProperties(rdkit, smiles);
  if (isQedError(row)) return row;
  return { smiles, canonical: row.canonical, qed: qedFromProperties(row.properties, weights) };
}

/** QED of many SMILES strings, one row each in input order; loads RDKit if none is given. */
export async function qedBatch(
  smiles: readonly string[],
  opts: { rdkit?: RDKitModule; weights?: QedWeights } = {},
): Promise<QedRow[]> {
  const rdkit = opts.rdkit ?? (await loadRdkit());
  return smiles.map((s) => qedOf(rdkit, s, opts.weights));
}

// ---------------------------------------------------------------------------------------------

interface Patterns {
  acceptors: RDKitMol[];
  alerts: RDKitMol[];
  rotatable: RDKitMol;
  aliphaticRing: RDKitMol;
}

// Compiling ~130 SMARTS costs more than one molecule's QED; keep them per RDKit instance.
const compiled = new WeakMap<RDKitModule, Patterns>();

function patterns(rdkit: RDKitModule): Patterns {
  let p = compiled.get(rdkit);
  if (!p) {
    const q = (smarts: string): RDKitMol => {
      const m = rdkit.get_qmol(smarts);
      if (!m || !m.is_valid()) throw new Error(`RDKit rejected the QED SMARTS ${smarts}`);
      return m;
    };
    p = {
      acceptors: ACCEPTOR_SMARTS.map(q),
      alerts: STRUCTURAL_ALERT_SMARTS.map(q),
      rotatable: q(STRICT_ROTATABLE_BOND_SMARTS),
      aliphaticRing: q(ALIPHATIC_RING_SMARTS),
    };
    compiled.set(rdkit, p);
  }
  return p;
}

/** Unique matches of a query, as atom-index lists (RDKit answers "{}" for none). */
function matches(mol: RDKitMol, query: RDKitMol): number[][] {
  const parsed: unknown = JSON.parse(mol.get_substruct_matches(query));
  return Array.isArray(parsed) ? parsed.map((m: { atoms: number[] }) => m.atoms) : [];
}

function hasMatch(mol: RDKitMol, query: RDKitMol): boolean {
  return mol.get_substruct_match(query) !== '{}';
}

interface Descriptors {
  amw: number;
  CrippenClogP: number;
  tpsa: number;
  NumHBD: number;
}

function propertiesOf(rdkit: RDKitModule, mol: RDKitMol): QedProperties {
  const p = patterns(rdkit);
  // get_descriptors is RDKit's Properties table: amw = _CalcMolWt (average MW incl. implicit H),
  // CrippenClogP = Crippen.MolLogP, tpsa = MolSurf.TPSA (N and O only), NumHBD = CalcNumHBD.
  const d = JSON.parse(mol.get_descriptors()) as Descriptors;
  return {
    MW: d.amw,
    ALOGP: d.CrippenClogP,
    HBA: p.acceptors.reduce((n, q) => n + matches(mol, q).length, 0),
    HBD: d.NumHBD,
    PSA: d.tpsa,
    // QED asks for the Strict definition explicitly, so count it here rather than trust the
    // build's default rotor definition.
    ROTB: matches(mol, p.rotatable).length,
    AROM: aromaticRingCount(mol, p.aliphaticRing),
    ALERTS: p.alerts.reduce((n, q) => n + (hasMatch(mol, q) ? 1 : 0), 0),
  };
}

/**
 * QED's AROM: len(GetSSSR(DeleteSubstructs(mol, [$([A;R][!a])]))) — delete aliphatic ring atoms
 * that have a non-aromatic neighbour, then count the smallest set of smallest rings of what is
 * left. The SSSR of a graph has exactly (edges − vertices + connected components) rings, so the
 * count needs only the bond list, which RDKit's JSON gives.
 */
function aromaticRingCount(mol: RDKitMol, aliphaticRing: RDKitMol): number {
  const deleted = new Set(matches(mol, aliphaticRing).flat());
  const json = JSON.parse(mol.get_json()) as { molecules: Array<{ atoms: unknown[]; bonds?: Array<{ atoms: [number, number] }> }> };
  const { atoms, bonds = [] } = json.molecules[0];
  const parent = atoms.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  let vertices = 0;
  for (let i = 0; i < atoms.length; i++) if (!deleted.has(i)) vertices++;
  let edges = 0;
  let components = vertices;
  for (const { atoms: [a, b] } of bonds) {
    if (deleted.has(a) || deleted.has(b)) continue;
    edges++;
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) {
      parent[ra] = rb;
      components--;
    }
  }
  return edges - vertices + components;
}
