import { describe, expect, it } from 'vitest';
import { buildDavis, pKdFromNanomolar, type DavisFiles } from '../../src/tasks/davis';
import { readData } from '../helpers/fixtures';

const dir = 'binding/davis/';
const real: DavisFiles = {
  proteins: readData(`${dir}proteins.txt`),
  ligands: readData(`${dir}ligands_can.txt`),
  affinity: readData(`${dir}drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt`),
  trainFolds: readData(`${dir}train_fold_setting1.txt`),
  testFold: readData(`${dir}test_fold_setting1.txt`),
};

describe('pKd', () => {
  it('is −log10(Kd / 1e9) for Kd in nM', () => {
    expect(pKdFromNanomolar(10000)).toBeCloseTo(5, 12);
    expect(pKdFromNanomolar(1)).toBeCloseTo(9, 12);
    expect(pKdFromNanomolar(43)).toBeCloseTo(9 - Math.log10(43), 12);
  });
});

describe('Davis on the real files', () => {
  const { examples, report } = buildDavis(real);

  it('uses every matrix cell once: 68 ligands × 442 proteins = 30,056 pairs', () => {
    expect(report.errors).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.total).toBe(30056);
    expect(examples).toHaveLength(30056);
    expect(examples.filter((e) => e.split === 'test')).toHaveLength(5010);
    expect(examples.filter((e) => e.split === 'train')).toHaveLength(25046);
    expect(new Set(examples.map((e) => `${e.ligandId}|${e.proteinId}`)).size).toBe(30056);
  });

  it('keeps the file order of ligand ids (which JSON.parse would sort numerically)', () => {
    // Pair 0 = matrix row 0, column 0: ligand 11314340 (first in ligands_can.txt, not the
    // numerically smallest id 5291) × AAK1, Kd 43 nM; DeepDTA puts it in train fold 3.
    const first = examples.find((e) => e.ligandId === '11314340' && e.proteinId === 'AAK1')!;
    expect(first.label).toBeCloseTo(9 - Math.log10(43), 12);
    expect(first.protein.startsWith('MKKFFDSRREQGGSGLGSGSSGGGGSTSGLGSGYIGRVFGIGRQQVTVDEVLAEGG')).toBe(true);
    expect(first.smiles).toBe('CC1=C2C=C(C=CC2=NN1)C3=CC(=CN=C3)OCC(CC4=CC=CC=C4)N');
    // Test fold entry 1 is pair 9331 = row 21, column 47: ligand 176870 × BTK, Kd 10000 nM → pKd 5.
    const t = examples.find((e) => e.ligandId === '176870' && e.proteinId === 'BTK')!;
    expect(t.split).toBe('test');
    expect(t.label).toBeCloseTo(5, 12);
    expect(t.protein).toHaveLength(483);
  });

  it('can hold out one train fold for validation', () => {
    const { examples: ex } = buildDavis(real, { validationFold: 3 });
    expect(ex.filter((e) => e.split === 'validation')).toHaveLength(5009);
    expect(ex.find((e) => e.ligandId === '11314340' && e.proteinId === 'AAK1')!.split).toBe('validation');
  });
});

describe('Davis on malformed input', () => {
  const small: DavisFiles = {
    proteins: '{"P1": "MKV", "P2": ""}',
    ligands: '{"20": "CCO", "10": "c1ccccc1"}',
    // Row 1 (ligand "20"): P1 = 100 nM, P2 = 5; row 2 (ligand "10"): "nan" and -3.
    affinity: '100 5\nnan -3\n',
    trainFolds: '[[0, 1, 7], [2, "x"]]',
    testFold: '[3, 0, -1]',
  };

  it('skips each bad record with its reason and keeps the rest', () => {
    const { examples, report } = buildDavis(small);
    expect(report.errors).toEqual([]);
    expect(report.total).toBe(8);
    expect(examples).toEqual([{ protein: 'MKV', smiles: 'CCO', label: 7, split: 'train', proteinId: 'P1', ligandId: '20' }]);
    const reasons = report.skipped.map((s) => s.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/train fold 0 entry 2 \(pair 1\): empty sequence for protein P2/),
        expect.stringMatching(/train fold 0 entry 3 \(pair 7\): index outside the 2×2 matrix/),
        expect.stringMatching(/train fold 1 entry 1 \(pair 2\): Kd for ligand 10 × P1 is "nan", not a positive number/),
        expect.stringMatching(/train fold 1 entry 2 \(pair x\): index outside/),
        expect.stringMatching(/test fold entry 1 \(pair 3\): Kd .* is "-3", not a positive number/),
        expect.stringMatching(/test fold entry 2 \(pair 0\): pair already listed in train fold 0/),
        expect.stringMatching(/test fold entry 3 \(pair -1\): index outside/),
      ]),
    );
    expect(report.skipped).toHaveLength(7);
    expect(report.kept).toBe(1);
  });

  it('reports a wrongly shaped matrix and unreadable files instead of throwing', () => {
    const short = buildDavis({ ...small, affinity: '100\n' });
    expect(short.report.errors).toEqual([
      'Kd matrix has 1 rows but there are 2 ligands.',
      'Kd matrix line 1 has 1 values but there are 2 proteins.',
    ]);
    expect(short.report.skipped.some((s) => /is missing, not a positive number/.test(s.reason))).toBe(true);

    const broken = buildDavis({ ...small, ligands: '{"a": 1}', trainFolds: '{oops' });
    expect(broken.examples).toEqual([]);
    expect(broken.report.errors).toEqual([
      expect.stringMatching(/^ligands_can.txt: not a JSON object of strings/),
      expect.stringMatching(/^train_fold_setting1.txt: not JSON/),
    ]);
  });
});
