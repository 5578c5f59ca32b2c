import { describe, expect, it } from 'vitest';
import { parseTemplate } from '../tags/template';
import { prefillSegments, segmentsToTemplate } from './composer';

describe('prefillSegments', () => {
  it('fills fields from the row (through the run mapping) and stops before the output field', () => {
    const t = parseTemplate('# In: <SMILES> {input}.\n# Out: <QED> {output} end');
    const segs = prefillSegments(t, { smiles: 'CCO', y: '0.4' }, 'output', { input: 'smiles', output: 'y' });
    expect(segmentsToTemplate(segs)).toBe('# In: <SMILES> CCO.\n# Out: <QED>');
    expect(segs.filter((s) => s.kind === 'tag').map((s) => s.kind === 'tag' && s.name)).toEqual(['SMILES', 'QED']);
  });

  it('turns <{field}> tags into the tag the row names', () => {
    const t = parseTemplate('<{src}> {source} <Translate> {target}');
    expect(segmentsToTemplate(prefillSegments(t, { src: 'French', source: 'bonjour', target: 'hello' }, 'target'))).toBe('<French> bonjour <Translate>');
  });
});
