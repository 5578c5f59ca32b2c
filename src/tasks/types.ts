/**
 * Shapes shared by the task dataset builders. A builder is a pure function from file texts to
 * examples; it never throws on bad input: a bad record is skipped and reported (SkippedRow, as in
 * src/data), a bad or missing whole input is reported in `errors`.
 */
import type { DataReport } from '../data/dataset';

export type { SkippedRow } from '../data/dataset';

export type SplitName = 'train' | 'validation' | 'test';

export interface BuildReport extends DataReport {
  /** Problems with a whole input (unreadable file, wrong shape); examples depending on it are missing. */
  errors: string[];
}

export interface BuiltDataset<E> {
  examples: E[];
  report: BuildReport;
}

/** A named text file, as read from disk in Node or from a File/fetch in the browser. */
export interface TextFile {
  name: string;
  text: string;
}
