/**
 * Row order of the q and k projections. RoPE rotates pairs of a head's dimensions; which pairs
 * depends on the checkpoint:
 *
 * - GGUF llama/mistral (llama.cpp's convert permutes Hugging Face's rows back to Meta's order) and
 *   llama2.c `.bin` (Meta's order): 'normal' RoPE, pairs (2i, 2i+1) — rows interleaved.
 * - Hugging Face safetensors (any arch) and GGUF qwen2 (NeoX RoPE, never permuted): 'neox' RoPE,
 *   pairs (i, i + hd/2) — rows rotate-half.
 *
 * Anything whose output rows are q or k rows (a LoRA B of q_proj / k_proj) must be permuted when it
 * moves between an interleaved model and the Hugging Face layout. Within head h, interleaved row
 * h·hd + 2i + j is rotate-half row h·hd + j·hd/2 + i.
 */
import type { ModelConfig } from './types';

/** True when the model keeps q/k rows interleaved, i.e. they differ from Hugging Face's order. */
export function qkRowsInterleaved(cfg: Pick<ModelConfig, 'ropeStyle'>): boolean {
  return cfg.ropeStyle === 'normal';
}

function permuteRows(values: Float32Array, rows: number, cols: number, headDim: number, toHalf: boolean): Float32Array<ArrayBuffer> {
  if (rows % headDim !== 0 || headDim % 2 !== 0 || values.length !== rows * cols) {
    throw new Error(`RoPE row permutation: ${rows} rows × ${cols} columns (${values.length} values) are not whole heads of ${headDim}.`);
  }
  const out = new Float32Array(values.length);
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const h = Math.floor(r / headDim);
    const within = r % headDim;
    const halfRow = h * headDim + (within & 1) * half + (within >> 1);
    const [src, dst] = toHalf ? [r, halfRow] : [halfRow, r];
    out.set(values.subarray(src * cols, (src + 1) * cols), dst * cols);
  }
  return out;
}

/** f32 [rows, cols] with interleaved q/k rows → the same rows in rotate-half (Hugging Face) order. */
export function interleavedToHalfRows(values: Float32Array, rows: number, cols: number, headDim: number): Float32Array<ArrayBuffer> {
  return permuteRows(values, rows, cols, headDim, true);
}

/** Inverse of interleavedToHalfRows. */
export function halfToInterleavedRows(values: Float32Array, rows: number, cols: number, headDim: number): Float32Array<ArrayBuffer> {
  return permuteRows(values, rows, cols, headDim, false);
}
