/**
 * Evaluation (issue 8 item 9): PubMedQA test questions (question + abstract contexts → yes/no/maybe),
 * 0-, 1- and 5-shot with demonstrations, scored two ways — by the likelihood of each answer after the
 * prompt, and by parsing a free (greedy) generation — with accuracy, macro-F1 and a confusion matrix;
 * plus ROUGE-L of generations on held-out seed tasks. The results form one table shaped like the
 * paper's Tables 1–2 (eval.json + eval.md): one row per model variant (base, LoRA / tag / both
 * specialised, retrieval ablation, later rounds), one column per (shots, scoring).
 *
 * Pure logic over a VariantRunner (what a model variant can do: score answers, generate), so the
 * table is tested without a GPU; src/selfspec/runner.ts implements it on the engine.
 */
import { argmax, classify, parseAnswer, type Classification } from './metrics';

export const PUBMEDQA_CLASSES = ['yes', 'no', 'maybe'];
export const PUBMEDQA_INSTRUCTION = 'Answer the research question about the abstract with yes, no or maybe.';

export interface PubmedqaItem {
  id: string;
  question: string;
  contexts: string[];
  /** yes / no / maybe */
  label: string;
}

export interface PromptFields {
  instruction: string;
  input: string;
}

/** What one model variant can do for the evaluation. */
export interface VariantRunner {
  /** Per prompt, the summed log-probability of each candidate continuation (the Alpaca {output}). */
  score(prompts: PromptFields[], candidates: string[], signal?: AbortSignal): Promise<number[][]>;
  /** Greedy continuations of the prompts (the Alpaca {output}). */
  generate(prompts: PromptFields[], maxTokens: number, signal?: AbortSignal): Promise<string[]>;
  /** Tokens the rendered prompt takes (with the variant's tags), to fit prompts into the context. */
  promptTokens(p: PromptFields): number;
}

/**
 * PubMedQA from pubmedqa_ori_pqal.json and the test ground truth: the test items, and the other
 * labelled items as the pool demonstrations come from (never a test question).
 */
export function parsePubmedqa(pqalText: string, truthText: string): { test: PubmedqaItem[]; demos: PubmedqaItem[] } {
  let pqal: Record<string, { QUESTION?: unknown; CONTEXTS?: unknown; final_decision?: unknown }>;
  let truth: Record<string, unknown>;
  try {
    pqal = JSON.parse(pqalText);
    truth = JSON.parse(truthText);
  } catch (e) {
    throw new Error(`PubMedQA files are not valid JSON (${(e as Error).message}).`);
  }
  const item = (id: string, label: unknown): PubmedqaItem | null => {
    const r = pqal[id];
    if (!r || typeof r.QUESTION !== 'string' || !Array.isArray(r.CONTEXTS)) return null;
    if (typeof label !== 'string' || !PUBMEDQA_CLASSES.includes(label)) return null;
    return { id, question: r.QUESTION, contexts: r.CONTEXTS.filter((c): c is string => typeof c === 'string'), label };
  };
  const test = Object.entries(truth).flatMap(([id, l]) => item(id, l) ?? []);
  const demos = Object.keys(pqal)
    .filter((id) => !(id in truth))
    .flatMap((id) => item(id, pqal[id].final_decision) ?? []);
  if (test.length === 0) throw new Error('PubMedQA: no test question matches the ground truth file.');
  return { test, demos };
}

function block(it: PubmedqaItem, words: number): string {
  const all = it.contexts.join(' ').split(/\s+/).filter(Boolean);
  const abstract = all.length > words ? all.slice(0, words).join(' ') + ' …' : all.join(' ');
  return `Abstract: ${abstract}\nQuestion: ${it.question}`;
}

/** The prompt of one test question with `demos` answered examples before it. */
export function pubmedqaPrompt(it: PubmedqaItem, demos: PubmedqaItem[], words = Infinity): PromptFields {
  const shots = demos.map((d, i) => `Example ${i + 1}:\n${block(d, words)}\nAnswer: ${d.label}`);
  const input = shots.length ? `${shots.join('\n\n')}\n\nNow answer:\n${block(it, words)}` : block(it, words);
  return { instruction: PUBMEDQA_INSTRUCTION, input };
}

/**
 * The prompt cut to `budget` tokens: every abstract (the demonstrations' and the question's) is
 * shortened to the same number of words, the most that fits. A small model's context cannot hold
 * five abstracts, and an over-long prompt must never reach the engine.
 */
export function fittedPrompt(it: PubmedqaItem, demos: PubmedqaItem[], budget: number, count: (p: PromptFields) => number): PromptFields {
  const full = pubmedqaPrompt(it, demos);
  if (count(full) <= budget) return full;
  let lo = 0;
  let hi = Math.max(...[it, ...demos].map((x) => x.contexts.join(' ').split(/\s+/).length));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (count(pubmedqaPrompt(it, demos, mid)) <= budget) lo = mid;
    else hi = mid - 1;
  }
  const p = pubmedqaPrompt(it, demos, lo);
  if (count(p) > budget) throw new Error(`A ${demos.length}-shot PubMedQA prompt does not fit the model's context even without abstracts (${count(p)} > ${budget} tokens); use fewer shots or a longer context.`);
  return p;
}

export type Scoring = 'likelihood' | 'generation';

export interface CellResult extends Classification {
  /** Generation only: share of generations that named no class. */
  unparsed?: number;
  /** A few predictions, for the side-by-side view. */
  examples: Array<{ id: string; gold: string; pred: string | null; text?: string }>;
}

export const columnOf = (shots: number, scoring: Scoring) => `${shots}-shot ${scoring}`;

export interface CellSpec {
  items: PubmedqaItem[];
  demos: PubmedqaItem[];
  shots: number;
  scoring: Scoring;
  /** Token budget of a prompt (context minus the answer). */
  budget: number;
  maxTokens?: number;
  signal?: AbortSignal;
}

/** One cell of the table: a variant on the test items at one (shots, scoring). */
export async function evaluateCell(runner: VariantRunner, c: CellSpec): Promise<CellResult> {
  const prompts = c.items.map((it) => fittedPrompt(it, c.demos.slice(0, c.shots), c.budget, (p) => runner.promptTokens(p)));
  const gold = c.items.map((it) => it.label);
  if (c.scoring === 'likelihood') {
    const scores = await runner.score(prompts, PUBMEDQA_CLASSES, c.signal);
    const pred = scores.map((s) => PUBMEDQA_CLASSES[argmax(s)]);
    const r = classify(gold, pred, PUBMEDQA_CLASSES);
    return { ...r, examples: c.items.slice(0, 5).map((it, i) => ({ id: it.id, gold: it.label, pred: pred[i] })) };
  }
  const texts = await runner.generate(prompts, c.maxTokens ?? 8, c.signal);
  const pred = texts.map((t) => parseAnswer(t, PUBMEDQA_CLASSES));
  const r = classify(gold, pred, PUBMEDQA_CLASSES);
  return {
    ...r,
    unparsed: pred.filter((p) => p === null).length / Math.max(1, pred.length),
    examples: c.items.slice(0, 5).map((it, i) => ({ id: it.id, gold: it.label, pred: pred[i], text: texts[i] })),
  };
}

/** Mean ROUGE-L F of greedy generations against the held-out seeds' outputs. */
export async function evaluateRouge(
  runner: VariantRunner,
  seeds: Array<{ instruction: string; input: string; output: string }>,
  rouge: (candidate: string, reference: string) => number,
  o: { budget: number; maxTokens: number; signal?: AbortSignal },
): Promise<{ rougeL: number; n: number; examples: Array<{ instruction: string; reference: string; generated: string; rougeL: number }> }> {
  // A long input is cut (at words) to fit the context rather than the seed being dropped.
  const fit = seeds.flatMap((s) => {
    const count = (input: string) => runner.promptTokens({ instruction: s.instruction, input });
    if (count(s.input) <= o.budget) return [s];
    const words = s.input.split(/\s+/);
    let lo = 0;
    let hi = words.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (count(words.slice(0, mid).join(' ')) <= o.budget) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 ? [{ ...s, input: words.slice(0, lo).join(' ') }] : [];
  });
  if (fit.length === 0) return { rougeL: NaN, n: 0, examples: [] };
  const gen = await runner.generate(
    fit.map((s) => ({ instruction: s.instruction, input: s.input })),
    o.maxTokens,
    o.signal,
  );
  const scores = gen.map((g, i) => rouge(g, fit[i].output));
  return {
    rougeL: scores.reduce((a, b) => a + b, 0) / scores.length,
    n: fit.length,
    examples: fit.slice(0, 5).map((s, i) => ({ instruction: s.instruction, reference: s.output, generated: gen[i], rougeL: scores[i] })),
  };
}

/** One row of the table: a model variant. */
export interface EvalRow {
  label: string;
  round: number;
  method: 'base' | 'lora' | 'tag' | 'both';
  /** Retrieval passages the row's training data was generated with (null for the base model). */
  k: number | null;
  cells: Record<string, CellResult>;
  rougeL?: { rougeL: number; n: number };
}

export interface EvalTable {
  task: 'pubmedqa';
  n: number;
  shots: number[];
  scorings: Scoring[];
  columns: string[];
  rows: EvalRow[];
}

export function makeTable(rows: EvalRow[], shots: number[], scorings: Scoring[], n: number): EvalTable {
  const columns = scorings.flatMap((s) => shots.map((k) => columnOf(k, s)));
  return { task: 'pubmedqa', n, shots, scorings, columns, rows };
}

const pct = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(1));

/** eval.md: the main table (accuracy / macro-F1 in %), ROUGE-L, then each confusion matrix. */
export function tableMarkdown(t: EvalTable): string {
  const head = ['Model', ...t.columns.map((c) => `${c} (acc / F1)`), 'Seed ROUGE-L'];
  const lines = [
    `# Self-specialization: PubMedQA (n = ${t.n}) and held-out seeds`,
    '',
    'Accuracy / macro-F1 in %. *likelihood*: the answer (yes / no / maybe) the model finds most likely; *generation*: the first answer word in a greedy generation (none = wrong).',
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
  ];
  for (const r of t.rows) {
    const cells = t.columns.map((c) => (r.cells[c] ? `${pct(r.cells[c].accuracy)} / ${pct(r.cells[c].macroF1)}` : '–'));
    lines.push(`| ${r.label} | ${cells.join(' | ')} | ${r.rougeL && r.rougeL.n ? (100 * r.rougeL.rougeL).toFixed(1) : '–'} |`);
  }
  lines.push('', '## Confusion matrices (rows: gold; columns: predicted)', '');
  for (const r of t.rows) {
    for (const c of t.columns) {
      const cell = r.cells[c];
      if (!cell) continue;
      lines.push(`**${r.label}, ${c}**`, '', `| gold \\ pred | ${cell.classes.join(' | ')} | none |`, `| --- |${cell.classes.map(() => ' ---: |').join('')} ---: |`);
      cell.confusion.forEach((row, g) => lines.push(`| ${cell.classes[g]} | ${row.join(' | ')} |`));
      lines.push('');
    }
  }
  return lines.join('\n') + '\n';
}
