import { beforeAll, describe, expect, it } from 'vitest';
import { collectMolecules, detectSmilesColumn, looksLikeSmiles, type MoleculeFile } from '../../src/tasks/molecules';
import { buildQedDataset } from '../../src/tasks/qed-dataset';
import { loadRdkit, type RDKitModule } from '../../src/tasks/rdkit';
import { listData, readData } from '../helpers/fixtures';

let rdkit: RDKitModule;
beforeAll(async () => {
  rdkit = await loadRdkit();
});

const realFiles: MoleculeFile[] = listData('molecules').map((name) => ({ name, text: readData(`molecules/${name}`) }));

describe('SMILES column detection', () => {
  it('prefers a column named like SMILES, else the column whose values look like SMILES', () => {
    expect(detectSmilesColumn(['mol', 'Class'], [{ mol: 'CCO', Class: '1' }])).toBe('mol');
    expect(detectSmilesColumn(['id', 'Canonical_SMILES'], [])).toBe('Canonical_SMILES');
    const rows = [
      { id: '1', structure: 'c1ccccc1', y: '0.5' },
      { id: '2', structure: 'CC(=O)O', y: '1e-3' },
    ];
    expect(detectSmilesColumn(['id', 'structure', 'y'], rows)).toBe('structure');
    expect(detectSmilesColumn(['a', 'b'], [{ a: '1', b: 'hello world' }])).toBeNull();
    expect(looksLikeSmiles('[Na+].[Cl-]')).toBe(true);
    expect(looksLikeSmiles('-0.77')).toBe(false);
    expect(looksLikeSmiles('two words')).toBe(false);
  });
});

describe('molecule pool from all MoleculeNet files', () => {
  it('finds each file’s SMILES column and merges repeats by canonical SMILES', () => {
    const pool = collectMolecules(realFiles, rdkit);
    const byName = Object.fromEntries(pool.files.map((f) => [f.name, f]));
    expect(Object.fromEntries(pool.files.map((f) => [f.name, [f.column, f.total]]))).toEqual({
      'BBBP.csv': ['smiles', 2039],
      'bace.csv': ['mol', 1513],
      'clintox.csv': ['smiles', 1478],
      'delaney.csv': ['smiles', 1128],
      'freesolv.csv': ['smiles', 642],
      'lipo.csv': ['smiles', 4200],
      'tox21.csv': ['smiles', 7831],
    });
    // RDKit 2026.09 refuses 8 tox21 aluminium compounds written with [AlH3] (valence 6).
    expect(byName['tox21.csv'].skipped).toHaveLength(8);
    expect(byName['tox21.csv'].skipped.every((s) => /Explicit valence for atom # \d+ Al, 6/.test(s.reason))).toBe(true);
    expect(pool.files.filter((f) => f.name !== 'tox21.csv').every((f) => f.skipped.length === 0)).toBe(true);
    // 18,831 rows − 8 invalid = 18,823; 2,798 of them repeat an earlier molecule (exact counts
    // depend on RDKit's canonicalisation, pinned through package-lock).
    expect(pool.validRows).toBe(18823);
    expect(pool.duplicates).toBe(2798);
    expect(pool.molecules).toHaveLength(16025);
    expect(new Set(pool.molecules.map((m) => m.canonical)).size).toBe(16025);
  });
});

describe('molecule pool on small inputs', () => {
  it('dedupes spellings across files and reports bad rows', () => {
    const files: MoleculeFile[] = [
      { name: 'a.csv', text: 'id,smiles,y\n1,OCC,0\n2,C1CC,1\n3,,2\n4,"CCO",3,extra\n5,c1ccccc1,4\n' },
      { name: 'b.csv', text: 'structure,label\nCCO,1\nC1=CC=CC=C1,0\nN#N,1\n' },
      { name: 'c.csv', text: 'x,y\n1,2\n' },
    ];
    const pool = collectMolecules(files, rdkit);
    expect(pool.molecules).toEqual([
      { canonical: 'CCO', smiles: 'OCC', sources: ['a.csv', 'b.csv'] },
      { canonical: 'c1ccccc1', smiles: 'c1ccccc1', sources: ['a.csv', 'b.csv'] },
      { canonical: 'N#N', smiles: 'N#N', sources: ['b.csv'] },
    ]);
    expect(pool.validRows).toBe(5);
    expect(pool.duplicates).toBe(2);
    const [a, b, c] = pool.files;
    expect(a.column).toBe('smiles');
    expect(a.skipped).toEqual([
      { line: 3, reason: expect.stringMatching(/^invalid SMILES "C1CC": SMILES Parse Error: unclosed ring/) },
      { line: 4, reason: 'empty smiles' },
      { line: 5, reason: expect.stringMatching(/has 4 fields, expected 3/) },
    ]);
    expect(b.column).toBe('structure');
    expect(c.column).toBeNull();
    expect(c.skipped).toEqual([{ line: 2, reason: 'no SMILES column found' }]);
  });
});

describe('QED dataset', () => {
  it('labels the distinct molecules with QED and splits them 80/10/10', () => {
    const files = realFiles.filter((f) => f.name === 'freesolv.csv');
    const { examples, report, pool } = buildQedDataset(files, rdkit, { seed: 1 });
    expect(report.errors).toEqual([]);
    expect(report.total).toBe(642);
    expect(examples).toHaveLength(pool.molecules.length);
    expect(examples.every((e) => e.label > 0 && e.label < 1)).toBe(true);
    const n = examples.length;
    expect(examples.filter((e) => e.split === 'test')).toHaveLength(Math.round(n * 0.1));
    expect(examples.filter((e) => e.split === 'validation')).toHaveLength(Math.round(n * 0.1));
    // Benzene: MW 78.1, logP 1.69, no HBA/HBD/PSA/rotors, one aromatic ring, no alerts → QED 0.443 (RDKit).
    expect(examples.find((e) => e.smiles === 'c1ccccc1')?.label).toBeCloseTo(0.443, 3);
  });
});
