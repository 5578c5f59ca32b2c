/**
 * Baselines beyond the protocol's trained ones, both with 0 trainable parameters:
 *   nearest neighbour  the label of the most similar training example (normalised Levenshtein
 *                      similarity of the input fields, averaged over fields)
 *   direct prompting   the frozen model, greedy generation from a prompt that states the task (the
 *                      quantity asked, the target language; tags removed: it has none), cut before
 *                      the output; the first number of the answer; an answer without one counts as
 *                      unparsable and predicts the training mean
 */
import { distance } from 'fastest-levenshtein';
import type { Engine } from '../model/model';
import { parseTemplate, type Template, type TemplateSegment } from '../tags/template';
import { buildPrompt, generateAll, parseClass, parseFirstNumber, removeSegments, templateOf } from './generation';
import { inputFields, LANGUAGE_NAMES, spacedFields, tagFields } from './tasks';
import type { TaskDefinition } from './types';

type Row = Record<string, string>;

/** 1 − Levenshtein distance / length of the longer string (1 for two empty strings). */
export function similarity(a: string, b: string): number {
  if (a === b) return 1;
  const n = Math.max(a.length, b.length);
  return n === 0 ? 1 : 1 - distance(a, b) / n;
}

export interface NearestOptions {
  /** Fields compared (mean similarity over them). */
  fields: string[];
  /**
   * Fields that must match exactly when possible (translation: srcLang, tgtLang). Candidates are the
   * training rows matching all of them; if none do, those matching the last one; if none, all rows.
   */
  keyFields?: string[];
}

/**
 * For each query row, the index of its nearest training row (ties: the first). Similarities are
 * computed once per distinct pair of field values, so repeated proteins or drugs cost nothing.
 */
export function nearestNeighbours(train: readonly Row[], queries: readonly Row[], o: NearestOptions): number[] {
  if (train.length === 0) throw new Error('Nearest neighbour needs training rows.');
  const F = o.fields.length;
  // Per field: distinct training values, each training row's value id, and a lazily filled cache of
  // similarities from each distinct query value.
  const perField = o.fields.map((f) => {
    const values: string[] = [];
    const idOf = new Map<string, number>();
    const ids = new Int32Array(train.length);
    train.forEach((r, i) => {
      const v = r[f] ?? '';
      let id = idOf.get(v);
      if (id === undefined) {
        id = values.length;
        idOf.set(v, id);
        values.push(v);
      }
      ids[i] = id;
    });
    return { f, values, ids, cache: new Map<string, Float32Array>() };
  });
  const simsTo = (k: number, q: string): Float32Array => {
    const pf = perField[k];
    let s = pf.cache.get(q);
    if (!s) {
      s = Float32Array.from(pf.values, (v) => similarity(q, v));
      pf.cache.set(q, s);
    }
    return s;
  };
  const keys = o.keyFields ?? [];
  const keyOf = (r: Row, ks: readonly string[]) => ks.map((k) => r[k] ?? '').join('\u0000');
  const byAll = groupIndices(train, (r) => keyOf(r, keys));
  const byLast = keys.length ? groupIndices(train, (r) => r[keys[keys.length - 1]] ?? '') : byAll;
  const every = train.map((_, i) => i);
  return queries.map((q) => {
    const cands = (keys.length ? (byAll.get(keyOf(q, keys)) ?? byLast.get(q[keys[keys.length - 1]] ?? '')) : undefined) ?? every;
    const sims = perField.map((_, k) => simsTo(k, q[o.fields[k]] ?? ''));
    let best = cands[0];
    let bestScore = -Infinity;
    for (const i of cands) {
      let s = 0;
      for (let k = 0; k < F; k++) s += sims[k][perField[k].ids[i]];
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    return best;
  });
}

function groupIndices(rows: readonly Row[], key: (r: Row) => string): Map<string, number[]> {
  const m = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = key(r);
    const g = m.get(k);
    if (g) g.push(i);
    else m.set(k, [i]);
  });
  return m;
}

/** Nearest-neighbour predictions of a task: the output field of each query's nearest training row. */
export function nearestNeighbourPredict(task: TaskDefinition, train: readonly Row[], queries: readonly Row[]): string[] {
  const t = parseTemplate(task.template);
  const idx = nearestNeighbours(train, queries, { fields: inputFields(task, t), keyFields: tagFields(t) });
  return idx.map((i) => train[i][task.output.field]);
}

export interface NumericPredictions {
  preds: number[];
  /** Answers without a usable value (replaced by the fallback). */
  unparsable: number;
}

/** Numbers (regression) or class indices (classification) read from generated texts. */
export function parseAnswers(task: TaskDefinition, texts: readonly string[], train: readonly Row[]): NumericPredictions & { classes?: string[] } {
  const out = task.output.field;
  if (task.output.kind === 'classification') {
    const classes = [...new Set(train.map((r) => r[out]))].sort();
    const counts = classes.map((c) => train.filter((r) => r[out] === c).length);
    let majority = 0;
    for (let i = 1; i < counts.length; i++) if (counts[i] > counts[majority]) majority = i;
    let unparsable = 0;
    const preds = texts.map((t) => {
      const c = parseClass(t, classes);
      if (c === null) unparsable++;
      return c === null ? majority : classes.indexOf(c);
    });
    return { preds, unparsable, classes };
  }
  const ys = train.map((r) => Number(r[out])).filter(Number.isFinite);
  const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length);
  let unparsable = 0;
  const preds = texts.map((t) => {
    const x = parseFirstNumber(t);
    if (x === null) unparsable++;
    return x ?? mean;
  });
  return { preds, unparsable };
}

/**
 * The prompt direct prompting gives the frozen model: the task's directTemplate (which states the
 * quantity asked, or the target language), else its template with the tags removed and each <{field}>
 * written as the language it names. Rows gain `{field}Name` (FR → French) for every tag field.
 */
export function directPrompt(task: TaskDefinition, rows: readonly Row[]): { template: Template; rows: Row[] } {
  const base = parseTemplate(task.template);
  const names = tagFields(base);
  const t = task.directTemplate ? parseTemplate(task.directTemplate) : base;
  const segs = removeSegments(t.segments, (s) => s.kind === 'tag').map((s): TemplateSegment => (s.kind === 'tagFromField' ? { kind: 'field', name: `${s.field}Name` } : s));
  const named = rows.map((r) => {
    const extra: Row = {};
    for (const f of names) extra[`${f}Name`] = LANGUAGE_NAMES[(r[f] ?? '').toUpperCase()] ?? r[f] ?? '';
    return { ...r, ...extra };
  });
  return { template: templateOf(segs), rows: named };
}

/** Direct prompting of the frozen model: greedy answers to the prompt that states the task (directPrompt). */
export async function directPromptTexts(
  engine: Engine,
  task: TaskDefinition,
  queries: readonly Row[],
  o: { maxNewTokens: number; signal?: AbortSignal; onProgress?: (done: number, of: number) => void; isolate?: boolean },
): Promise<string[]> {
  const d = directPrompt(task, queries);
  const prompts = d.rows.map((r) => buildPrompt(d.template, r, new Map(), engine.tokenizer, { omit: task.output.field, spacedFields: spacedFields(task) }));
  return generateAll(engine, prompts, o);
}
