import { beforeAll, describe, expect, it } from 'vitest';
import { loadRdkit, qedBatch, qedOf, qedProperties, qedFromProperties, ads, isQedError, WEIGHT_MEAN, WEIGHT_NONE, WEIGHT_MAX, type RDKitModule } from '../../src/tasks/qed';
import { readFileSync } from 'node:fs';
import { ADS_PARAMETERS, QED_PROPERTY_NAMES, STRUCTURAL_ALERT_SMARTS, ACCEPTOR_SMARTS } from '../../src/tasks/qed-data';

let rdkit: RDKitModule;
beforeAll(async () => {
  rdkit = await loadRdkit();
});

const qedValue = (smiles: string) => {
  const row = qedOf(rdkit, smiles);
  if (isQedError(row)) throw new Error(row.error);
  return row.qed;
};

describe('QED as rdkit.Chem.QED 1.1.0', () => {
  it('reproduces published values to 3 decimals', () => {
    expect(qedValue('c1cc2OCOc2cc1OCC1CNCCC1c1ccc(F)cc1')).toBeCloseTo(0.934, 3); // paroxetine
    expect(qedValue('C1=NOC(C)=C1C(=O)Nc1ccc(cc1)C(F)(F)F')).toBeCloseTo(0.911, 3); // leflunomide
    expect(qedValue('CN(C)CCCN1c2ccccc2CCc2ccc(Cl)cc21')).toBeCloseTo(0.818, 3); // clomipramine
    expect(qedValue('CCCCCNC(=N)NN=CC1=CNc2ccc(CO)cc21')).toBeCloseTo(0.235, 3); // tegaserod
  });

  it('computes the eight properties', () => {
    const row = qedProperties(rdkit, 'N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O');
    if (isQedError(row)) throw new Error(row.error);
    const p = row.properties;
    expect(p.MW).toBeCloseTo(337.456, 3);
    expect(p.ALOGP).toBeCloseTo(-0.55833, 5);
    expect(p.HBA).toBe(6);
    expect(p.HBD).toBe(5);
    expect(p.PSA).toBeCloseTo(173.33, 2);
    expect(p.ROTB).toBe(7);
    expect(p.AROM).toBe(1);
    expect(p.ALERTS).toBe(3);
  });

  it("matches the doctests of RDKit's QED.py (printed as 0.253..., i.e. truncated)", () => {
    const truncated = (x: number) => Math.floor(x * 1000) / 1000;
    expect(truncated(qedValue('N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O'))).toBe(0.253);
    expect(truncated(qedValue('CNC(=NCCSCc1nc[nH]c1C)NC#N'))).toBe(0.234);
    expect(truncated(qedValue('CCCCCNC(=N)NN=Cc1c[nH]c2ccc(CO)cc12'))).toBe(0.234);
  });
});

describe('QED parity with RDKit (Python) on 150 MoleculeNet molecules', () => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/rdkit-qed-parity.json', import.meta.url), 'utf8')) as {
    rows: Array<{ smiles: string; qed: number; props: number[] }>;
  };

  it('gives the same eight properties and QED (fixture from rdkit.Chem.QED 1.1.0)', () => {
    for (const { smiles, qed, props } of fixture.rows) {
      const row = qedProperties(rdkit, smiles);
      if (isQedError(row)) throw new Error(`${smiles}: ${row.error}`);
      QED_PROPERTY_NAMES.forEach((name, i) => expect(row.properties[name], `${name} of ${smiles}`).toBeCloseTo(props[i], 3));
      expect(qedFromProperties(row.properties), smiles).toBeCloseTo(qed, 5);
    }
  });
});

describe('QED constants and arithmetic', () => {
  it("uses RDKit's pattern lists (11 acceptors, 116 alerts) and all compile", () => {
    expect(ACCEPTOR_SMARTS).toHaveLength(11);
    // RDKit's QED.py lists 116 alert SMARTS (sometimes quoted as 117).
    expect(STRUCTURAL_ALERT_SMARTS).toHaveLength(116);
    expect(new Set(STRUCTURAL_ALERT_SMARTS).size).toBe(116);
    expect(isQedError(qedOf(rdkit, 'CCO'))).toBe(false); // compiles every pattern
  });

  it('has desirability functions of the published shape', () => {
    // MW desirability is near its maximum (~1) around 300 Da and low for very large molecules.
    expect(ads(300, ADS_PARAMETERS.MW)).toBeGreaterThan(0.95);
    expect(ads(800, ADS_PARAMETERS.MW)).toBeLessThan(0.1);
    // Each structural alert lowers the desirability.
    const alerts = [0, 1, 2, 3].map((n) => ads(n, ADS_PARAMETERS.ALERTS));
    for (let i = 1; i < alerts.length; i++) expect(alerts[i]).toBeLessThan(alerts[i - 1]);
  });

  it('is the weighted geometric mean of the desirabilities', () => {
    const props = { MW: 300, ALOGP: 2.5, HBA: 4, HBD: 1, PSA: 60, ROTB: 4, AROM: 2, ALERTS: 0 };
    const d = QED_PROPERTY_NAMES.map((n) => ads(props[n], ADS_PARAMETERS[n]));
    const unweighted = Math.exp(d.reduce((s, x) => s + Math.log(x), 0) / 8);
    expect(qedFromProperties(props, WEIGHT_NONE)).toBeCloseTo(unweighted, 12);
    // WEIGHT_MAX has zero weights for HBA and PSA, so those properties do not matter.
    expect(qedFromProperties({ ...props, HBA: 40, PSA: 400 }, WEIGHT_MAX)).toBeCloseTo(qedFromProperties(props, WEIGHT_MAX), 12);
    expect(qedFromProperties(props)).toBeCloseTo(qedFromProperties(props, WEIGHT_MEAN), 15);
  });
});

describe('qedBatch', () => {
  it('returns one row per input, in order, with typed errors for bad SMILES', async () => {
    const rows = await qedBatch(['CCO', 'C1CC', '', 'CN(C)(C)(C)C', 'CCO name', 'OCC'], { rdkit });
    expect(rows).toHaveLength(6);
    expect(rows[0]).toMatchObject({ smiles: 'CCO', canonical: 'CCO' });
    expect((rows[0] as { qed: number }).qed).toBeGreaterThan(0);
    expect(rows[1]).toEqual({ smiles: 'C1CC', error: expect.stringMatching(/unclosed ring/) });
    expect(rows[2]).toEqual({ smiles: '', error: 'empty SMILES' });
    expect(rows[3]).toEqual({ smiles: 'CN(C)(C)(C)C', error: expect.stringMatching(/valence/i) });
    expect(rows[4]).toEqual({ smiles: 'CCO name', error: 'SMILES contains whitespace' });
    // Same molecule written differently: same canonical SMILES and QED.
    expect(rows[5]).toEqual({ ...rows[0], smiles: 'OCC' });
  });

  it('loads RDKit itself when none is given', async () => {
    const [row] = await qedBatch(['c1ccccc1']);
    expect(row).toMatchObject({ canonical: 'c1ccccc1' });
  });
});
