/** Tagged prompts through the inference API: generation, hidden states and attention maps. */
import { describe, expect, it } from 'vitest';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';
import { TagLibrary } from '../../src/tags/library';
import { renderPrompt } from '../../src/tags/prompt';
import { createTag, newProvenance } from '../../src/tags/tag';
import { relErr, randn, rng } from '../helpers/gpu';
import { randomAdapter, refLora } from '../helpers/lora';
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

  it('hiddenAt and attentionMap apply the chosen adapter, as the reference forward with LoRA does', async () => {
    const src = new NodeFileSource('public/models/stories260K/stories260K.bin');
    const e = await loadModel(await acquireNodeGpu(), src, { tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'), slots: 2, maxContext: 64 });
    const d = e.config.dModel;
    const a = randomAdapter(e.config, 23, ['q', 'k', 'v', 'o', 'down'], 4, 8, 0.2);
    e.setAdapter('inspect', a);
    const lib = new TagLibrary();
    const data = Float32Array.from(randn(rng(5), 2 * d, 0.3));
    lib.addTag(createTag({ name: 'Story', kind: 'domain', p: 2, d, data, provenance: newProvenance({ arch: 'llama', name: 'x', dModel: d, vocabSize: 512 }, '') }));
    const { prompt } = renderPrompt('<Story> {input}', { input: 'The little dog ran' }, lib, e.tokenizer);
    const T = prompt.ids.length;
    const model = await refModel(e.desc, src);
    const input = { ids: prompt.ids, injected: new Map([[1, data.subarray(0, d)], [2, data.subarray(d)]]), attention: true };
    const withLora = refForward(model, { ...input, lora: refLora(a) });
    const base = refForward(model, input);
    const hidden = await e.hiddenAt(prompt, [T - 1, 3], { adapter: 'inspect' });
    expect(relErr(hidden.subarray(0, d), withLora.hidden.subarray((T - 1) * d, T * d))).toBeLessThan(1e-3);
    expect(relErr(hidden.subarray(d), withLora.hidden.subarray(3 * d, 4 * d))).toBeLessThan(1e-3);
    // The adapter matters here: the base model's state is far from the adapted one.
    expect(relErr(base.hidden.subarray((T - 1) * d, T * d), withLora.hidden.subarray((T - 1) * d, T * d))).toBeGreaterThan(1e-2);
    const plain = await e.hiddenAt(prompt, [T - 1]);
    expect(relErr(plain, base.hidden.subarray((T - 1) * d, T * d))).toBeLessThan(1e-3);
    const maxAbs = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0);
    const att = await e.attentionMap(prompt, { adapter: 'inspect' });
    att.layers.forEach((m, l) => expect(maxAbs(m, withLora.attention![l])).toBeLessThan(1e-3));
    expect(Math.max(...withLora.attention!.map((m, l) => maxAbs(m, base.attention![l])))).toBeGreaterThan(1e-2);
    const attBase = await e.attentionMap(prompt);
    attBase.layers.forEach((m, l) => expect(maxAbs(m, base.attention![l])).toBeLessThan(1e-3));
    await expect(e.hiddenAt(prompt, [0], { adapter: 'missing' })).rejects.toThrow(/Adapter "missing" is not loaded/);
    e.dispose();
  });
});
