/**
 * A task definition → its training and evaluation rows: the builder reads the files (through a
 * FetchText, so the browser and Node share the code), the split rule assigns rows, over-long fields
 * are cut or their rows dropped (maxChars), seeded samples cap the sizes (maxTrain, maxEval), and
 * only then are expensive labels computed (QED through RDKit), so tiny runs stay fast.
 */
import { blosumDescriptor, parseResidueTable } from '../data/blosum';
import type { FetchText } from '../data/builtin';
import { parseDataset } from '../data/parse';
import { splitByKey } from '../data/split';
import { canonicalSmiles } from '../tasks/smiles';
import { Rng } from '../model/sampling';
import { parseTemplate } from '../tags/template';
import { buildDavis } from '../tasks/davis';
import { collectMolecules } from '../tasks/molecules';
import { isQedError, qedOf } from '../tasks/qed';
import type { RDKitModule } from '../tasks/rdkit';
import { buildSynergy } from '../tasks/synergy';
import { buildTranslation, TATOEBA_LANGUAGES } from '../tasks/translation';
import type { SplitName } from '../tasks/types';
import { checkDatasetTask, findDataset, usableRows, type ExperimentDataset } from './dataset-task';
import { inputFields, Problems, tagFields } from './tasks';
import type { DataSource, TaskCaps, TaskDefinition } from './types';

export type Row = Record<string, string>;

export interface LoadedTask {
  task: TaskDefinition;
  train: Row[];
  test: Row[];
  /** Per row: its group (translation: train rows by language pair "EN-FR", test rows by direction "FR→EN"). */
  trainGroups: string[];
  testGroups: string[];
  /** Rows that are neither trained nor evaluated on, but whose text may train domain tags (stage 1): Tatoeba EN↔ES for <ES>. */
  unlabeled: Row[];
  report: {
    /** Rows the split gave, before caps. */
    available: { train: number; test: number };
    /** Rows left out because a field was longer than maxChars. */
    overLength: number;
    notes: string[];
  };
}

export interface DataContext {
  fetchText: FetchText;
  /** RDKit, loaded on first use (QED labels). */
  rdkit: () => Promise<RDKitModule>;
  /** Data sets of the workbench that "dataset" tasks name (Data panel, CLI --data). */
  datasets?: readonly ExperimentDataset[];
}

interface Item {
  row: Row;
  split?: SplitName;
  group?: string;
}

interface Built {
  items: Item[];
  unlabeled?: Item[];
  notes: string[];
  /** Computes labels for the chosen rows (after truncation and caps); may drop rows. */
  label?: (rows: Row[]) => Promise<{ rows: Row[]; notes: string[] }>;
}

const MOLECULE_FILES = ['BBBP.csv', 'bace.csv', 'clintox.csv', 'delaney.csv', 'freesolv.csv', 'lipo.csv', 'tox21.csv'].map((f) => `molecules/${f}`);

export async function loadTask(task: TaskDefinition, caps: TaskCaps, ctx: DataContext): Promise<LoadedTask> {
  const built = task.data.builder === 'dataset' ? buildFromDataset(task, ctx) : await build(task.data, ctx);
  const notes = [...built.notes];
  const splitSeed = task.split.kind === 'random' ? (task.split.seed ?? 0) : 0;

  // Split, by distinct input (keyOf): rows that repeat an input stay on one side.
  const tpl = parseTemplate(task.template);
  const keyOf = await inputKey(task, tpl, ctx);
  const split = task.split;
  let items = built.items;
  if (split.kind === 'random') {
    const parts = splitByKey(items, (it) => keyOf(it.row), { seed: splitSeed, fractions: { train: 1 - split.test - (split.validation ?? 0), validation: split.validation ?? 0, test: split.test } });
    items = (['train', 'validation', 'test'] as const).flatMap((s) => parts[s].map((it) => ({ ...it, split: s })));
  } else if (split.kind === 'column') {
    const test = new Set(split.test);
    const val = new Set(split.validation ?? []);
    const missing = items.filter((it) => !(split.column in it.row)).length;
    if (missing === items.length && items.length > 0) throw new Error(`${task.id}: the data has no column "${split.column}" for the split.`);
    items = items.map((it) => {
      const v = String(it.row[split.column] ?? '').trim();
      return { ...it, split: test.has(v) ? 'test' : val.has(v) ? 'validation' : 'train' };
    });
  } else if (items.some((it) => !it.split)) throw new Error(`${task.id}: the ${task.data.builder} data has no predefined split.`);

  // Over-long fields: cut or drop.
  const nameFields = new Set(tagFields(tpl));
  const numericOut = task.output.kind !== 'text';
  const checked = tpl.fields.filter((f) => !nameFields.has(f) && !(numericOut && f === task.output.field));
  let overLength = 0;
  const fit = (it: Item): Item | null => {
    const max = caps.maxChars;
    if (!max) return it;
    let row = it.row;
    for (const f of checked) {
      const v = row[f];
      if (v === undefined) continue;
      const cps = Array.from(v);
      if (cps.length <= max) continue;
      if ((task.fields?.[f]?.overLength ?? 'drop') === 'drop') return null;
      row = { ...row, [f]: cps.slice(0, max).join('') };
    }
    return row === it.row ? it : { ...it, row };
  };
  const fitAll = (xs: Item[]) =>
    xs.flatMap((it) => {
      const r = fit(it);
      if (!r) overLength++;
      return r ? [r] : [];
    });
  const testItems = fitAll(items.filter((it) => it.split === 'test'));
  // No leakage: a training row whose input (after truncation) is also a test input is left out —
  // predefined folds (Davis pairs of identical sequences, DeepSynergy) and cut sequences can repeat one.
  const testKeys = new Set(testItems.map((it) => keyOf(it.row)));
  let leaked = 0;
  const trainItems = fitAll(items.filter((it) => it.split === 'train')).filter((it) => {
    const leak = testKeys.has(keyOf(it.row));
    if (leak) leaked++;
    return !leak;
  });
  if (leaked > 0) notes.push(`${leaked} training rows left out: their input is also a test input.`);
  const unlabeledItems = fitAll(built.unlabeled ?? []);
  if (overLength > 0) notes.push(`${overLength} rows left out: a field longer than maxChars = ${caps.maxChars}.`);

  // Caps: a seeded sample per group, in source order.
  const capped = (xs: Item[], max: number | undefined, salt: number) => {
    if (!max) return xs;
    const groups = new Map<string, Item[]>();
    for (const it of xs) groups.set(it.group ?? '', [...(groups.get(it.group ?? '') ?? []), it]);
    return [...groups.values()].flatMap((g) => sample(g, max, splitSeed * 7919 + salt));
  };
  let train = capped(trainItems, caps.maxTrain, 101);
  let test = capped(testItems, caps.maxEval, 202);
  const unlabeled = capped(unlabeledItems, caps.maxTrain, 303);

  // Labels that cost something are computed for the chosen rows only.
  if (built.label) {
    const lab = async (xs: Item[]) => {
      const r = await built.label!(xs.map((x) => x.row));
      notes.push(...r.notes);
      const kept = new Set(r.rows.map((x) => x.__key));
      const byKey = new Map(r.rows.map((x) => [x.__key, x]));
      return xs.filter((x) => kept.has(x.row.__key)).map((x) => ({ ...x, row: stripKey(byKey.get(x.row.__key)!) }));
    };
    train = await lab(train.map(keyed));
    test = await lab(test.map(keyed));
  }
  const why = overLength ? ` (${overLength} rows were longer than maxChars = ${caps.maxChars})` : '';
  if (train.length === 0) throw new Error(`${task.id}: no training rows; check the split rule and the caps${why}.`);
  if (test.length === 0) throw new Error(`${task.id}: no evaluation rows; check the split rule and the caps${why}.`);
  return {
    task,
    train: train.map((x) => x.row),
    test: test.map((x) => x.row),
    trainGroups: train.map((x) => x.group ?? task.id),
    testGroups: test.map((x) => x.group ?? task.id),
    unlabeled: unlabeled.map((x) => x.row),
    report: { available: { train: trainItems.length, test: testItems.length }, overLength, notes },
  };
}

/**
 * The identity of a row's input: its tag-name fields (translation direction) and input fields, with
 * SMILES fields (FieldRule.smiles) in RDKit canonical form. Two rows with the same key are the same
 * question, whatever their labels.
 */
async function inputKey(task: TaskDefinition, tpl: ReturnType<typeof parseTemplate>, ctx: DataContext): Promise<(r: Row) => string> {
  const fields = [...tagFields(tpl), ...inputFields(task, tpl)];
  const smiles = new Set(Object.entries(task.fields ?? {}).flatMap(([f, r]) => (r.smiles ? [f] : [])));
  const rdkit = smiles.size ? await ctx.rdkit() : null;
  const cache = new Map<string, string>();
  const canon = (s: string) => {
    let c = cache.get(s);
    if (c === undefined) {
      const r = canonicalSmiles(rdkit!, s);
      c = r.ok ? r.canonical : s;
      cache.set(s, c);
    }
    return c;
  };
  return (r) => JSON.stringify(fields.map((f) => (smiles.has(f) ? canon(r[f] ?? '') : (r[f] ?? ''))));
}

let keyCounter = 0;
const keyed = (it: Item): Item => ({ ...it, row: { ...it.row, __key: String(keyCounter++) } });
function stripKey(r: Row): Row {
  const { __key: _k, ...rest } = r;
  void _k;
  return rest;
}

/** A seeded sample of `n` items, kept in their original order. */
export function sample<T>(xs: readonly T[], n: number, seed: number): T[] {
  if (xs.length <= n) return [...xs];
  const idx = xs.map((_, i) => i);
  const rng = new Rng(seed >>> 0);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => xs[i]);
}

const fmt = (x: number) => String(x);

async function build(src: DataSource, ctx: DataContext): Promise<Built> {
  const get = ctx.fetchText;
  switch (src.builder) {
    case 'qed': {
      const files = src.files ?? MOLECULE_FILES;
      const rdkit = await ctx.rdkit();
      const texts = await Promise.all(files.map(async (f) => ({ name: f.split('/').pop()!, text: await get(f) })));
      const pool = collectMolecules(texts, rdkit);
      const skipped = pool.files.reduce((n, f) => n + f.skipped.length, 0);
      return {
        items: pool.molecules.map((m) => ({ row: { input: m.canonical } })),
        notes: [`${pool.molecules.length} distinct molecules (RDKit canonical SMILES) from ${files.length} file(s); ${pool.duplicates} repeats merged, ${skipped} rows unusable.`],
        label: async (rows) => {
          const out: Row[] = [];
          let failed = 0;
          for (const r of rows) {
            const q = qedOf(rdkit, r.input);
            if (isQedError(q)) failed++;
            else out.push({ ...r, output: fmt(q.qed) });
          }
          return { rows: out, notes: failed ? [`${failed} molecules without a QED (RDKit failed) left out.`] : [] };
        },
      };
    }
    case 'descriptor': {
      const table = parseResidueTable(await get(src.table ?? 'descriptors/BLOSUM1.csv'));
      const json: unknown = JSON.parse(await get(src.proteins ?? 'binding/davis/proteins.txt'));
      if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('descriptor: the proteins file must be a JSON object name → sequence.');
      // One row per distinct sequence (Davis lists some under several names: 442 names, 379 sequences),
      // so a sequence cannot be both trained on and tested.
      const bySeq = new Map<string, string[]>();
      let named = 0;
      for (const [name, seq] of Object.entries(json as Record<string, unknown>)) {
        const s = typeof seq === 'string' ? seq.replace(/\s+/g, '') : '';
        if (!s) continue;
        named++;
        const names = bySeq.get(s);
        if (names) names.push(name);
        else bySeq.set(s, [name]);
      }
      const items: Item[] = [...bySeq].map(([input, names]) => ({ row: { name: names.join(', '), input } }));
      return {
        items,
        notes: [`${items.length} distinct protein sequences (${named - items.length} repeats under other names merged); label = mean BLOSUM1 value of the residues the model sees (after maxChars).`],
        // The label is a function of the input: computed on the (possibly truncated) sequence.
        label: async (rows) => ({ rows: rows.map((r) => ({ ...r, output: fmt(blosumDescriptor(r.input, table)) })), notes: [] }),
      };
    }
    case 'davis': {
      const dir = (src.dir ?? 'binding/davis').replace(/\/$/, '');
      const [proteins, ligands, affinity, trainFolds, testFold] = await Promise.all(
        ['proteins.txt', 'ligands_can.txt', 'drug-target_interaction_affinities_Kd__Davis_et_al.2011v1.txt', 'train_fold_setting1.txt', 'test_fold_setting1.txt'].map((f) => get(`${dir}/${f}`)),
      );
      const b = buildDavis({ proteins, ligands, affinity, trainFolds, testFold });
      if (b.report.errors.length) throw new Error(`Davis: ${b.report.errors.join('; ')}`);
      return {
        items: b.examples.map((e) => ({ row: { input0: e.protein, input1: e.smiles, output: fmt(e.label) }, split: e.split })),
        notes: [`Davis: ${b.examples.length} protein–drug pairs (DeepDTA setting-1 folds: train folds → train, test fold → test); label pKd.`],
      };
    }
    case 'synergy': {
      const [labels, drugSmiles] = await Promise.all([get(src.labels ?? 'synergy/deepsynergy_oneil_labels.csv'), get(src.smiles ?? 'synergy/drug_smiles.csv')]);
      const b = buildSynergy({ labels, drugSmiles }, { testFold: src.testFold ?? 0 });
      if (b.report.errors.length) throw new Error(`Synergy: ${b.report.errors.join('; ')}`);
      return {
        items: b.examples.map((e) => ({
          row: { name1: e.drugA, smiles1: e.smilesA, name2: e.drugB, smiles2: e.smilesB, cell: e.cellLine, output: fmt(e.label) },
          split: e.split,
        })),
        notes: [`O'Neil combinations: ${b.examples.length} rows, fold ${src.testFold ?? 0} = test; label Loewe synergy.`, ...(b.report.notes ?? [])],
      };
    }
    case 'tatoeba':
      return buildTatoeba(src, get);
    case 'dataset':
      throw new Error('unreachable: dataset tasks are built by buildFromDataset');
    case 'table': {
      const text = await get(src.file);
      const ds = parseDataset(text, { format: src.format, name: src.file });
      const missing = Object.values(src.columns).filter((c) => !ds.columns.includes(c));
      if (missing.length) throw new Error(`${src.file}: no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (columns: ${ds.columns.join(', ')}).`);
      let empty = 0;
      const items: Item[] = [];
      for (const r of ds.rows) {
        const row: Row = { ...r };
        for (const [field, col] of Object.entries(src.columns)) row[field] = (r[col] ?? '').trim();
        if (Object.keys(src.columns).some((f) => row[f] === '')) empty++;
        else items.push({ row });
      }
      return { items, notes: [`${src.file}: ${items.length} rows${empty ? `, ${empty} with an empty mapped column left out` : ''}.`] };
    }
  }
}

/** A workbench data set's rows through the task's column mapping (rows with an empty mapped value, or a regression target that is not a number, left out). */
function buildFromDataset(task: TaskDefinition, ctx: DataContext): Built {
  const src = task.data as Extract<DataSource, { builder: 'dataset' }>;
  const p = new Problems();
  checkDatasetTask(task, ctx.datasets ?? [], task.id, p);
  if (!p.ok) throw new Error(p.list.join('; '));
  const u = usableRows(task, findDataset(ctx.datasets ?? [], src.name)!);
  const left = [u.empty ? `${u.empty} with an empty mapped column` : '', u.nonNumeric ? `${u.nonNumeric} whose target is not a number` : ''].filter(Boolean);
  return { items: u.rows.map((row) => ({ row })), notes: [`${src.name}: ${u.rows.length} rows${left.length ? `; left out: ${left.join(', ')}` : ''}.`] };
}

const THREE_LETTER = Object.fromEntries(Object.entries(TATOEBA_LANGUAGES).map(([three, two]) => [two, three]));

async function buildTatoeba(src: Extract<DataSource, { builder: 'tatoeba' }>, get: FetchText): Promise<Built> {
  const trainPairs = (src.trainPairs ?? ['fr', 'ru', 'de', 'it', 'el']).map((l) => l.toLowerCase());
  const pivots = (src.pivots ?? [['it', 'fr'], ['es', 'pt']]).map(([a, b]) => [a.toLowerCase(), b.toLowerCase()] as [string, string]);
  const langs = [...new Set([...trainPairs, ...pivots.flat()])].filter((l) => l !== 'en');
  const dir = (src.dir ?? 'translation').replace(/\/$/, '');
  const files = (
    await Promise.all(
      langs.map(async (l) => {
        const x = THREE_LETTER[l];
        if (!x) throw new Error(`Tatoeba: no files for language "${l}" (known: ${Object.keys(THREE_LETTER).filter((c) => c !== 'en').join(', ')}).`);
        return [
          { name: `tatoeba.${x}-eng.${x}`, text: await get(`${dir}/tatoeba.${x}-eng.${x}`) },
          { name: `tatoeba.${x}-eng.eng`, text: await get(`${dir}/tatoeba.${x}-eng.eng`) },
        ];
      }),
    )
  ).flat();
  const tf = src.testFraction ?? 0.2;
  const b = buildTranslation(files, { seed: src.seed ?? 0, fractions: { train: 1 - tf, validation: 0, test: tf }, pivots });
  if (b.report.errors.length) throw new Error(`Tatoeba: ${b.report.errors.join('; ')}`);
  const up = (l: string) => l.toUpperCase();
  // Sentences of the zero-shot pairs never train anything (neither <Translate> nor the language tags).
  const held = new Set(b.examples.filter((e) => e.pivot).flatMap((e) => [e.source, e.target]));
  const items: Item[] = [];
  const unlabeled: Item[] = [];
  let removed = 0;
  for (const e of b.examples) {
    const row: Row = { srcLang: up(e.srcLang), tgtLang: up(e.tgtLang), source: e.source, target: e.target };
    const other = e.srcLang === 'en' ? e.tgtLang : e.srcLang;
    if (e.pivot) items.push({ row, split: 'test', group: `${row.srcLang}→${row.tgtLang}` });
    else if (e.split === 'train' && (held.has(e.source) || held.has(e.target))) removed++;
    else if (trainPairs.includes(other)) {
      items.push({ row, split: e.split, group: e.split === 'train' ? ['EN', up(other)].join('-') : `${row.srcLang}→${row.tgtLang}` });
    } else if (e.split === 'train') unlabeled.push({ row, group: up(other) });
  }
  return {
    items,
    unlabeled,
    notes: [
      `Tatoeba: training pairs EN↔${trainPairs.map(up).join('/')}; zero-shot ${pivots.map(([a, c]) => `${up(a)}↔${up(c)}`).join(', ')} (${b.examples.filter((e) => e.pivot).length} rows through identical English sentences).`,
      ...(removed ? [`${removed} training rows left out: their sentences are in a zero-shot test pair.`] : []),
    ],
  };
}
