/**
 * The tensors a llama-family config implies, and the check every format runs against them, so
 * "missing tensor" and "wrong shape" read the same whichever file the model came from.
 */
import { ModelFormatError, TensorNames, type ModelConfig, type TensorInfo } from './types';

/** Every tensor the config implies, with its outer-first shape. */
export function expectedTensorShapes(cfg: ModelConfig): Map<string, number[]> {
  const d = cfg.dModel;
  const q = cfg.nHeads * cfg.headDim;
  const kv = cfg.nKvHeads * cfg.headDim;
  const out = new Map<string, number[]>();
  out.set(TensorNames.tokEmbd, [cfg.vocabSize, d]);
  out.set(TensorNames.outNorm, [d]);
  if (!cfg.tiedEmbeddings) out.set(TensorNames.output, [cfg.vocabSize, d]);
  for (let l = 0; l < cfg.nLayers; l++) {
    out.set(TensorNames.attnNorm(l), [d]);
    out.set(TensorNames.wq(l), [q, d]);
    out.set(TensorNames.wk(l), [kv, d]);
    out.set(TensorNames.wv(l), [kv, d]);
    if (cfg.qkvBias) {
      out.set(TensorNames.bq(l), [q]);
      out.set(TensorNames.bk(l), [kv]);
      out.set(TensorNames.bv(l), [kv]);
    }
    out.set(TensorNames.wo(l), [d, q]);
    out.set(TensorNames.ffnNorm(l), [d]);
    out.set(TensorNames.wGate(l), [cfg.dFF, d]);
    out.set(TensorNames.wUp(l), [cfg.dFF, d]);
    out.set(TensorNames.wDown(l), [d, cfg.dFF]);
  }
  return out;
}

/** Throws a ModelFormatError naming the first wrong shape, or all (up to five) missing tensors. */
export function checkTensorShapes(cfg: ModelConfig, tensors: Map<string, TensorInfo>, name: string): void {
  const expected = expectedTensorShapes(cfg);
  const missing: string[] = [];
  for (const [tname, shape] of expected) {
    const t = tensors.get(tname);
    if (!t) {
      missing.push(tname);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
      throw new ModelFormatError(
        `"${name}": tensor "${tname}" has shape [${t.shape.join(', ')}] but the model configuration ` +
          `implies [${shape.join(', ')}].`,
      );
    }
  }
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).map((s) => `"${s}"`).join(', ');
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
    throw new ModelFormatError(`"${name}" is missing tensor${missing.length > 1 ? 's' : ''} ${shown}${more}.`);
  }
}


/** BOS / EOS ids must index the embedding table: an id past it would reach the GPU as garbage. */
export function checkSpecialIds(desc: { bosId: number | null; eosId: number | null; config: ModelConfig }, name: string): void {
  for (const [what, id] of [['BOS', desc.bosId], ['EOS', desc.eosId]] as const) {
    if (id !== null && !(Number.isInteger(id) && id >= 0 && id < desc.config.vocabSize)) {
      throw new ModelFormatError(`"${name}": the ${what} token id ${id} is outside the vocabulary (0–${desc.config.vocabSize - 1}); the file is corrupt.`);
    }
  }
}
