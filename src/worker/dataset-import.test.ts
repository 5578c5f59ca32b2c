/** The worker's datasetImport: junk refused with a reason, ; and | tables read, invalid SMILES reported (real RDKit). */
import { describe, expect, it } from 'vitest';
import { fakeClient } from '../../test/worker/fake-engine';

describe('datasetImport', () => {
  const { client } = fakeClient();

  it('refuses an empty file, a header without rows and a PNG renamed .csv', async () => {
    await expect(client.request('datasetImport', { text: '', name: 'empty.csv' })).rejects.toThrow(/empty\.csv is empty/);
    await expect(client.request('datasetImport', { text: 'smiles,label\n', name: 'h.csv' })).rejects.toThrow(/no records \(only a header: smiles, label\)/);
    const png = new TextDecoder().decode(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3, 200, 201]));
    await expect(client.request('datasetImport', { text: png, name: 'photo.csv' })).rejects.toThrow(/PNG image/);
  });

  it('reads a semicolon-delimited file as columns', async () => {
    const r = await client.request('datasetImport', { text: 'text;label\nhello;1\nworld;2\n', name: 'semi.csv' });
    expect(r.columns).toEqual(['text', 'label']);
    expect(r.rows).toEqual([
      { text: 'hello', label: '1' },
      { text: 'world', label: '2' },
    ]);
  });

  it('skips rows whose SMILES RDKit cannot read, listing each with its line', async () => {
    const text = ['smiles,label', 'CCO,1', 'C1CC,2', 'c1ccccc1,3', 'not_a_molecule,4', ',5'].join('\n');
    const r = await client.request('datasetImport', { text, name: 'mols.csv' });
    expect(r.rows.map((x) => x.smiles)).toEqual(['CCO', 'c1ccccc1', '']);
    expect(r.lines).toEqual([2, 4, 6]);
    expect(r.report.kept).toBe(3);
    expect(r.report.skipped.map((s) => s.line)).toEqual([3, 5]);
    expect(r.report.skipped[0].reason).toMatch(/^invalid SMILES in "smiles": "C1CC" \(RDKit: .+\)/);
  }, 60_000);
});
