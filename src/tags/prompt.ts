/**
 * Inference prompts with tags: a template + field values → the TaggedPrompt the engine's generate(),
 * hiddenAt() and attentionMap() take, with the same rendering rules as training (template.ts), so a
 * prompt cut before {output} is exactly the prefix the tags were trained on.
 */
import type { TaggedPrompt } from '../model/api';
import type { Tokenizer } from '../model/tokenizer-api';
import { packInjected } from './inject';
import type { TagLibrary } from './library';
import { renderExample, type RenderedExample } from './template';

export function renderPrompt(
  template: string,
  fields: Record<string, string>,
  library: TagLibrary,
  tokenizer: Tokenizer,
  opts: { omitFields?: string[]; isolate?: boolean; spacedFields?: string[] } = {},
): { prompt: TaggedPrompt; rendered: RenderedExample } {
  const tags = library.tagMap();
  const rendered = renderExample(template, fields, {
    tokenizer,
    tags,
    omitFields: opts.omitFields,
    isolate: opts.isolate,
    spaceResidues: (opts.spacedFields?.length ?? 0) > 0,
    spacedFields: opts.spacedFields,
  });
  const used = [...new Set(rendered.tagAt.map((a) => a.tag))].map((n) => tags.get(n)!);
  const packed = packInjected(used);
  const inject = new Array<number>(rendered.ids.length).fill(-1);
  for (const { pos, tag, row } of rendered.tagAt) inject[pos] = packed.offsets.get(tag)! + row;
  return { prompt: { ids: rendered.ids, inject, injected: packed.data, start: rendered.start }, rendered };
}
