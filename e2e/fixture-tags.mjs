/** Builds a small tag library file for stories260K (d_model 64) and imports it: specs that need tags without training them. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gotoPanel } from './workbench-lib.mjs';

const D = 64;

function f32b64(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return Buffer.from(a.buffer).toString('base64');
}

/** A library file: `tags` = [{ name, kind, p?, head? }] (head: 'regression'). */
export function libraryFile(tags) {
  const file = { format: 'tag-workbench/library', version: 1, exported: new Date().toISOString(), tags: [], heads: [], adapters: [] };
  tags.forEach((t, i) => {
    const p = t.p ?? 2;
    file.tags.push({
      id: t.id ?? `tag-fixture-${t.name}`,
      name: t.name,
      kind: t.kind ?? 'domain',
      p,
      d: D,
      data: f32b64(p * D, 7 + i),
      provenance: {
        modelArch: 'llama',
        modelName: 'stories260K',
        dModel: D,
        vocabSize: 512,
        embeddingFingerprint: 'fixture',
        stage: 'stage1',
        steps: 0,
        dataset: '',
        metrics: {},
        created: '2026-01-01T00:00:00.000Z',
        notes: 'e2e fixture',
        ...(t.provenance ?? {}),
      },
    });
    if (t.head) {
      file.heads.push({ id: `head-fixture-${t.name}`, name: t.name, kind: 'regression', k: 1, d: D, W: f32b64(D, 99 + i), b: f32b64(1, 5), labelMean: [0], labelStd: [1] });
    }
  });
  return file;
}

/** Imports the file through the Library panel (confirming the other-embeddings question). */
export async function importLibraryFile(page, artifacts, file, fileName = 'fixture-tags.json') {
  const path = join(artifacts, fileName);
  await writeFile(path, JSON.stringify(file));
  await gotoPanel(page, 'Library');
  await page.getByTestId('library-import').locator('input[type=file]').setInputFiles(path);
  // The fixture's embedding fingerprint is not the model's: the import always asks first.
  const confirm = page.getByTestId('confirm-import');
  await confirm.waitFor({ timeout: 15_000 });
  await confirm.click();
  return path;
}
