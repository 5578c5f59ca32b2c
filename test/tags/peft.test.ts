/**
 * PEFT export/import without a GPU: key names and shapes per architecture, the q/k row order
 * between GGUF (interleaved) and Hugging Face (rotate-half) checked through the float64 reference
 * forward, byte-identical round trips, F16/BF16 weights, refusals, zips and URL sources.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeGguf } from '../../src/model/gguf';
import { quantize } from '../../src/model/quant';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { describeSafetensors, readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors';
import { BytesSource } from '../../src/model/sources';
import { GgmlType, type Arch, type HostTensor, type ModelConfig } from '../../src/model/types';
import { LORA_TARGETS, type LoraAdapter, type LoraTarget } from '../../src/tags/head';
import { exportPeft, importPeft, loraShapes, peftKey, type PeftFiles } from '../../src/tags/peft';
import { fetchPeft, peftUrls, unzipPeft, zipPeft } from '../../src/tags/peft-files';
import { refForward, refModel } from '../reference/forward';
import { refGreedy, refLora } from '../reference/greedy';

const ARCHS: Arch[] = ['llama', 'mistral', 'qwen2'];
const MODEL = { seed: 3, nLayers: 2, dModel: 64, nHeads: 4, nKvHeads: 2, dFF: 96, vocabSize: 200 };

async function twins(arch: Arch) {
  const gg = randomGguf({ ...MODEL, arch, type: GgmlType.F32 });
  const st = randomSafetensors({ ...MODEL, arch });
  const gSrc = new BytesSource(gg);
  const sSrc = new BytesSource(st.bytes);
  const gDesc = await describeGguf(gSrc);
  const sDesc = await describeSafetensors(sSrc, st.config);
  return { gguf: { cfg: gDesc.config, ref: await refModel(gDesc, gSrc) }, st: { cfg: sDesc.config, ref: await refModel(sDesc, sSrc) } };
}

/** A random adapter in `cfg`'s row order: A and B both non-zero so every matrix matters. */
function randomAdapter(cfg: ModelConfig, targets: readonly LoraTarget[] = LORA_TARGETS, rank = 4, seed = 1): LoraAdapter {
  let s = seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.4;
  const shapes = loraShapes(cfg);
  return {
    id: 'lora-test',
    name: 'test',
    rank,
    alpha: 8,
    targets: [...targets],
    dropout: 0.05,
    layers: Array.from({ length: cfg.nLayers }, () =>
      Object.fromEntries(targets.map((t) => [t, { A: Float32Array.from({ length: rank * shapes[t].in }, rnd), B: Float32Array.from({ length: shapes[t].out * rank }, rnd) }])),
    ),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function configOf(files: PeftFiles): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(files.config)) as Record<string, unknown>;
}

describe('PEFT key names and shapes', () => {
  for (const arch of ARCHS) {
    it(`${arch}: PEFT's names, [r, in] / [out, r] shapes, the config PEFT writes`, async () => {
      const { gguf } = await twins(arch);
      const cfg = gguf.cfg;
      const files = exportPeft(randomAdapter(cfg), cfg, { baseModel: `org/${arch}-tiny` });
      const header = await readSafetensorsHeader(new BytesSource(files.weights));
      const qd = cfg.nHeads * cfg.headDim;
      const kvd = cfg.nKvHeads * cfg.headDim;
      const want: Record<string, number[]> = {};
      for (let l = 0; l < cfg.nLayers; l++) {
        const p = `base_model.model.model.layers.${l}`;
        Object.assign(want, {
          [`${p}.self_attn.q_proj.lora_A.weight`]: [4, 64], [`${p}.self_attn.q_proj.lora_B.weight`]: [qd, 4],
          [`${p}.self_attn.k_proj.lora_A.weight`]: [4, 64], [`${p}.self_attn.k_proj.lora_B.weight`]: [kvd, 4],
          [`${p}.self_attn.v_proj.lora_A.weight`]: [4, 64], [`${p}.self_attn.v_proj.lora_B.weight`]: [kvd, 4],
          [`${p}.self_attn.o_proj.lora_A.weight`]: [4, qd], [`${p}.self_attn.o_proj.lora_B.weight`]: [64, 4],
          [`${p}.mlp.gate_proj.lora_A.weight`]: [4, 64], [`${p}.mlp.gate_proj.lora_B.weight`]: [96, 4],
          [`${p}.mlp.up_proj.lora_A.weight`]: [4, 64], [`${p}.mlp.up_proj.lora_B.weight`]: [96, 4],
          [`${p}.mlp.down_proj.lora_A.weight`]: [4, 96], [`${p}.mlp.down_proj.lora_B.weight`]: [64, 4],
        });
      }
      expect([...header.entries.keys()].sort()).toEqual(Object.keys(want).sort());
      for (const [k, e] of header.entries) {
        expect(e.shape, k).toEqual(want[k]);
        expect(e.dtype).toBe('F32');
      }
      expect(header.metadata).toEqual({ format: 'pt' });
      expect(configOf(files)).toMatchObject({
        peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0.05, bias: 'none',
        target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        base_model_name_or_path: `org/${arch}-tiny`, use_dora: false, use_rslora: false, modules_to_save: null,
      });
      expect(peftKey(3, 'down', 'B')).toBe('base_model.model.model.layers.3.mlp.down_proj.lora_B.weight');
    });
  }
});

describe('PEFT layouts: an adapter moved between GGUF and Hugging Face twins computes the same', () => {
  for (const arch of ARCHS) {
    it(`${arch}: export from the GGUF model, import onto the safetensors model (and back): same logits and greedy ids`, async () => {
      const { gguf, st } = await twins(arch);
      const adapter = randomAdapter(gguf.cfg);
      const files = exportPeft(adapter, gguf.cfg);
      const onSt = (await importPeft(files, st.cfg)).adapter;
      const prompt = [1, 17, 42, 99, 3];
      const a = refGreedy(gguf.ref, prompt, 5, refLora(adapter));
      const b = refGreedy(st.ref, prompt, 5, refLora(onSt));
      const base = refGreedy(gguf.ref, prompt, 5, undefined);
      expect(maxAbsDiff(a.logits, base.logits)).toBeGreaterThan(0.05); // the adapter changes something
      expect(b.ids).toEqual(a.ids);
      expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-4);
      // And back: the safetensors model's export imported onto the GGUF model gives the original matrices.
      const back = (await importPeft(exportPeft(onSt, st.cfg), gguf.cfg)).adapter;
      for (const [l, layer] of adapter.layers.entries()) for (const t of adapter.targets) expect(back.layers[l]![t]!.B).toEqual(layer[t]!.B);
    });
  }

  it('without the q/k permutation the GGUF llama adapter would compute something else (the test can fail)', async () => {
    const { gguf, st } = await twins('llama');
    const adapter = randomAdapter(gguf.cfg, ['q', 'k']);
    const wrong = (await importPeft(exportPeft(adapter, { ...gguf.cfg, ropeStyle: 'neox' }), st.cfg)).adapter;
    const prompt = [1, 17, 42, 99, 3];
    const a = refForward(gguf.ref, { ids: prompt, lora: refLora(adapter) }).logits;
    const b = refForward(st.ref, { ids: prompt, lora: refLora(wrong) }).logits;
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
  });
});

describe('PEFT round trips and dtypes', () => {
  it('export → import → export is byte-identical (config and weights), and the zip too', async () => {
    for (const arch of ARCHS) {
      const { gguf } = await twins(arch);
      const adapter = { ...randomAdapter(gguf.cfg, ['q', 'v', 'down'], 8, 7), baseModel: 'org/m' };
      const one = exportPeft(adapter, gguf.cfg);
      const { adapter: again } = await importPeft(one, gguf.cfg, { name: 'again' });
      expect(again).toMatchObject({ name: 'again', rank: 8, alpha: 8, dropout: 0.05, baseModel: 'org/m', targets: ['q', 'v', 'down'] });
      const two = exportPeft(again, gguf.cfg);
      expect(Buffer.from(two.config).equals(Buffer.from(one.config))).toBe(true);
      expect(Buffer.from(two.weights).equals(Buffer.from(one.weights))).toBe(true);
      const z = zipPeft(one);
      expect(Buffer.from(zipPeft(two)).equals(Buffer.from(z))).toBe(true);
      const unz = unzipPeft(z);
      expect(Buffer.from(unz.weights).equals(Buffer.from(one.weights))).toBe(true);
    }
  });

  it('F16 and BF16 weights load (rounded as the dtype rounds)', async () => {
    const { st } = await twins('qwen2');
    const adapter = randomAdapter(st.cfg, ['q', 'o'], 4, 11);
    const f32 = exportPeft(adapter, st.cfg);
    for (const type of [GgmlType.F16, GgmlType.BF16]) {
      const header = await readSafetensorsHeader(new BytesSource(f32.weights));
      const tensors: HostTensor[] = [...header.entries].map(([name, e]) => {
        const raw = f32.weights.slice(header.dataOffset + e.data_offsets[0], header.dataOffset + e.data_offsets[1]);
        return { name, type, shape: e.shape, data: quantize(type, new Float32Array(raw.buffer)) };
      });
      const { adapter: got } = await importPeft({ config: f32.config, weights: writeSafetensors(tensors) }, st.cfg);
      const tol = type === GgmlType.F16 ? 1e-3 : 1e-2;
      for (const [l, layer] of adapter.layers.entries()) {
        for (const t of adapter.targets) {
          expect(maxAbsDiff(got.layers[l]![t]!.A, layer[t]!.A)).toBeLessThan(tol);
          expect(maxAbsDiff(got.layers[l]![t]!.B, layer[t]!.B)).toBeLessThan(tol);
          expect(maxAbsDiff(got.layers[l]![t]!.B, layer[t]!.B)).toBeGreaterThan(0); // really went through the dtype
        }
      }
    }
  });

  it('use_rslora scales by alpha/√r: the library adapter gets the equivalent alpha', async () => {
    const { st } = await twins('llama');
    const files = exportPeft(randomAdapter(st.cfg, ['v'], 4), st.cfg);
    const cfg = { ...configOf(files), use_rslora: true, lora_alpha: 6 };
    const { adapter } = await importPeft({ config: cfg, weights: files.weights }, st.cfg);
    expect(adapter.alpha / adapter.rank).toBeCloseTo(6 / Math.sqrt(4), 12);
  });

  it('layers the adapter leaves alone get zero matrices, with a warning', async () => {
    const { st } = await twins('llama');
    const files = exportPeft(randomAdapter(st.cfg, ['v'], 4), st.cfg);
    const header = await readSafetensorsHeader(new BytesSource(files.weights));
    const keep: HostTensor[] = [...header.entries].filter(([n]) => n.includes('.layers.0.')).map(([name, e]) => ({
      name, type: GgmlType.F32, shape: e.shape, data: files.weights.slice(header.dataOffset + e.data_offsets[0], header.dataOffset + e.data_offsets[1]),
    }));
    const { adapter, warnings } = await importPeft({ config: files.config, weights: writeSafetensors(keep) }, st.cfg);
    expect(warnings.join()).toMatch(/leaves 1 matrices unadapted \(1\.v_proj\)/);
    expect(adapter.layers[1]!.v!.B.every((x) => x === 0)).toBe(true);
  });
});

describe('PEFT refusals', () => {
  async function refusal(mutate: (cfg: Record<string, unknown>, tensors: HostTensor[]) => void, onto?: ModelConfig): Promise<string> {
    const { st } = await twins('llama');
    const files = exportPeft(randomAdapter(st.cfg, ['q', 'v'], 4), st.cfg);
    const header = await readSafetensorsHeader(new BytesSource(files.weights));
    const tensors: HostTensor[] = [...header.entries].map(([name, e]) => ({
      name, type: GgmlType.F32, shape: e.shape, data: files.weights.slice(header.dataOffset + e.data_offsets[0], header.dataOffset + e.data_offsets[1]),
    }));
    const cfg = configOf(files);
    mutate(cfg, tensors);
    try {
      await importPeft({ config: cfg, weights: writeSafetensors(tensors) }, onto ?? st.cfg);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected a refusal');
  }

  it('another model: wrong width, more layers', async () => {
    const { st } = await twins('llama');
    expect(await refusal(() => {}, { ...st.cfg, dModel: 128, headDim: 32 })).toMatch(/q_proj\.lora_A\.weight" has shape \[4, 64\], but r = 4 on the loaded model \(hidden 128.*needs \[4, 128\]; the adapter was made for another model/);
    expect(await refusal(() => {}, { ...st.cfg, nLayers: 1 })).toMatch(/adapts layer 1, but the loaded model has 1 layers/);
  });

  it('names it does not know, a missing half, a dtype it cannot read', async () => {
    expect(await refusal((_, t) => t.push({ name: 'base_model.model.lm_head.lora_A.weight', type: GgmlType.F32, shape: [1], data: new Uint8Array(4) }))).toMatch(/tensors this workbench cannot apply: "base_model\.model\.lm_head\.lora_A\.weight"/);
    expect(await refusal((_, t) => t.push({ name: 'base_model.model.model.layers.0.mlp.q_proj.lora_A.weight', type: GgmlType.F32, shape: [1], data: new Uint8Array(4) }))).toMatch(/cannot apply: "base_model\.model\.model\.layers\.0\.mlp\.q_proj/);
    expect(await refusal((_, t) => t.splice(t.findIndex((x) => x.name.endsWith('layers.1.self_attn.v_proj.lora_B.weight')), 1))).toMatch(/layer 1 v_proj has lora_A but no lora_B/);
  });

  it('a dtype it cannot read', async () => {
    const { st } = await twins('llama');
    const files = exportPeft(randomAdapter(st.cfg, ['v'], 4), st.cfg);
    const w = Buffer.from(files.weights);
    const at = w.indexOf('"F32"');
    w.write('"I32"', at); // same size per element: only the dtype is wrong
    await expect(importPeft({ config: files.config, weights: new Uint8Array(w) }, st.cfg)).rejects.toThrow(/adapter_model\.safetensors: .*has dtype I32; supported: F32, F16, BF16/);
  });

  it('configs of other adapter kinds', async () => {
    expect(await refusal((c) => { c.peft_type = 'IA3'; })).toMatch(/peft_type is "IA3"; only "LORA"/);
    expect(await refusal((c) => { c.use_dora = true; })).toMatch(/use_dora is true — DoRA/);
    expect(await refusal((c) => { c.modules_to_save = ['lm_head']; })).toMatch(/modules_to_save lists lm_head/);
    expect(await refusal((c) => { c.rank_pattern = { q_proj: 16 }; })).toMatch(/rank_pattern is not empty/);
    expect(await refusal((c) => { c.bias = 'all'; })).toMatch(/bias is "all"/);
    expect(await refusal((c) => { c.target_modules = ['q_proj']; })).toMatch(/target_modules \(q_proj\) lacks v_proj/);
    expect(await refusal((c) => { c.r = 8; })).toMatch(/has shape \[4, 64\], but r = 8/);
  });

  it('zips without the two files, or with pickled weights only', () => {
    expect(() => unzipPeft(zipSync({ 'adapter_config.json': strToU8('{}'), 'adapter_model.bin': new Uint8Array(8) }), 'a.zip')).toThrow(/adapter_model\.bin \(pickled PyTorch\).*safe_serialization=True/);
    expect(() => unzipPeft(zipSync({ 'x/adapter_config.json': strToU8('{}') }), 'a.zip')).toThrow('a.zip has no adapter_model.safetensors');
    expect(() => unzipPeft(new Uint8Array([1, 2, 3]), 'a.zip')).toThrow(/a\.zip is not a readable zip file/);
  });
});

describe('PEFT from URLs', () => {
  it('Hugging Face repository URLs map to resolve/<revision>/ file URLs; other URLs are folders', () => {
    expect(peftUrls('https://huggingface.co/org/lora')).toEqual({
      config: 'https://huggingface.co/org/lora/resolve/main/adapter_config.json',
      weights: 'https://huggingface.co/org/lora/resolve/main/adapter_model.safetensors',
    });
    expect(peftUrls('https://huggingface.co/org/lora/tree/v2/checkpoint-100').weights).toBe('https://huggingface.co/org/lora/resolve/v2/checkpoint-100/adapter_model.safetensors');
    expect(peftUrls('https://huggingface.co/org/lora/blob/main/adapter_config.json').config).toBe('https://huggingface.co/org/lora/resolve/main/adapter_config.json');
    expect(peftUrls('http://127.0.0.1:9/a/b/').config).toBe('http://127.0.0.1:9/a/b/adapter_config.json');
    expect(() => peftUrls('https://huggingface.co/org')).toThrow(/names no repository/);
    expect(() => peftUrls('not a url')).toThrow(/is not a URL/);
  });

  let server: Server;
  let base = '';
  const served = new Map<string, Uint8Array>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (m) {
        const [a, b] = [Number(m[1]), Math.min(Number(m[2]), body.length - 1)];
        res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${body.length}`, 'content-length': b - a + 1 });
        res.end(req.method === 'HEAD' ? undefined : body.subarray(a, b + 1));
        return;
      }
      res.writeHead(200, { 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a served folder, a hub-style repository and a zip all load the same adapter; pickles are refused', async () => {
    const { gguf } = await twins('mistral');
    const adapter = randomAdapter(gguf.cfg, ['q', 'k', 'up'], 4, 5);
    const files = exportPeft(adapter, gguf.cfg);
    served.set('/folder/adapter_config.json', files.config);
    served.set('/folder/adapter_model.safetensors', files.weights);
    served.set('/org/lora/resolve/main/adapter_config.json', files.config);
    served.set('/org/lora/resolve/main/adapter_model.safetensors', files.weights);
    served.set('/a.zip', zipPeft(files));
    served.set('/pickled/adapter_config.json', files.config);
    served.set('/pickled/adapter_model.bin', new Uint8Array(16));
    for (const [url, hub] of [[`${base}/folder`, undefined], ['https://huggingface.co/org/lora', base], [`${base}/a.zip`, undefined]] as const) {
      const got = (await importPeft(await fetchPeft(url, { hub }), gguf.cfg)).adapter;
      for (const t of adapter.targets) expect(got.layers[1]![t]!.B, url).toEqual(adapter.layers[1]![t]!.B);
    }
    await expect(fetchPeft(`${base}/pickled`)).rejects.toThrow(/adapter_model\.bin \(pickled PyTorch\)/);
    await expect(fetchPeft(`${base}/nothing`)).rejects.toThrow(/Could not read adapter_config\.json of .*HTTP 404/);
  });
});
