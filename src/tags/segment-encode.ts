/**
 * Tokenizing one piece of a template as the continuation of running text.
 *
 * A rendered example is tokenized piece by piece (text between tags, each field value) so that the
 * tokens of a piece never depend on what follows it: the prompt cut before {output} at inference
 * is token for token the prefix of the training sequence. But SentencePiece-style tokenizers
 * prepend a "▁" (a space) to every text they encode on their own, which would put a spurious space
 * at the start of every piece (".\n" after a field would become " .\n").
 *
 * The fix works for any tokenizer without knowing its kind: encode "\n" + text and drop the tokens
 * of "\n" alone. A newline never merges with what follows in SentencePiece vocabularies (it is a
 * byte token) and is split off by byte-level BPE pre-tokenizers, so what remains is the text as it
 * would be tokenized in the middle of a document. When the prefix does not come back unchanged
 * (a BPE vocabulary merging "\n\n"), the text is encoded on its own, which for those tokenizers adds
 * nothing anyway.
 */
import type { Tokenizer } from '../model/tokenizer-api';

const PROBE = '\n';
const probeIds = new WeakMap<Tokenizer, number[]>();

/** Token ids of `text` as it would be tokenized mid-document: no BOS, no dummy-prefix space. */
export function encodeContinuation(tok: Tokenizer, text: string, special = true): number[] {
  if (text === '') return [];
  let probe = probeIds.get(tok);
  if (!probe) {
    probe = tok.encode(PROBE, { bos: false });
    probeIds.set(tok, probe);
  }
  const ids = tok.encode(PROBE + text, { bos: false, special });
  if (ids.length > probe.length && probe.every((id, i) => ids[i] === id)) return ids.slice(probe.length);
  return tok.encode(text, { bos: false, special });
}
