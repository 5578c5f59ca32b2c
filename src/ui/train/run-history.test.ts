import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../state/train';
import { curvesCsv } from './curves';

describe('curvesCsv', () => {
  it('one step column, one column per run, blanks where a run has no point', () => {
    const run = (runId: string, label: string, loss: Array<[number, number]>) => ({ runId, label, loss }) as RunRecord;
    const csv = curvesCsv([run('r1', 'stage1 <A>', [[1, 2], [2, 1.5]]), run('r2', 'lora, "q v"', [[2, 3], [3, 2.5]])]);
    expect(csv).toBe('step,stage1 <A> (r1),"lora, ""q v"" (r2)"\n1,2,\n2,1.5,3\n3,,2.5\n');
  });
});
