import { describe, expect, it } from 'vitest';
import { MixtureSampler, writePlan, type PlanGroup } from '../../src/gpu/kernels/mixture';
import { readBuffer } from '../../src/gpu/memory';
import { randn, rng, testGpu } from '../helpers/gpu';
import { PROFILES, profileKc } from './profiles';
import { chooseRef } from './mixture.ref';

async function runGroups(software: boolean, logits: Float64Array, V: number, groups: PlanGroup[]) {
  const t = await testGpu();
  const kc = profileKc(t, software);
  const k = await MixtureSampler.create(kc);
  const words = new Uint32Array(4096);
  const plan = writePlan(groups, words, new Float32Array(words.buffer));
  const out = t.f32(plan.G + plan.M);
  k.record(t.rec, {
    logits: t.f32(logits),
    plan: t.bytes(words.subarray(0, plan.words)),
    stats: t.f32(2 * plan.M),
    q: t.f32(plan.G * V),
    out,
    G: plan.G,
    M: plan.M,
    V,
    needStats: true,
  });
  t.rec.submit();
  const buf = await readBuffer(t.gpu, out, 0, (plan.G + plan.M) * 4);
  return { ids: Array.from(new Uint32Array(buf, 0, plan.G)), p: Array.from(new Float32Array(buf, plan.G * 4, plan.M)) };
}

const V = 300;
const member = (row: number, weight = 1, T = 1) => ({ row, weight, invT: 1 / T });
const group = (o: Partial<PlanGroup> & { members: PlanGroup['members'] }): PlanGroup => ({ kind: 0, greedy: false, topK: 0, topP: 1, u: 0.5, invT: 1, logAlpha: Math.log(0.1), ...o });

describe.each(PROFILES)('mixture sampler ($name)', ({ software }) => {
  it('mixture, plain, top-k/top-p and greedy groups all choose the reference token', async () => {
    const r = rng(17);
    const rows = 8;
    const logits = randn(r, rows * V, 2.5);
    const groups: PlanGroup[] = [];
    for (let i = 0; i < 40; i++) {
      const k = 1 + (i % 4);
      const T = [0.7, 1, 1.3][i % 3];
      const members = Array.from({ length: k }, (_, j) => member((i + 3 * j) % rows, 0.2 + r(), T));
      const z = members.reduce((a, m) => a + m.weight, 0);
      members.forEach((m) => (m.weight /= z));
      groups.push(group({ members, u: r(), greedy: i % 7 === 0, topK: i % 5 === 1 ? 20 : 0, topP: i % 3 === 2 ? 0.9 : 1 }));
    }
    // The launch handles ≤ slots groups per step in the engine; here many at once, in batches of 8.
    for (let b = 0; b < groups.length; b += 8) {
      const batch = groups.slice(b, b + 8);
      const got = await runGroups(software, logits, V, batch);
      batch.forEach((g, i) => {
        const want = chooseRef(logits, V, g);
        expect(got.ids[i], `group ${b + i}`).toBe(want.id);
      });
      let e = 0;
      batch.forEach((g) => {
        const want = chooseRef(logits, V, g);
        for (const p of want.p) expect(Math.abs(got.p[e++] - p)).toBeLessThan(1e-5 + 1e-4 * p);
      });
    }
  });

  it('sampling follows the mixture distribution: draws over many u hit the reference ids', async () => {
    const r = rng(3);
    const logits = randn(r, 3 * V, 1.5);
    const members = [member(0, 0.5), member(1, 0.3), member(2, 0.2)];
    const groups = Array.from({ length: 8 }, (_, i) => group({ members, u: (i + 0.5) / 8, topP: 0.98 }));
    const got = await runGroups(software, logits, V, groups);
    expect(got.ids).toEqual(groups.map((g) => chooseRef(logits, V, g).id));
    // Different u give different tokens: it really samples.
    expect(new Set(got.ids).size).toBeGreaterThan(3);
  });

  it('contrastive: greedy and sampled over the plausible set match the reference', async () => {
    const r = rng(8);
    const logits = randn(r, 4 * V, 3);
    const groups: PlanGroup[] = [];
    for (let i = 0; i < 8; i++) {
      groups.push(
        group({ kind: 1, members: [member(i % 4), member((i + 1) % 4)], greedy: i < 3, u: r(), invT: 1 / [1, 0.7][i % 2], logAlpha: Math.log([0.1, 0.05, 0.3][i % 3]), topP: i === 5 ? 0.9 : 1 }),
      );
    }
    // Sampled pairs with a wide plausible set (small α, flat logits): the draw really depends on u.
    const flat = randn(r, 2 * V, 0.5);
    const wide = Array.from({ length: 8 }, (_, i) => group({ kind: 1, members: [member(0), member(1)], u: (i + 0.5) / 8, logAlpha: Math.log(0.01) }));
    const gotWide = await runGroups(software, flat, V, wide);
    expect(gotWide.ids).toEqual(wide.map((g) => chooseRef(flat, V, g).id));
    expect(new Set(gotWide.ids).size).toBeGreaterThan(4);
    const got = await runGroups(software, logits, V, groups);
    expect(got.ids).toEqual(groups.map((g) => chooseRef(logits, V, g).id));
    // The contrastive choice is not simply the expert's argmax for some group.
    const expertArgmax = groups.map((g) => {
      const row = Array.from(logits.subarray(g.members[0].row * V, (g.members[0].row + 1) * V));
      return row.indexOf(Math.max(...row));
    });
    expect(got.ids.slice(0, 3)).not.toEqual(expertArgmax.slice(0, 3));
  });

  it('contrastive mixtures (expert mixture over h rows vs amateur mixture over h rows) match the reference, with each member\'s p', async () => {
    const r = rng(29);
    const rows = 6;
    const logits = randn(r, rows * V, 2.5);
    const groups: PlanGroup[] = [];
    for (let i = 0; i < 8; i++) {
      const h = 2 + (i % 2);
      const w = Array.from({ length: h }, () => 0.2 + r());
      const z = w.reduce((a, b) => a + b, 0);
      const members = [...w.map((x, j) => member(j, x / z)), ...w.map((x, j) => member((j + 3) % rows, x / z))];
      groups.push(group({ kind: 1, members, greedy: i < 3, u: r(), invT: 1 / [1, 0.7][i % 2], logAlpha: Math.log([0.1, 0.02][i % 2]), topP: i === 6 ? 0.9 : 1 }));
    }
    const got = await runGroups(software, logits, V, groups);
    expect(got.ids).toEqual(groups.map((g) => chooseRef(logits, V, g).id));
    let e = 0;
    for (const g of groups) for (const p of chooseRef(logits, V, g).p) expect(Math.abs(got.p[e++] - p)).toBeLessThan(1e-5 + 1e-4 * p);
    // The cut matters: without it some greedy group would pick another token.
    const noCut = groups.slice(0, 3).map((g) => chooseRef(logits, V, { ...g, logAlpha: -Infinity }).id);
    expect(noCut).not.toEqual(got.ids.slice(0, 3));
    // A contrastive mixture of one row each is the plain contrastive pair.
    const pair = group({ kind: 1, members: [member(0), member(1)], greedy: true });
    expect(chooseRef(logits, V, pair).id).toBe(chooseRef(logits, V, { ...pair, members: [member(0, 0.5), member(0, 0.5), member(1, 0.5), member(1, 0.5)] }).id);
  });
});
