/** The tokenizer the engine, the method layer and the UI use, whatever file it was built from. */
export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /**
   * Token ids of `text`; BOS is prepended only when `bos` is true. `special: false` is for data
   * text: a literal "</s>" in it stays text instead of becoming the EOS token (default true).
   */
  encode(text: string, opts?: { bos?: boolean; special?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /** The vocabulary string of one id (for display: nearest tokens, token chips). */
  idToToken(id: number): string;
  /** The tokenizer.json object it runs on (exportable, cached by the UI). */
  readonly json: unknown;
}
