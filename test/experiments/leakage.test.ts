/**
 * No leakage: for every built-in task, loaded from the shipped data with its own split, no test input
 * occurs among the training inputs. The identity of an input is computed here independently of the
 * loader: the tag-name fields and input fields, SMILES in RDKit canonical form, protein sequences
 * without whitespace. Also: the grouped split and the leak filter on a table whose rows repeat.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitByKey } from '../../src/data/split';
import { loadTask, type DataContext, type Row } from '../../src/experiments/data';
import { BUILTIN_TASKS, builtinTask } from '../../src/experiments/tasks';
import { loadRdkit, type RDKitModule } from '../../src/tasks/rdkit';

const dataDir = new URL('../../public/data/', import.meta.url);
let rdkit: RDKitModule;
let ctx: DataContext;
beforeAll(async () => {
  rdkit = await loadRdkit();
  ctx = { fetchText: (p) => readFile(new URL(p, dataDir), 'utf8'), rdkit: async () => rdkit };
});

/** Per task: the fields that make up an input, and which hold SMILES. */
const INPUTS: Record<string, { fields: string[]; smiles: string[] }> = {
  qed: { fields: ['input'], smiles: ['input'] },
  descriptor: { fields: ['input'], smiles: [] },
  binding: { fields: ['input0', 'input1'], smiles: ['input1'] },
  synergy: { fields: ['name1', 'smiles1', 'name2', 'smiles2', 'cell'], smiles: ['smiles1', 'smiles2'] },
  translation: { fields: ['srcLang', 'tgtLang', 'source'], smiles: [] },
};

function canonical(s: string): string {
  const mol = rdkit.get_mol(s);
  if (!mol) return s;
  try {
    return mol.get_smiles();
  } finally {
    mol.delete();
  }
}

function keyOf(id: string, r: Row, memo: Map<string, string>): string {
  const { fields, smiles } = INPUTS[id];
  return fields
    .map((f) => {
      const v = (r[f] ?? '').replace(/\s+/g, id === 'translation' ? ' ' : '');
      if (!smiles.includes(f)) return v;
      let c = memo.get(v);
      if (c === undefined) memo.set(v, (c = canonical(v)));
      return c;
    })
    .join('\u0001');
}

describe('no test input is a training input', () => {
  it('covers every built-in task', () => {
    expect(Object.keys(INPUTS).sort()).toEqual(BUILTIN_TASKS.map((t) => t.id).sort());
  });

  for (const id of Object.keys(INPUTS)) {
    it(id, async () => {
      // QED labels cost an RDKit call per molecule: cap the rows whose labels are computed, not the split.
      const lt = await loadTask(builtinTask(id)!, id === 'qed' ? { maxTrain: 4000, maxEval: 2000 } : {}, ctx);
      const memo = new Map<string, string>();
      const train = new Set(lt.train.map((r) => keyOf(id, r, memo)));
      const leaked = lt.test.filter((r) => train.has(keyOf(id, r, memo)));
      expect(lt.test.length).toBeGreaterThan(0);
      expect(lt.train.length).toBeGreaterThan(0);
      expect(leaked.map((r) => keyOf(id, r, memo).slice(0, 60))).toEqual([]);
    }, 300_000);
  }

  it('the descriptor task has one row per distinct sequence', async () => {
    const lt = await loadTask(builtinTask('descriptor')!, {}, ctx);
    const all = [...lt.train, ...lt.test].map((r) => r.input);
    expect(new Set(all).size).toBe(all.length);
    const proteins = JSON.parse(await ctx.fetchText('binding/davis/proteins.txt')) as Record<string, string>;
    // Every sequence the data has is in exactly one part (validation aside).
    expect(all.length).toBeLessThan(Object.keys(proteins).length);
  });
});

describe('split by input', () => {
  it('splitByKey keeps every row of one key in one part', () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({ k: `m${i % 37}`, i }));
    const s = splitByKey(rows, (r) => r.k, { seed: 3, fractions: { train: 0.7, validation: 0.1, test: 0.2 } });
    const part = new Map<string, string>();
    for (const [name, xs] of Object.entries(s)) {
      for (const r of xs) {
        expect(part.get(r.k) ?? name).toBe(name);
        part.set(r.k, name);
      }
    }
    expect(s.train.length + s.validation.length + s.test.length).toBe(300);
    expect(s.test.length).toBeGreaterThan(0);
  });

  it('a table whose molecules repeat under different spellings is split by canonical SMILES', async () => {
    // Ethanol written three ways, benzene two ways, and more molecules; labels differ per row.
    const mols = ['CCO', 'OCC', 'C(O)C', 'c1ccccc1', 'C1=CC=CC=C1', 'CCN', 'CCC', 'CCCl', 'CC(=O)O', 'CCOC', 'CCCC', 'CCBr', 'CC#N', 'C1CC1', 'C1CCC1', 'CC=O', 'COC', 'CN', 'CS', 'CF'];
    const csv = ['smiles,y', ...mols.map((m, i) => `"${m}",${i}`)].join('\n');
    const task = { ...builtinTask('qed')!, id: 'tab', data: { builder: 'table' as const, file: 't.csv', columns: { input: 'smiles', output: 'y' } }, fields: { input: { smiles: true } }, split: { kind: 'random' as const, seed: 0, test: 0.3 } };
    for (let seed = 0; seed < 8; seed++) {
      const lt = await loadTask({ ...task, split: { ...task.split, seed } }, {}, { ...ctx, fetchText: async () => csv });
      const train = new Set(lt.train.map((r) => canonical(r.input)));
      expect(lt.test.filter((r) => train.has(canonical(r.input)))).toEqual([]);
    }
  });
});
