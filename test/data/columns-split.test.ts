import { describe, expect, it } from 'vitest';
import { mapColumns, requireNumber } from '../../src/data/columns';
import { parseDataset } from '../../src/data/parse';
import { splitDataset } from '../../src/data/split';

describe('mapColumns / requireNumber', () => {
  const d = parseDataset('smiles,p_np,name\nCCO,1,ethanol\n,0,nothing\nCC,nan,ethane\nC,  ,methane\nO,1e-3,water\nN,Infinity,x\n', { format: 'csv' });

  it('renames columns to fields, and skips empty values and non-numeric labels with their lines', () => {
    const m = mapColumns(d.rows, { input: 'smiles', output: 'p_np' }, { lines: d.lines, checks: [requireNumber('output')] });
    expect(m.rows).toEqual([
      { input: 'CCO', output: '1' },
      { input: 'O', output: '1e-3' },
    ]);
    expect(m.lines).toEqual([2, 6]);
    expect(m.skipped).toEqual([
      { line: 3, reason: 'empty "smiles" (for field {input})' },
      { line: 4, reason: '{output} is "nan", not a number' },
      { line: 5, reason: 'empty "p_np" (for field {output})' },
      { line: 7, reason: '{output} is "Infinity", not a number' },
    ]);
  });

  it('allowEmpty lets empty values through to the checks; rows are numbered without lines', () => {
    const m = mapColumns(d.rows, { output: 'p_np' }, { allowEmpty: true, checks: [requireNumber('output')] });
    expect(m.skipped).toEqual([
      { line: 3, reason: '{output} is "nan", not a number' },
      { line: 4, reason: '{output} is empty, expected a number' },
      { line: 6, reason: '{output} is "Infinity", not a number' },
    ]);
  });

  it('a column that does not exist is a mapping error, not a skipped row', () => {
    expect(() => mapColumns(d.rows, { input: 'SMILES' })).toThrow('Column "SMILES" (for field {input}) is not in the data (columns: smiles, p_np, name).');
  });
});

describe('splitDataset', () => {
  const rows = Array.from({ length: 101 }, (_, i) => i);

  it('is deterministic per seed, sized by the fractions, and a partition', () => {
    const a = splitDataset(rows, { seed: 42, fractions: { train: 0.8, validation: 0.1, test: 0.1 } });
    expect(splitDataset(rows, { seed: 42, fractions: { train: 0.8, validation: 0.1, test: 0.1 } })).toEqual(a);
    expect([a.train.length, a.validation.length, a.test.length]).toEqual([81, 10, 10]);
    expect([...a.train, ...a.validation, ...a.test].sort((x, y) => x - y)).toEqual(rows);
    // Each part keeps the source order.
    for (const part of [a.train, a.validation, a.test]) expect(part).toEqual([...part].sort((x, y) => x - y));
    const b = splitDataset(rows, { seed: 43, fractions: { train: 0.8, validation: 0.1, test: 0.1 } });
    expect(b.test).not.toEqual(a.test);
  });

  it('normalises fractions and rejects invalid ones', () => {
    const s = splitDataset(rows.slice(0, 10), { seed: 1, fractions: { train: 3, validation: 1, test: 1 } });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([6, 2, 2]);
    expect(splitDataset([], { seed: 1, fractions: { train: 1, validation: 0, test: 0 } })).toEqual({ train: [], validation: [], test: [] });
    expect(() => splitDataset(rows, { seed: 1, fractions: { train: 0, validation: 0, test: 0 } })).toThrow(/must not all be 0/);
    expect(() => splitDataset(rows, { seed: 1, fractions: { train: 1, validation: -0.1, test: 0 } })).toThrow(/finite and ≥ 0/);
  });
});
