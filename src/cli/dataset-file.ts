/**
 * Dataset files for the CLI, refused exactly as the workbench's Data panel refuses them (the
 * worker's datasetImport): an empty file, binary content (PNG, ZIP, a model renamed .csv…) or a
 * header without rows is an error naming the file, never hundreds of "rows" of noise.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { noRecords, notADataset, parseDataset, type DataFormat, type ParsedDataset } from '../data/parse';

/** Reads a file as text (invalid UTF-8 becomes U+FFFD, as File.text() does in the browser) and refuses what is not a dataset. */
export function readDatasetText(path: string): string {
  const text = readFileSync(path, 'utf8');
  const junk = notADataset(text, basename(path));
  if (junk) throw new Error(junk);
  return text;
}

/** readDatasetText, parsed; a file without a single record is refused too. */
export function readDatasetFile(path: string, format?: DataFormat): ParsedDataset {
  const ds = parseDataset(readDatasetText(path), { name: basename(path), format });
  if (ds.report.total === 0) throw new Error(noRecords(basename(path), ds.columns));
  return ds;
}
