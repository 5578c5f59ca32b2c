/** Tagged prompts through the inference API: generation, hidden states and attention maps. */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { TagLibrary } from '../../src/tags/library';
import { renderPrompt } from '../../src/tags/prompt';
import { createTag, newProvenance } from '../../src/tags/tag';
import { relErr, randn, rng } from '../helpers/gpu';
import { refForward, refModel } from '../reference/forward';

describe('tagged prompts', () => {
  it('generate, hiddenAt and attentionMap agree with the CPU reference', async () => {
    const src = new NodeFileSource('public/models/stories260K/stories260K.bin');
    const e = await loadModel(await acquireNodeGpu(), src, { tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'), slots: 2, maxContext: 64 });
    const d = e.config.dModel;
    const lib = new TagLibrary();
    const data = Float32Array.from(randn(rng(3), 2 * d, 0.3));
    lib.addTag(createTag({ name: 'Story', kind: 'domain', p: 2, d, data, provenance: newProvenance({ arch: 'llama', name: 'x', dModel: d, vocabSize: 512 }, '') }));
    const { prompt, rendered } = renderPrompt('<Story> {input}', { input: 'Once upon a time' }, lib, e.tokenizer);
    expect(rendered.tagAt.map((a) => a.pos)).toEqual([1, 2]);
    const ref = refForward(await refModel(e.desc, src), {
      ids: prompt.ids,
      injected: new Map([
        [1, data.subarray(0, d)],
        [2, data.subarray(d)],
      ]),
    });
    const T = prompt.ids.length;
    const hidden = await e.hiddenAt(prompt, [T - 1, 0]);
    expect(relErr(hidden.subarray(0, d), ref.hidden.subarray((T - 1) * d, T * d))).toBeLessThan(1e-3);
    expect(relErr(hidden.subarray(d), ref.hidden.subarray(0, d))).toBeLessThan(1e-3);
    // Greedy continuation = argmax of the reference's last logits.
    const V = e.config.vocabSize;
    const last = ref.logits.subarray((T - 1) * V, T * V);
    const want = last.indexOf(Math.max(...last));
    const [tagged, plain] = (await e.generate({ prompts: [prompt, 'Once upon a time'], maxTokens: 3 })).outputs;
    expect(tagged.ids[0]).toBe(want);
    expect(plain.ids[0]).toBe(432); // golden continuation of the untagged prompt
    const att = await e.attentionMap(prompt);
    expect(att.T).toBe(T);
    expect(att.layers.length).toBe(e.config.nLayers);
    for (const m of att.layers) {
      for (let t = 0; t < T; t++) {
        const row = m.subarray(t * T, (t + 1) * T);
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        expect(row.slice(t + 1).every((x) => x === 0)).toBe(true);
      }
    }
    e.dispose();
  });
});
