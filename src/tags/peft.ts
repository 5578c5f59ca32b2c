/**
 * LoRA adapters in Hugging Face PEFT's format: `adapter_config.json` + `adapter_model.safetensors`
 * with keys `base_model.model.model.layers.<i>.<self_attn|mlp>.<module>.lora_<A|B>.weight`
 * (A f32 [r, in], B f32 [out, r]), readable by PEFT, vLLM and TGI.
 *
 * The adapter in the library lives in the loaded model's row order; PEFT files are always in
 * Hugging Face's. For models whose q/k rows are interleaved (GGUF llama/mistral, llama2.c; see
 * src/model/rope-layout.ts) the B matrices of q_proj and k_proj are permuted on the way out and
 * back on the way in; A matrices read the hidden state, whose order no converter touches.
 */
import { halfToInterleavedRows, interleavedToHalfRows, qkRowsInterleaved } from '../model/rope-layout';
import { readSafetensorsTensors, writeSafetensors } from '../model/safetensors';
import type { ByteSource } from '../model/source';
import { BytesSource } from '../model/sources';
import { GgmlType, type ModelConfig } from '../model/types';
import { LORA_TARGETS, loraShapes, type LoraAdapter, type LoraPair, type LoraTarget } from './head';

export { loraShapes };
import { newId } from './id';

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';

/** Hugging Face module of each target, and the block it sits in. */
export const PEFT_MODULES: Record<LoraTarget, { parent: 'self_attn' | 'mlp'; module: string }> = {
  q: { parent: 'self_attn', module: 'q_proj' },
  k: { parent: 'self_attn', module: 'k_proj' },
  v: { parent: 'self_attn', module: 'v_proj' },
  o: { parent: 'self_attn', module: 'o_proj' },
  gate: { parent: 'mlp', module: 'gate_proj' },
  up: { parent: 'mlp', module: 'up_proj' },
  down: { parent: 'mlp', module: 'down_proj' },
};

/** PEFT's key of one LoRA matrix (as save_pretrained writes it: no adapter name). */
export function peftKey(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  const m = PEFT_MODULES[target];
  return `base_model.model.model.layers.${layer}.${m.parent}.${m.module}.lora_${which}.weight`;
}

export interface PeftFiles {
  /** adapter_config.json as UTF-8 bytes. */
  config: Uint8Array;
  /** adapter_model.safetensors. */
  weights: Uint8Array;
}

export interface PeftExportOptions {
  /** base_model_name_or_path; defaults to the adapter's own baseModel, else null. */
  baseModel?: string | null;
}

/**
 * The adapter as PEFT files for the model it belongs to (its config gives shapes and row order).
 * Deterministic: the same adapter gives the same bytes. Tensors are F32 (lossless).
 */
export function exportPeft(adapter: LoraAdapter, cfg: ModelConfig, opts: PeftExportOptions = {}): PeftFiles {
  checkAdapter(adapter, cfg, `adapter "${adapter.name}"`);
  const shapes = loraShapes(cfg);
  const targets = LORA_TARGETS.filter((t) => adapter.targets.includes(t));
  const r = adapter.rank;
  const tensors = [];
  for (const [l, layer] of adapter.layers.entries()) {
    for (const t of targets) {
      const pair = layer[t]!;
      for (const v of [pair.A, pair.B]) {
        for (let i = 0; i < v.length; i++) {
          if (!Number.isFinite(v[i])) throw new Error(`Cannot export adapter "${adapter.name}": layer ${l} ${t} holds ${v[i]} (training diverged?).`);
        }
      }
      const B = permutesQk(cfg, t) ? interleavedToHalfRows(pair.B, shapes[t].out, r, cfg.headDim) : pair.B;
      tensors.push({ name: peftKey(l, t, 'A'), type: GgmlType.F32, shape: [r, shapes[t].in], data: f32Bytes(pair.A) });
      tensors.push({ name: peftKey(l, t, 'B'), type: GgmlType.F32, shape: [shapes[t].out, r], data: f32Bytes(B) });
    }
  }
  const baseModel = opts.baseModel !== undefined ? opts.baseModel : (adapter.baseModel ?? null);
  // Keys in PEFT's LoraConfig order; vLLM and TGI read r, lora_alpha, target_modules, bias, modules_to_save.
  const config = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: baseModel,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: adapter.alpha,
    lora_dropout: adapter.dropout ?? 0,
    modules_to_save: null,
    peft_type: 'LORA',
    r,
    rank_pattern: {},
    revision: null,
    target_modules: targets.map((t) => PEFT_MODULES[t].module),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
  return {
    config: new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'),
    weights: writeSafetensors(tensors, { format: 'pt' }),
  };
}

export interface PeftImportOptions {
  /** Name in the library (default "peft-adapter"). */
  name?: string;
  signal?: AbortSignal;
}

export interface PeftImportResult {
  adapter: LoraAdapter;
  /** Things that loaded but deserve a look (layers the adapter leaves alone…). */
  warnings: string[];
}

/**
 * Reads PEFT files onto a model: keys and shapes must fit the model exactly, tensors F32/F16/BF16.
 * Anything else is refused with an Error saying what and why. `config` is the adapter_config.json
 * text, bytes or parsed object; `weights` the adapter_model.safetensors bytes or source.
 */
export async function importPeft(
  files: { config: string | Uint8Array | unknown; weights: Uint8Array | ByteSource },
  cfg: ModelConfig,
  opts: PeftImportOptions = {},
): Promise<PeftImportResult> {
  const c = parseConfig(files.config);
  const src = files.weights instanceof Uint8Array ? new BytesSource(files.weights, PEFT_WEIGHTS_FILE) : files.weights;
  let tensors;
  try {
    tensors = await readSafetensorsTensors(src, opts.signal);
  } catch (e) {
    throw new Error(`${PEFT_WEIGHTS_FILE}: ${(e as Error).message}`);
  }
  const shapes = loraShapes(cfg);
  const r = c.r;
  const KEY = /^base_model\.model\.model\.layers\.(\d+)\.(self_attn|mlp)\.([a-z_]+)\.lora_(A|B)(?:\.default)?\.weight$/;
  const byModule = new Map(LORA_TARGETS.map((t) => [PEFT_MODULES[t].module, t]));
  const found = new Map<string, Float32Array<ArrayBuffer>>(); // `${layer}.${target}.${A|B}`
  const unknown: string[] = [];
  for (const t of tensors) {
    const m = KEY.exec(t.name);
    const target = m ? byModule.get(m[3]!) : undefined;
    if (!m || !target || PEFT_MODULES[target].parent !== m[2]) {
      unknown.push(t.name);
      continue;
    }
    const layer = Number(m[1]);
    const which = m[4] as 'A' | 'B';
    if (layer >= cfg.nLayers) {
      throw new Error(`${PEFT_WEIGHTS_FILE}: "${t.name}" adapts layer ${layer}, but the loaded model has ${cfg.nLayers} layers; the adapter was made for another model.`);
    }
    const want = which === 'A' ? [r, shapes[target].in] : [shapes[target].out, r];
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      throw new Error(
        `${PEFT_WEIGHTS_FILE}: "${t.name}" has shape [${t.shape.join(', ')}], but r = ${r} on the loaded model ` +
          `(${describeDims(cfg)}) needs [${want.join(', ')}]; the adapter was made for another model.`,
      );
    }
    const key = `${layer}.${target}.${which}`;
    if (found.has(key)) throw new Error(`${PEFT_WEIGHTS_FILE}: layer ${layer} ${PEFT_MODULES[target].module} lora_${which} appears twice.`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new Error(`${PEFT_WEIGHTS_FILE}: "${t.name}" holds ${t.data[i]} at index ${i}.`);
    }
    found.set(key, t.data);
  }
  if (unknown.length) {
    throw new Error(
      `${PEFT_WEIGHTS_FILE} holds tensors this workbench cannot apply: ${unknown.slice(0, 3).map((n) => `"${n}"`).join(', ')}` +
        `${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''}. It reads LoRA A/B matrices of ` +
        `${LORA_TARGETS.map((t) => PEFT_MODULES[t].module).join(', ')} in model.layers.<i> (Llama-family names).`,
    );
  }
  if (found.size === 0) throw new Error(`${PEFT_WEIGHTS_FILE} holds no LoRA matrices.`);
  const targets = LORA_TARGETS.filter((t) => [...found.keys()].some((k) => k.split('.')[1] === t));
  const declared = c.targetModules;
  if (declared) {
    const missing = targets.filter((t) => !declared.includes(PEFT_MODULES[t].module));
    if (missing.length) {
      throw new Error(`${PEFT_CONFIG_FILE}: target_modules (${declared.join(', ')}) lacks ${missing.map((t) => PEFT_MODULES[t].module).join(', ')}, which the weights adapt.`);
    }
  }
  const warnings: string[] = [];
  const untouched: string[] = [];
  const layers: Array<Record<string, LoraPair>> = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const layer: Record<string, LoraPair> = {};
    for (const t of targets) {
      const A = found.get(`${l}.${t}.A`);
      const B = found.get(`${l}.${t}.B`);
      if (!A !== !B) {
        throw new Error(`${PEFT_WEIGHTS_FILE}: layer ${l} ${PEFT_MODULES[t].module} has lora_${A ? 'A' : 'B'} but no lora_${A ? 'B' : 'A'}.`);
      }
      if (!A || !B) {
        // A layer the adapter leaves alone (layers_to_transform): zero matrices change nothing.
        untouched.push(`${l}.${PEFT_MODULES[t].module}`);
        layer[t] = { A: new Float32Array(r * shapes[t].in), B: new Float32Array(shapes[t].out * r) };
        continue;
      }
      layer[t] = { A, B: permutesQk(cfg, t) ? halfToInterleavedRows(B, shapes[t].out, r, cfg.headDim) : B };
    }
    layers.push(layer);
  }
  if (untouched.length) warnings.push(`The adapter leaves ${untouched.length} matrices unadapted (${untouched.slice(0, 4).join(', ')}${untouched.length > 4 ? ', …' : ''}); they get zero LoRA matrices.`);
  const adapter: LoraAdapter = {
    id: newId('lora'),
    name: opts.name ?? 'peft-adapter',
    // PEFT scales by lora_alpha / r, or lora_alpha / √r with use_rslora; the library always by alpha / rank.
    rank: r,
    alpha: c.rslora ? c.alpha * Math.sqrt(r) : c.alpha,
    targets,
    layers,
  };
  if (c.dropout !== null) adapter.dropout = c.dropout;
  if (c.baseModel !== null) adapter.baseModel = c.baseModel;
  return { adapter, warnings };
}

interface PeftConfig {
  r: number;
  alpha: number;
  dropout: number | null;
  rslora: boolean;
  baseModel: string | null;
  targetModules: string[] | null;
}

function parseConfig(raw: unknown): PeftConfig {
  let json = raw;
  if (json instanceof Uint8Array) json = new TextDecoder().decode(json);
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      throw new Error(`${PEFT_CONFIG_FILE} is not JSON (${(e as Error).message}).`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${PEFT_CONFIG_FILE} is not a JSON object.`);
  const o = json as Record<string, unknown>;
  const at = PEFT_CONFIG_FILE;
  if (o.peft_type !== 'LORA') {
    throw new Error(`${at}: peft_type is ${JSON.stringify(o.peft_type ?? null)}; only "LORA" adapters can be loaded.`);
  }
  if (o.task_type !== undefined && o.task_type !== null && o.task_type !== 'CAUSAL_LM') {
    throw new Error(`${at}: task_type is ${JSON.stringify(o.task_type)}; only CAUSAL_LM adapters fit a decoder-only language model.`);
  }
  const r = o.r;
  if (typeof r !== 'number' || !Number.isInteger(r) || r < 1) throw new Error(`${at}: r should be a positive integer, got ${JSON.stringify(r)}.`);
  const alpha = o.lora_alpha ?? 8; // PEFT's LoraConfig default when the file leaves it out
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new Error(`${at}: lora_alpha should be a number, got ${JSON.stringify(alpha)}.`);
  const refuse = (what: string, why: string) => {
    throw new Error(`${at}: ${what} — ${why}; this workbench loads plain LoRA adapters only.`);
  };
  if (o.use_dora === true) refuse('use_dora is true', 'DoRA rescales each weight column by a learned magnitude');
  if (o.fan_in_fan_out === true) refuse('fan_in_fan_out is true', 'that layout is for GPT-2-style Conv1D layers, not Llama-family models');
  if (o.bias !== undefined && o.bias !== 'none') refuse(`bias is ${JSON.stringify(o.bias)}`, 'the adapter also trains biases');
  if (Array.isArray(o.modules_to_save) && o.modules_to_save.length) {
    refuse(`modules_to_save lists ${o.modules_to_save.join(', ')}`, 'the adapter carries full copies of those modules');
  }
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    const v = o[k];
    if (v && typeof v === 'object' && Object.keys(v).length) refuse(`${k} is not empty`, 'ranks or scales differ between modules');
  }
  let dropout: number | null = null;
  if (typeof o.lora_dropout === 'number' && o.lora_dropout >= 0 && o.lora_dropout < 1) dropout = o.lora_dropout;
  let targetModules: string[] | null = null;
  if (Array.isArray(o.target_modules) && o.target_modules.every((m) => typeof m === 'string')) targetModules = o.target_modules as string[];
  // A regex string (or "all-linear") is resolved by the weights' keys instead.
  return {
    r,
    alpha,
    dropout,
    rslora: o.use_rslora === true,
    baseModel: typeof o.base_model_name_or_path === 'string' ? o.base_model_name_or_path : null,
    targetModules,
  };
}

function permutesQk(cfg: ModelConfig, t: LoraTarget): boolean {
  return (t === 'q' || t === 'k') && qkRowsInterleaved(cfg);
}

function checkAdapter(a: LoraAdapter, cfg: ModelConfig, what: string): void {
  const shapes = loraShapes(cfg);
  if (a.layers.length !== cfg.nLayers) throw new Error(`Cannot export ${what}: it has ${a.layers.length} layers, the model ${cfg.nLayers}.`);
  for (const [l, layer] of a.layers.entries()) {
    for (const t of a.targets) {
      const p = layer[t];
      if (!p || p.A.length !== a.rank * shapes[t].in || p.B.length !== shapes[t].out * a.rank) {
        throw new Error(`Cannot export ${what}: layer ${l} ${t} does not have the shapes [${a.rank}, ${shapes[t].in}] / [${shapes[t].out}, ${a.rank}] of the loaded model (${describeDims(cfg)}).`);
      }
    }
  }
}

function describeDims(cfg: ModelConfig): string {
  return `hidden ${cfg.dModel}, ${cfg.nHeads} heads × ${cfg.headDim}, ${cfg.nKvHeads} KV heads, intermediate ${cfg.dFF}`;
}

function f32Bytes(v: Float32Array): Uint8Array {
  // Little-endian on every platform WebGPU runs on; copy so the bytes don't alias the adapter.
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}
