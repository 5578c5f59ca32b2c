/**
 * Tables of an experiment's results, in the paper's shape: method rows × task columns with the
 * metric's mean ± std over seeds and each method's trainable parameters; the Tag-LLM ablation table;
 * the tag-length sweep; and, for translation, language pairs × BLEU / chrF per method. As data
 * (buildTables), Markdown and CSV.
 */
import {
  METHOD_LABELS,
  METRIC_INFO,
  VARIANT_LABELS,
  type CellResult,
  type ExperimentMethod,
  type ExperimentResults,
  type TaskDefinition,
  type TranslationScore,
  type Variant,
} from './types';

export interface TableCell {
  mean: number | null;
  /** Sample standard deviation over seeds (null for fewer than 2 values). */
  std: number | null;
  /** Values that went into the mean (one per seed). */
  n: number;
  values: number[];
  /** Cells (seeds) that failed / do not apply / have not run. */
  failed: number;
  na: number;
  missing: number;
  /** Ids of the result cells behind this table cell (to link to their curves). */
  cellIds: string[];
  text: string;
}

export interface TableRow {
  key: string;
  label: string;
  /** Trainable parameters ("86,016", or a range when tasks differ); null where the table has no such column. */
  params: string | null;
  cells: TableCell[];
}

export interface ResultTable {
  title: string;
  /** What the rows are (first column header). */
  rowHeader: string;
  columns: Array<{ key: string; label: string }>;
  rows: TableRow[];
  notes: string[];
}

export interface ResultTables {
  main: ResultTable;
  ablation: ResultTable | null;
  sweep: ResultTable | null;
  translation: ResultTable[];
}

/** A number for a table: 2–3 significant digits for small values, 1–2 decimals for large ones. */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 100) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a >= 0.01) return x.toFixed(3);
  return x.toPrecision(2);
}

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');

function summarise(cells: readonly CellResult[], pick: (c: CellResult) => number | null | undefined = (c) => c.value): TableCell {
  const values: number[] = [];
  let failed = 0;
  let na = 0;
  for (const c of cells) {
    if (c.status === 'failed') failed++;
    else if (c.status === 'n/a') na++;
    else {
      const v = pick(c);
      if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
      else failed++;
    }
  }
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : null;
  const std = n >= 2 ? Math.sqrt(values.reduce((s, v) => s + (v - mean!) ** 2, 0) / (n - 1)) : null;
  let text: string;
  if (mean !== null) text = std !== null ? `${fmtNum(mean)} ± ${fmtNum(std)}` : fmtNum(mean);
  else if (failed) text = 'failed';
  else if (na) text = 'n/a';
  else text = '—';
  if (mean !== null && failed) text += ` (${failed} failed)`;
  return { mean, std, n, values, failed, na, missing: 0, cellIds: cells.map((c) => c.id), text };
}

function withMissing(cell: TableCell, expected: number): TableCell {
  const missing = Math.max(0, expected - cell.cellIds.length);
  return missing && cell.cellIds.length === 0 ? { ...cell, missing, text: '—' } : { ...cell, missing };
}

function paramsText(cells: readonly CellResult[]): string | null {
  const ps = [...new Set(cells.filter((c) => c.status === 'done').map((c) => c.trainableParams))].sort((a, b) => a - b);
  if (ps.length === 0) return null;
  return ps.length === 1 ? fmtInt(ps[0]) : `${fmtInt(ps[0])}–${fmtInt(ps[ps.length - 1])}`;
}

function taskColumns(tasks: readonly TaskDefinition[]): ResultTable['columns'] {
  return tasks.map((t) => {
    const m = METRIC_INFO[t.metric];
    return { key: t.id, label: `${t.title} (${m.label} ${m.higherIsBetter ? '↑' : '↓'})` };
  });
}

export function buildTables(results: ExperimentResults): ResultTables {
  const def = results.definition;
  const seeds = def.seeds.length;
  const cellsOf = (f: (c: CellResult) => boolean) => results.cells.filter(f);
  const columns = taskColumns(def.tasks);

  const rowFor = (key: string, label: string, match: (c: CellResult) => boolean): TableRow => {
    const all = cellsOf(match);
    return {
      key,
      label,
      params: paramsText(all),
      cells: def.tasks.map((t) => withMissing(summarise(all.filter((c) => c.task === t.id)), seeds)),
    };
  };

  const main: ResultTable = {
    title: 'Results',
    rowHeader: 'Method',
    columns,
    rows: def.methods.map((m) => rowFor(m, METHOD_LABELS[m], (c) => c.method === m && c.variant === 'full' && c.tagLength === def.tagLength)),
    notes: [],
  };

  const ablation: ResultTable | null = def.ablations.length
    ? {
        title: 'Ablations (Tag-LLM)',
        rowHeader: 'Variant',
        columns,
        rows: (['full', ...def.ablations] as Variant[]).map((v) =>
          rowFor(v, VARIANT_LABELS[v], (c) => c.method === 'tag-llm' && c.variant === v && c.tagLength === def.tagLength),
        ),
        notes: [],
      }
    : null;

  const lengths = [...new Set([def.tagLength, ...def.tagLengths])].sort((a, b) => a - b);
  const sweep: ResultTable | null = def.tagLengths.length
    ? {
        title: 'Tag length (Tag-LLM)',
        rowHeader: 'Tag length p',
        columns,
        rows: lengths.map((p) => rowFor(`p${p}`, `p = ${p}`, (c) => c.method === 'tag-llm' && c.variant === 'full' && c.tagLength === p)),
        notes: [],
      }
    : null;

  const translation: ResultTable[] = [];
  for (const task of def.tasks) {
    const cells = cellsOf((c) => c.task === task.id && c.variant === 'full' && c.tagLength === def.tagLength && !!c.translation?.length);
    if (!cells.length) continue;
    const methods = def.methods.filter((m) => cells.some((c) => c.method === m));
    const pairs = new Map<string, TranslationScore['group']>();
    for (const c of cells) for (const s of c.translation!) if (!pairs.has(s.pair)) pairs.set(s.pair, s.group);
    const order = ['seen', 'unseen-pair', 'unseen-domain'];
    const sorted = [...pairs].sort((a, b) => order.indexOf(a[1]) - order.indexOf(b[1]));
    const groupLabel = { seen: 'seen', 'unseen-pair': 'seen domains, unseen pair', 'unseen-domain': 'unseen domains' };
    translation.push({
      title: `Translation: ${task.title}`,
      rowHeader: 'Pair',
      columns: methods.flatMap((m) => [
        { key: `${m}:bleu`, label: `${METHOD_LABELS[m]} BLEU` },
        { key: `${m}:chrf`, label: `${METHOD_LABELS[m]} chrF` },
      ]),
      rows: sorted.map(([pair, group]) => ({
        key: pair,
        label: `${pair} (${groupLabel[group]})`,
        params: null,
        cells: methods.flatMap((m: ExperimentMethod) => {
          const mc = cells.filter((c) => c.method === m);
          const score = (c: CellResult, k: 'bleu' | 'chrf') => c.translation?.find((s) => s.pair === pair)?.[k];
          return [summarise(mc, (c) => score(c, 'bleu')), summarise(mc, (c) => score(c, 'chrf'))];
        }),
      })),
      notes: ['BLEU: sacreBLEU-compatible corpus BLEU (13a tokens, exp smoothing) per direction; chrF: corpus chrF (β = 2). Greedy decoding.'],
    });
  }

  const failures = results.cells.filter((c) => c.status === 'failed');
  if (failures.length) main.notes.push(...failures.map((c) => `${c.id} failed: ${c.error ?? 'no value'}`));
  // Unparsable answers, summed over the seeds of each task × method × variant.
  const unparsable = new Map<string, { bad: number; of: number; cells: number }>();
  for (const c of results.cells) {
    if (!(c.unparsable! > 0)) continue;
    const key = `${c.task}/${c.method}${c.variant === 'full' ? '' : `/${c.variant}`}`;
    const u = unparsable.get(key) ?? { bad: 0, of: 0, cells: 0 };
    unparsable.set(key, { bad: u.bad + c.unparsable!, of: u.of + c.evalRows, cells: u.cells + 1 });
  }
  for (const [key, u] of unparsable) {
    main.notes.push(`${key}: ${u.bad} of ${u.of} answers${u.cells > 1 ? ` (${u.cells} cells)` : ''} had no number and predicted the training mean.`);
  }
  return { main, ablation, sweep, translation };
}

// ---------------------------------------------------------------------------------------------
// Markdown

const mdEscape = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function tableMarkdown(t: ResultTable): string {
  const withParams = t.rows.some((r) => r.params !== null);
  const head = [t.rowHeader, ...(withParams ? ['Params'] : []), ...t.columns.map((c) => c.label)];
  const lines = [
    `| ${head.map(mdEscape).join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...t.rows.map((r) => `| ${[r.label, ...(withParams ? [r.params ?? '—'] : []), ...r.cells.map((c) => c.text)].map(mdEscape).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** The whole report: every table present, with notes. */
export function formatMarkdown(results: ExperimentResults): string {
  const tables = buildTables(results);
  const def = results.definition;
  const m = results.model;
  const h = def.hyper;
  const out: string[] = [
    `# ${results.name}`,
    '',
    `Model: ${m.name} (${m.arch}, d = ${m.dModel}). Seeds: ${def.seeds.join(', ')}. Tag length p = ${def.tagLength}. ` +
      `Training per run: ${h.steps ?? 100} steps × batch ${h.batch ?? 4}${h.accum && h.accum > 1 ? ` × ${h.accum}` : ''}, lr ${h.lr ?? 1e-4}` +
      `${def.caps.maxTrain || def.caps.maxEval || def.caps.maxChars ? `; caps: ${capsText(def.caps)}` : ''}. Status: ${results.status}.`,
    '',
    `Mean ± sample std over seeds; ↓ lower is better, ↑ higher is better. Params = trainable parameters (Tag-LLM: domain tags + function tag + head).`,
    '',
  ];
  for (const t of [tables.main, tables.ablation, tables.sweep, ...tables.translation]) {
    if (!t) continue;
    out.push(`## ${t.title}`, '', tableMarkdown(t), '');
    for (const n of t.notes) out.push(`- ${n}`);
    if (t.notes.length) out.push('');
  }
  return out.join('\n');
}

function capsText(c: ExperimentResults['definition']['caps']): string {
  return [c.maxTrain ? `maxTrain ${c.maxTrain}` : '', c.maxEval ? `maxEval ${c.maxEval}` : '', c.maxChars ? `maxChars ${c.maxChars}` : ''].filter(Boolean).join(', ');
}

// ---------------------------------------------------------------------------------------------
// CSV

const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const csvNum = (x: number | null) => (x === null ? '' : String(x));

/** One table as CSV: label, params, then mean, std, n for each column. */
export function tableCsv(t: ResultTable): string {
  const withParams = t.rows.some((r) => r.params !== null);
  const head = [t.rowHeader.toLowerCase().replace(/\s+/g, '_'), ...(withParams ? ['params'] : []), ...t.columns.flatMap((c) => [`${c.key}_mean`, `${c.key}_std`, `${c.key}_n`])];
  const rows = t.rows.map((r) => [r.key, ...(withParams ? [r.params?.replace(/,/g, '') ?? ''] : []), ...r.cells.flatMap((c) => [csvNum(c.mean), csvNum(c.std), String(c.n)])]);
  return [head, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}

/** The main results table (method rows × task columns) as CSV. */
export function formatCsv(results: ExperimentResults): string {
  return tableCsv(buildTables(results).main);
}

/** Every cell, one per line (long format, for analysis elsewhere). */
export function formatCellsCsv(results: ExperimentResults): string {
  const head = ['id', 'task', 'method', 'variant', 'tag_length', 'seed', 'status', 'metric', 'value', 'trainable_params', 'train_rows', 'eval_rows', 'unparsable', 'seconds', 'error'];
  const rows = results.cells.map((c) => [
    c.id,
    c.task,
    c.method,
    c.variant,
    String(c.tagLength),
    String(c.seed),
    c.status,
    c.metric,
    csvNum(c.value),
    String(c.trainableParams),
    String(c.trainRows),
    String(c.evalRows),
    c.unparsable === undefined ? '' : String(c.unparsable),
    c.seconds.toFixed(1),
    c.error ?? '',
  ]);
  return [head, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
}
