import { describe, expect, it } from 'vitest';
import { parseExperiment } from '../../src/experiments/definition';
import { buildTables, fmtNum, formatCellsCsv, formatCsv, formatMarkdown, tableCsv } from '../../src/experiments/report';
import { RESULTS_FORMAT, type CellResult, type ExperimentResults, type TranslationScore } from '../../src/experiments/types';

const definition = parseExperiment({
  name: 'hand-made',
  tasks: ['qed', 'binding', 'translation'],
  methods: ['tag-llm', 'linear-probe', 'nearest-neighbour'],
  seeds: [0, 1],
  hyper: { steps: 10, batch: 4, lr: 0.001 },
  ablations: ['no-domain-tags'],
  tagLengths: [1],
});

let n = 0;
function cell(task: string, method: CellResult['method'], seed: number, value: number | null, over: Partial<CellResult> = {}): CellResult {
  const metric = task === 'qed' ? 'mse' : task === 'binding' ? 'pearson' : 'bleu';
  return {
    id: `${task}/${method}/${over.variant ?? 'full'}/p${over.tagLength ?? 10}/s${seed}#${n++}`,
    task,
    method,
    variant: 'full',
    tagLength: 10,
    seed,
    status: value === null ? 'failed' : 'done',
    metric,
    value,
    metrics: value === null ? {} : { [metric]: value },
    trainableParams: method === 'tag-llm' ? 86016 : method === 'linear-probe' ? 4097 : 0,
    trainRows: 100,
    evalRows: 10,
    stages: [],
    seconds: 1,
    configKey: 'k',
    finished: '2025-01-01T00:00:00.000Z',
    ...over,
  };
}

const tr = (pair: string, group: TranslationScore['group'], bleu: number, chrf: number): TranslationScore => {
  const [src, tgt] = pair.split('→');
  return { pair, src, tgt, group, n: 5, bleu, chrf };
};

const results: ExperimentResults = {
  format: RESULTS_FORMAT,
  version: 1,
  name: 'hand-made',
  model: { name: 'tiny.bin', arch: 'llama', dModel: 4096, vocabSize: 32000 },
  definition,
  started: '2025-01-01T00:00:00.000Z',
  updated: '2025-01-01T00:00:00.000Z',
  status: 'complete',
  cells: [
    cell('qed', 'tag-llm', 0, 0.008),
    cell('qed', 'tag-llm', 1, 0.01),
    cell('qed', 'linear-probe', 0, 0.02),
    cell('qed', 'linear-probe', 1, null, { error: 'GPU lost' }),
    cell('qed', 'nearest-neighbour', 0, 0.03),
    cell('qed', 'nearest-neighbour', 1, 0.03),
    cell('binding', 'tag-llm', 0, 0.5),
    cell('binding', 'tag-llm', 1, 0.6),
    cell('binding', 'linear-probe', 0, 0.4, { trainableParams: 4097 }),
    cell('binding', 'nearest-neighbour', 0, 0.25, { unparsable: 0 }),
    cell('translation', 'tag-llm', 0, 40, { translation: [tr('FR→EN', 'seen', 40, 60), tr('ES→PT', 'unseen-domain', 20, 45), tr('IT→FR', 'unseen-pair', 30, 50)] }),
    cell('translation', 'tag-llm', 1, 44, { translation: [tr('FR→EN', 'seen', 44, 62), tr('ES→PT', 'unseen-domain', 22, 47), tr('IT→FR', 'unseen-pair', 30, 52)] }),
    cell('translation', 'linear-probe', 0, null, { status: 'n/a', error: 'a linear probe needs a numeric or class output' }),
    cell('translation', 'linear-probe', 1, null, { status: 'n/a', error: 'a linear probe needs a numeric or class output' }),
    cell('qed', 'tag-llm', 0, 0.012, { variant: 'no-domain-tags', trainableParams: 45056, unparsable: 1 }),
    cell('qed', 'tag-llm', 1, 0.014, { variant: 'no-domain-tags', trainableParams: 45056, unparsable: 2 }),
    cell('qed', 'tag-llm', 0, 0.009, { tagLength: 1, trainableParams: 12289 }),
  ],
};

describe('experiment report', () => {
  it('formats numbers for tables', () => {
    expect([0, 0.005, 0.0123456, 0.527, 1.5, 12.2149, 45.678, 123.456, -0.25].map(fmtNum)).toEqual(['0', '0.0050', '0.012', '0.527', '1.50', '12.21', '45.68', '123.5', '-0.250']);
  });

  it('builds the main table: methods × tasks, mean ± std over seeds, parameters', () => {
    const t = buildTables(results).main;
    expect(t.columns.map((c) => c.label)).toEqual(['QED (MSE ↓)', 'Binding affinity (Pearson r ↑)', 'Translation (BLEU ↑)']);
    const row = (k: string) => t.rows.find((r) => r.key === k)!;
    const tag = row('tag-llm');
    expect(tag.params).toBe('86,016');
    expect(tag.cells[0].mean).toBeCloseTo(0.009, 12);
    expect(tag.cells[0].std).toBeCloseTo(Math.SQRT2 * 0.001, 12); // sample std of 0.008, 0.010
    expect(tag.cells[0].text).toBe('0.0090 ± 0.0014');
    expect(tag.cells[0].cellIds).toHaveLength(2);
    expect(tag.cells[2].text).toBe('42.00 ± 2.83');
    // One seed failed: the mean of the rest, and a mark.
    expect(row('linear-probe').cells[0]).toMatchObject({ mean: 0.02, std: null, n: 1, failed: 1, text: '0.020 (1 failed)' });
    // A single seed ran (the other is missing): no std.
    expect(row('linear-probe').cells[1].text).toBe('0.400');
    expect(row('linear-probe').cells[2].text).toBe('n/a');
    expect(row('nearest-neighbour').params).toBe('0');
    expect(t.notes).toContain(`${results.cells[3].id} failed: GPU lost`);
    expect(t.notes).toContain('qed/tag-llm/no-domain-tags: 3 of 20 answers (2 cells) had no number and predicted the training mean.');
  });

  it('renders Markdown with every table', () => {
    const md = formatMarkdown(results);
    expect(md).toContain('# hand-made');
    expect(md).toContain('| Method | Params | QED (MSE ↓) | Binding affinity (Pearson r ↑) | Translation (BLEU ↑) |');
    expect(md).toContain('|---|---:|---:|---:|---:|');
    expect(md).toContain('| Tag-LLM | 86,016 | 0.0090 ± 0.0014 | 0.550 ± 0.071 | 42.00 ± 2.83 |');
    expect(md).toContain('| Linear probe | 4,097 | 0.020 (1 failed) | 0.400 | n/a |');
    expect(md).toContain('| Nearest neighbour | 0 | 0.030 ± 0 | 0.250 | — |');
    expect(md).toContain('## Ablations (Tag-LLM)');
    expect(md).toContain('| without domain tags | 45,056 | 0.013 ± 0.0014 | — | — |');
    expect(md).toContain('## Tag length (Tag-LLM)');
    expect(md).toContain('| p = 1 | 12,289 | 0.0090 | — | — |');
    expect(md).toContain('| p = 10 | 86,016 | 0.0090 ± 0.0014 | 0.550 ± 0.071 | 42.00 ± 2.83 |');
    expect(md).toContain('## Translation: Translation');
    expect(md).toContain('| Pair | Tag-LLM BLEU | Tag-LLM chrF |');
    // Seen pairs first, then seen domains / unseen pair, then unseen domains.
    const rows = md.split('\n').filter((l) => /^\| (FR→EN|IT→FR|ES→PT)/.test(l));
    expect(rows).toEqual(['| FR→EN (seen) | 42.00 ± 2.83 | 61.00 ± 1.41 |', '| IT→FR (seen domains, unseen pair) | 30.00 ± 0 | 51.00 ± 1.41 |', '| ES→PT (unseen domains) | 21.00 ± 1.41 | 46.00 ± 1.41 |']);
  });

  it('writes CSV: the main table, any table, and every cell', () => {
    const lines = formatCsv(results).split('\n');
    expect(lines[0]).toBe('method,params,qed_mean,qed_std,qed_n,binding_mean,binding_std,binding_n,translation_mean,translation_std,translation_n');
    expect(lines.slice(2)).toEqual(['linear-probe,4097,0.02,,1,0.4,,1,,,0', 'nearest-neighbour,0,0.03,0,2,0.25,,1,,,0', '']);
    const tag = lines[1].split(',');
    expect(tag.slice(0, 2)).toEqual(['tag-llm', '86016']);
    const want = [0.009, Math.sqrt(2e-6), 2, 0.55, Math.sqrt(0.005), 2, 42, Math.sqrt(8), 2];
    tag.slice(2).forEach((x, i) => expect(Number(x)).toBeCloseTo(want[i], 12));
    const t = buildTables(results);
    expect(tableCsv(t.translation[0]).split('\n')[0]).toBe('pair,tag-llm:bleu_mean,tag-llm:bleu_std,tag-llm:bleu_n,tag-llm:chrf_mean,tag-llm:chrf_std,tag-llm:chrf_n');
    const cells = formatCellsCsv(results).trim().split('\n');
    expect(cells).toHaveLength(results.cells.length + 1);
    expect(cells[4]).toBe(`${results.cells[3].id},qed,linear-probe,full,10,1,failed,mse,,4097,100,10,,1.0,GPU lost`);
  });

  it('leaves out tables the experiment has none of', () => {
    const plain = { ...results, definition: { ...definition, ablations: [], tagLengths: [] }, cells: results.cells.filter((c) => c.task === 'qed' && c.variant === 'full' && c.tagLength === 10) };
    const t = buildTables(plain);
    expect(t.ablation).toBeNull();
    expect(t.sweep).toBeNull();
    expect(t.translation).toEqual([]);
    expect(formatMarkdown(plain)).not.toContain('## Ablations');
  });
});
