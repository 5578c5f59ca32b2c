import { describe, expect, it } from 'vitest';
import { randomGguf, randomSafetensors } from '../../src/model/random-model';
import { canonicalName, describeSafetensors, hfName, readSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors';
import { describeGguf } from '../../src/model/gguf';
import { BytesSource } from '../../src/model/sources';
import { GgmlType, ModelFormatError, TensorNames, type Arch, type HostTensor } from '../../src/model/types';

async function errorOf(p: Promise<unknown>): Promise<ModelFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFormatError);
    return e as ModelFormatError;
  }
  throw new Error('expected a ModelFormatError');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Rewrites a checkpoint with one change, through the writer. */
async function rewrite(bytes: Uint8Array, change: (t: HostTensor[]) => HostTensor[]): Promise<Uint8Array> {
  const h = await readSafetensorsHeader(new BytesSource(bytes));
  const tensors: HostTensor[] = [...h.entries].map(([name, e]) => ({
    name,
    type: { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 }[e.dtype]!,
    shape: e.shape,
    data: bytes.slice(h.dataOffset + e.data_offsets[0], h.dataOffset + e.data_offsets[1]),
  }));
  return writeSafetensors(change(tensors));
}

/** Builds a file from a raw JSON header and data. */
function rawFile(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('writer round trip: names, dtypes, shapes and bytes', async () => {
    const tensors: HostTensor[] = [
      { name: 'a', type: GgmlType.F32, shape: [2, 3], data: new Uint8Array(24).map((_, i) => i) },
      { name: 'b.bf16', type: GgmlType.BF16, shape: [5], data: new Uint8Array(10).map((_, i) => 100 + i) },
      { name: 'c', type: GgmlType.F16, shape: [1, 1, 3], data: new Uint8Array(6).fill(7) },
    ];
    const bytes = writeSafetensors(tensors, { format: 'pt' });
    const h = await readSafetensorsHeader(new BytesSource(bytes));
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.dataOffset % 8).toBe(0);
    expect([...h.entries.keys()]).toEqual(['a', 'b.bf16', 'c']);
    expect(h.entries.get('b.bf16')).toEqual({ dtype: 'BF16', shape: [5], data_offsets: [24, 34] });
    for (const t of tensors) {
      const e = h.entries.get(t.name)!;
      expect(bytes.slice(h.dataOffset + e.data_offsets[0], h.dataOffset + e.data_offsets[1])).toEqual(t.data);
    }
  });

  it('name mapping both ways', () => {
    expect(canonicalName('model.layers.3.self_attn.k_proj.bias')).toBe(TensorNames.bk(3));
    expect(canonicalName('model.layers.10.mlp.down_proj.weight')).toBe(TensorNames.wDown(10));
    expect(canonicalName('model.layers.0.post_attention_layernorm.weight')).toBe(TensorNames.ffnNorm(0));
    expect(canonicalName('model.layers.0.self_attn.rotary_emb.inv_freq')).toBeNull();
    for (const n of [TensorNames.tokEmbd, TensorNames.output, TensorNames.outNorm, TensorNames.wo(2), TensorNames.wGate(1), TensorNames.attnNorm(7)]) {
      expect(canonicalName(hfName(n))).toBe(n);
    }
  });

  for (const arch of ['llama', 'mistral', 'qwen2'] as Arch[]) {
    for (const [dtype, name] of [[GgmlType.F32, 'F32'], [GgmlType.F16, 'F16'], [GgmlType.BF16, 'BF16']] as const) {
      it(`random ${arch} ${name} checkpoint describes like its GGUF twin`, async () => {
        const { bytes, config } = randomSafetensors({ arch, dtype, seed: 4, tied: arch === 'mistral' });
        const desc = await describeSafetensors(new BytesSource(bytes, 'model.safetensors'), config);
        const twin = await describeGguf(new BytesSource(randomGguf({ arch, type: GgmlType.F32, seed: 4, tied: arch === 'mistral' })));
        expect(desc.format).toBe('safetensors');
        expect(desc.config).toEqual({ ...twin.config, name: 'model.safetensors', ropeStyle: 'neox', normEps: config['rms_norm_eps'] });
        expect(desc.tensors.get(TensorNames.wq(0))!.type).toBe(dtype);
        expect(desc.tensors.get(TensorNames.attnNorm(0))!.type).toBe(GgmlType.F32);
        expect([...desc.tensors.keys()].sort()).toEqual([...twin.tensors.keys()].sort());
        for (const [n, t] of desc.tensors) expect(t.shape).toEqual(twin.tensors.get(n)!.shape);
        expect(desc.bosId).toBe(1);
        expect(desc.eosId).toBe(2);
        expect(desc.metadata['model_type']).toBe(arch);
      });
    }
  }

  it('F32 weights equal the GGUF twin; llama q/k rows are permuted to rotate-half order', async () => {
    for (const arch of ['qwen2', 'llama'] as Arch[]) {
      const st = randomSafetensors({ arch, seed: 7 });
      const gg = randomGguf({ arch, type: GgmlType.F32, seed: 7 });
      const a = await describeSafetensors(new BytesSource(st.bytes), st.config);
      const b = await describeGguf(new BytesSource(gg));
      const f32 = (bytes: Uint8Array, name: string, d: typeof a) => {
        const t = d.tensors.get(name)!;
        return new Float32Array(bytes.slice(t.offset, t.offset + t.bytes).buffer);
      };
      for (const name of [TensorNames.wv(1), TensorNames.wDown(0), TensorNames.tokEmbd]) {
        expect(sameBytes(st.bytes.subarray(a.tensors.get(name)!.offset, a.tensors.get(name)!.offset + a.tensors.get(name)!.bytes),
          gg.subarray(b.tensors.get(name)!.offset, b.tensors.get(name)!.offset + b.tensors.get(name)!.bytes))).toBe(true);
      }
      const hq = f32(st.bytes, TensorNames.wq(0), a);
      const gq = f32(gg, TensorNames.wq(0), b);
      const d = 64;
      const hd = 16;
      const row = (m: Float32Array, r: number) => Array.from(m.subarray(r * d, (r + 1) * d));
      if (arch === 'qwen2') {
        expect(row(hq, 5)).toEqual(row(gq, 5));
      } else {
        // GGUF row h·hd + 2i + j is HF row h·hd + j·hd/2 + i: head 1, i = 3, j = 1.
        expect(row(hq, hd + 1 * (hd / 2) + 3)).toEqual(row(gq, hd + 2 * 3 + 1));
        expect(row(hq, 0)).toEqual(row(gq, 0));
      }
    }
  });

  it('unsupported dtype', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama' });
    const h = await readSafetensorsHeader(new BytesSource(bytes));
    const header: Record<string, unknown> = {};
    for (const [n, e] of h.entries) header[n] = e;
    header['model.layers.0.mlp.up_proj.weight'] = { ...h.entries.get('model.layers.0.mlp.up_proj.weight')!, dtype: 'I8' };
    const file = rawFile(header, bytes.subarray(h.dataOffset));
    const e = await errorOf(describeSafetensors(new BytesSource(file, 'm.safetensors'), config));
    expect(e.message).toBe(
      '"m.safetensors": tensor "model.layers.0.mlp.up_proj.weight" has dtype I8, which is not supported; supported: F32, F16, BF16.',
    );
  });

  it('names and dtypes that collide with Object.prototype are just unknown', async () => {
    expect(canonicalName('constructor')).toBeNull();
    expect(canonicalName('model.layers.0.toString')).toBeNull();
    const f = rawFile({ 'model.norm.weight': { dtype: 'constructor', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(16));
    const e = await errorOf(describeSafetensors(new BytesSource(f), { model_type: 'llama' }));
    expect(e.message).toMatch(/has dtype constructor, which is not supported/);
  });

  it('truncated data', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama' });
    const e = await errorOf(describeSafetensors(new BytesSource(bytes.slice(0, bytes.length - 10), 'm.safetensors'), config));
    expect(e.message).toMatch(/"m.safetensors" is truncated: its tensors need \d+ bytes .*\(10 missing\); the download may be incomplete/);
  });

  it('truncated header', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama' });
    const e = await errorOf(describeSafetensors(new BytesSource(bytes.slice(0, 100)), config));
    expect(e.message).toMatch(/header length \d+ exceeds the file size 100; the download may be incomplete/);
  });

  it('header that is not JSON', async () => {
    const f = rawFile({}, new Uint8Array(0));
    f[8] = 0x21;
    const e = await errorOf(describeSafetensors(new BytesSource(f), {}));
    expect(e.message).toMatch(/not valid JSON/);
  });

  it('inconsistent data_offsets', async () => {
    const f = rawFile({ 'model.norm.weight': { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, new Uint8Array(16));
    const e = await errorOf(describeSafetensors(new BytesSource(f), { model_type: 'llama' }));
    expect(e.message).toMatch(/"model.norm.weight" \[4\] F32 needs 16 bytes but its data_offsets span 12/);
  });

  it('missing tensor and wrong shape', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'qwen2' });
    const missing = await rewrite(bytes, (ts) => ts.filter((t) => t.name !== 'model.layers.1.self_attn.v_proj.bias'));
    const e1 = await errorOf(describeSafetensors(new BytesSource(missing, 'q.safetensors'), config));
    expect(e1.message).toBe('"q.safetensors" is missing tensor "blk.1.attn_v.bias".');
    const wrong = await rewrite(bytes, (ts) => ts.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [8, 8] } : t)));
    const e2 = await errorOf(describeSafetensors(new BytesSource(wrong, 'q.safetensors'), config));
    expect(e2.message).toMatch(/tensor "output_norm.weight" has shape \[8, 8\] but the model configuration implies \[64\]/);
  });

  it('config.json problems', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama' });
    const src = new BytesSource(bytes, 'm.safetensors');
    expect((await errorOf(describeSafetensors(src, undefined))).message).toMatch(/needs its config.json/);
    expect((await errorOf(describeSafetensors(src, { ...config, model_type: 'gpt2' }))).message).toBe(
      'config.json for "m.safetensors" has model_type "gpt2"; supported: llama, mistral, qwen2.',
    );
    const { hidden_size: _, ...noHidden } = config;
    expect((await errorOf(describeSafetensors(src, noHidden))).message).toMatch(/lacks "hidden_size"/);
    expect((await errorOf(describeSafetensors(src, { ...config, rope_scaling: { rope_type: 'yarn', factor: 4 } }))).message).toMatch(
      /rope_scaling type "yarn" is not supported/,
    );
    const scaled = await describeSafetensors(src, { ...config, rope_scaling: { type: 'linear', factor: 2 } });
    expect(scaled.config.ropeScale).toBe(2);
    const eosList = await describeSafetensors(src, { ...config, eos_token_id: [7, 8] });
    expect(eosList.eosId).toBe(7);
  });

  it('tie_word_embeddings false without lm_head', async () => {
    const { bytes, config } = randomSafetensors({ arch: 'llama', tied: true });
    const e = await errorOf(describeSafetensors(new BytesSource(bytes, 'm.safetensors'), { ...config, tie_word_embeddings: false }));
    expect(e.message).toMatch(/no "lm_head.weight" although config.json says tie_word_embeddings is false/);
  });
});
