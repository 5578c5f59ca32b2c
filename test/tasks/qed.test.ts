import { beforeAll, describe, expect, it } from 'vitest';
import { loadRdkit, qedBatch, qedOf, qedProperties, qedFromProperties, ads, isQedError, WEIGHT_MEAN, WEIGHT_NONE, WEIGHT_MAX, type RDKitModule } from '../../src/tasks/qed';
import { ADS_PARAMETERS, STRUCTURAL_ALERT_SMARTS, ACCEPTOR_SMARTS } from '../../src/tasks/qed-data';

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
