import { describe, expect, it } from 'vitest';
import { buildSynergy } from '../../src/tasks/synergy';
import { readData } from '../helpers/fixtures';

const real = {
  labels: readData('synergy/deepsynergy_oneil_labels.csv'),
  drugSmiles: readData('synergy/drug_smiles.csv'),
};

describe("O'Neil synergy on the real files", () => {
  const { examples, report } = buildSynergy(real);

  it('joins every row with both drugs’ SMILES; fold 0 is the test set', () => {
    expect(report.errors).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.total).toBe(23052);
    expect(examples).toHaveLength(23052);
    expect(examples.filter((e) => e.split === 'test')).toHaveLength(4554);
    expect(examples.every((e) => (e.fold === 0) === (e.split === 'test'))).toBe(true);
    expect(new Set(examples.flatMap((e) => [e.drugA, e.drugB])).size).toBe(38);
  });

  it('reads the first row as in the file', () => {
    // 5-FU_ABT-888_A2058,5-FU,ABT-888,A2058,7.6935301658,2
    expect(examples[0]).toEqual({
      drugA: '5-FU',
      smilesA: 'O=c1[nH]cc(F)c(=O)[nH]1',
      drugB: 'ABT-888',
      smilesB: 'CC1(c2nc3c(C(N)=O)cccc3[nH]2)CCCN1',
      cellLine: 'A2058',
      label: 7.6935301658,
      fold: 2,
      split: 'train',
    });
  });

  it('can use another test fold and a validation fold', () => {
    const { examples: ex } = buildSynergy(real, { testFold: 1, validationFold: 0 });
    expect(ex.filter((e) => e.split === 'test')).toHaveLength(4614);
    expect(ex.filter((e) => e.split === 'validation')).toHaveLength(4554);
  });
});

describe('synergy on malformed input', () => {
  it('skips each bad row with its reason', () => {
    const labels = [
      ',drug_a_name,drug_b_name,cell_line,synergy,fold',
      'r1,A,B,C1,1.5,0', // ok, test
      'r2,A,Z,C1,2,1', // Z has no SMILES
      'r3,A,B,C1,abc,1', // synergy not a number
      'r4,A,B,C1,3,x', // bad fold
      'r5,A,B,,3,1', // empty cell line
      'r6,A,B,C1,3', // too few fields
      'r7,B,A,C2,-4.25,2', // ok, train
      'r8,D,A,C2,1,2', // D has conflicting SMILES
    ].join('\n');
    const drugSmiles = 'name,smile\nA,CCO\nB,c1ccccc1\nD,CC\nD,CCC\nE,\n';
    const { examples, report } = buildSynergy({ labels, drugSmiles });
    expect(examples.map((e) => [e.drugA, e.drugB, e.label, e.split])).toEqual([
      ['A', 'B', 1.5, 'test'],
      ['B', 'A', -4.25, 'train'],
    ]);
    expect(report.total).toBe(8);
    expect(report.kept).toBe(2);
    expect(report.skipped).toEqual([
      { line: 3, reason: 'no SMILES for Z' },
      { line: 4, reason: 'synergy "abc" is not a number' },
      { line: 5, reason: 'fold "x" is not a non-negative integer' },
      { line: 6, reason: 'empty cell_line' },
      { line: 7, reason: expect.stringMatching(/has 5 fields, expected 6/) },
      { line: 9, reason: 'no SMILES for D (conflicting SMILES)' },
    ]);
    expect(report.notes).toEqual(
      expect.arrayContaining([expect.stringMatching(/conflicting SMILES for D/), expect.stringMatching(/1 unusable row ignored/), 'Drugs without SMILES: D, Z.']),
    );
  });

  it('reports missing columns instead of throwing', () => {
    const r = buildSynergy({ labels: 'a,b\n1,2\n', drugSmiles: 'x,y\n' });
    expect(r.examples).toEqual([]);
    expect(r.report.errors).toEqual([
      expect.stringMatching(/^drug SMILES: expected columns name and smile/),
      expect.stringMatching(/^labels: missing columns drug_a_name, drug_b_name, cell_line, synergy, fold/),
    ]);
  });
});
