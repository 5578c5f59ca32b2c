import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { blosumDescriptor, parseResidueTable } from '../../src/data/blosum';
import { BUILTIN_DATASETS, builtinDataset, loadTatoeba, type FetchText } from '../../src/data/builtin';

const fromPublic: FetchText = (path) => readFile(`public/data/${path}`, 'utf8');

describe('BLOSUM1 descriptor', () => {
  const table = parseResidueTable('A,0.08\nC,-1.08\nD,1.55\nK,1.14\nM,-0.96\nV,-1.13\n');

  it('is the mean value per residue; unknown residues add 0 but count', () => {
    // M K V: (−0.96 + 1.14 − 1.13) / 3 = −0.95 / 3.
    expect(blosumDescriptor('MKV', table)).toBeCloseTo(-0.95 / 3, 12);
    // A C D X: (0.08 − 1.08 + 1.55 + 0) / 4 = 0.1375.
    expect(blosumDescriptor('ACDX', table)).toBeCloseTo(0.1375, 12);
    // Case and whitespace (spaced residues) do not matter.
    expect(blosumDescriptor('m k v', table)).toBeCloseTo(-0.95 / 3, 12);
    expect(() => blosumDescriptor('  ', table)).toThrow(/empty sequence/);
  });

  it('reads the shipped table (20 residues) and rejects malformed rows', async () => {
    const t = parseResidueTable(await fromPublic('descriptors/BLOSUM1.csv'));
    expect(t.size).toBe(20);
    expect(t.get('W')).toBe(-1.58);
    expect(parseResidueTable('AA,value\nA,1\n').get('A')).toBe(1); // header row allowed
    expect(() => parseResidueTable('A,1\nBC,2\n')).toThrow(/row 2: expected "letter,number"/);
  });
});

describe('built-in datasets (read from public/data)', () => {
  it('SMILES molecules: unique SMILES from all molecule files, one input field', async () => {
    const d = await builtinDataset('smiles')!.load(fromPublic);
    expect(d.columns).toEqual(['input']);
    expect(new Set(d.rows.map((r) => r.input)).size).toBe(d.rows.length);
    expect(d.rows.length).toBeGreaterThan(10_000);
    expect(d.rows[0]).toEqual({ input: '[Cl].CC(C)NCC(O)COc1cccc2ccccc12' }); // first row of BBBP.csv
    expect(d.rows.some((r) => r.input.startsWith('O1CC[C@@H](NC(=O)'))).toBe(true); // bace.csv's "mol" column
    expect(d.report.kept).toBe(d.rows.length);
    expect(d.report.notes?.[0]).toMatch(/^\d+ duplicate SMILES merged$/);
  });

  it('Protein sequences: output = BLOSUM1 mean of the sequence', async () => {
    const d = await builtinDataset('protein-blosum1')!.load(fromPublic);
    expect(d.rows.length).toBe(442);
    const table = parseResidueTable(await fromPublic('descriptors/BLOSUM1.csv'));
    const aak1 = d.rows.find((r) => r.name === 'AAK1')!;
    expect(aak1.input.startsWith('MKKFFDSRREQ')).toBe(true);
    expect(Number(aak1.output)).toBe(blosumDescriptor(aak1.input, table));
    for (const r of d.rows) expect(Number.isFinite(Number(r.output))).toBe(true);
  });

  it('Tatoeba: line-aligned pairs in both directions with tag-style language codes', async () => {
    const d = await builtinDataset('tatoeba')!.load(fromPublic);
    expect(d.columns).toEqual(['source', 'target', 'srcLang', 'tgtLang']);
    expect(d.rows[0]).toEqual({ source: 'Au commencement, Dieu créa le ciel et la terre.', target: 'In the beginning God created the heaven and the earth.', srcLang: 'FR', tgtLang: 'EN' });
    expect(d.rows[1]).toEqual({ source: 'In the beginning God created the heaven and the earth.', target: 'Au commencement, Dieu créa le ciel et la terre.', srcLang: 'EN', tgtLang: 'FR' });
    expect(new Set(d.rows.map((r) => r.srcLang))).toEqual(new Set(['EN', 'FR', 'DE', 'RU', 'IT', 'EL', 'ES', 'PT']));
    expect(d.report).toMatchObject({ total: 7000, kept: 7000, skipped: [] });
    expect(d.rows.length).toBe(14000);
  });

  it('Tatoeba: skips unpaired and empty lines', async () => {
    const files: Record<string, string> = {
      'translation/tatoeba.spa-eng.spa': 'Hola.\n\nTres.\nCuatro.\n',
      'translation/tatoeba.spa-eng.eng': 'Hello.\nTwo.\nThree.\n',
    };
    const d = await loadTatoeba(async (p) => files[p], { languages: ['spa'], directions: 'to-en' });
    expect(d.rows).toEqual([
      { source: 'Hola.', target: 'Hello.', srcLang: 'ES', tgtLang: 'EN' },
      { source: 'Tres.', target: 'Three.', srcLang: 'ES', tgtLang: 'EN' },
    ]);
    expect(d.report.skipped).toEqual([
      { line: 2, reason: 'tatoeba.spa-eng: empty sentence' },
      { line: 4, reason: 'tatoeba.spa-eng: line has no partner (the .spa file has 4 lines, .eng 3)' },
    ]);
    await expect(loadTatoeba(fromPublic, { languages: ['xxx'] })).rejects.toThrow(/unknown language "xxx"/);
  });

  it('labeled molecule sets load with numeric outputs', async () => {
    for (const id of ['esol', 'lipophilicity', 'freesolv', 'bbbp']) {
      const d = await builtinDataset(id)!.load(fromPublic);
      expect(d.columns).toEqual(['input', 'output']);
      expect(d.rows.length).toBeGreaterThan(600);
      for (const r of d.rows) expect(Number.isFinite(Number(r.output))).toBe(true);
    }
    expect(BUILTIN_DATASETS.map((d) => d.id)).toEqual(['smiles', 'protein-blosum1', 'tatoeba', 'esol', 'lipophilicity', 'freesolv', 'bbbp']);
  });
});
