/**
 * Evaluation by generation: a template (the method's own rendering of the task template) cut before
 * the output field, rendered with the tags the method learned, decoded greedily in batches of the
 * engine's sequence slots. Used for translation, the no-head ablation and direct prompting.
 */
import type { TaggedPrompt } from '../model/api';
import type { Engine } from '../model/model';
import type { Tokenizer } from '../model/tokenizer-api';
import { packInjected } from '../tags/inject';
import type { Tag } from '../tags/tag';
import { renderExample, type Template, type TemplateSegment } from '../tags/template';
import { TrainingCancelled } from '../train/trainer';

export interface PromptOptions {
  /** The field the prompt stops before. */
  omit: string;
  spacedFields?: string[];
  isolate?: boolean;
  /** Prompt tuning: soft-prompt rows placed right after BOS, as in training. */
  softPrompt?: Tag;
}

/** One prompt: token ids (no tags) or a TaggedPrompt. */
export function buildPrompt(template: Template, row: Record<string, string>, tags: Map<string, Tag>, tokenizer: Tokenizer, o: PromptOptions): number[] | TaggedPrompt {
  const r = renderExample(template, row, {
    tokenizer,
    tags,
    omitFields: [o.omit],
    isolate: o.isolate,
    spaceResidues: (o.spacedFields?.length ?? 0) > 0,
    spacedFields: o.spacedFields,
  });
  let ids = r.ids;
  let tagAt = r.tagAt;
  let start = r.start;
  if (o.softPrompt) {
    const at = tokenizer.bosId !== null ? 1 : 0;
    const k = o.softPrompt.p;
    ids = [...ids.slice(0, at), ...new Array<number>(k).fill(0), ...ids.slice(at)];
    tagAt = [...Array.from({ length: k }, (_, i) => ({ pos: at + i, tag: o.softPrompt!.name, row: i })), ...tagAt.map((a) => ({ ...a, pos: a.pos + k }))];
    start = new Array<number>(ids.length).fill(0);
  }
  if (tagAt.length === 0) return ids;
  const all = new Map(tags);
  if (o.softPrompt) all.set(o.softPrompt.name, o.softPrompt);
  const packed = packInjected([...new Set(tagAt.map((a) => a.tag))].map((n) => all.get(n)!));
  const inject = new Array<number>(ids.length).fill(-1);
  for (const a of tagAt) inject[a.pos] = packed.offsets.get(a.tag)! + a.row;
  return { ids, inject, injected: packed.data, start };
}

export interface GenerateAllOptions {
  maxNewTokens: number;
  /** A resident LoRA adapter (engine.setAdapter) applied to every prompt. */
  adapter?: string;
  signal?: AbortSignal;
  onProgress?: (done: number, of: number) => void;
}

/** Greedy continuations of many prompts (the first line of each, trimmed). */
export async function generateAll(engine: Engine, prompts: Array<number[] | TaggedPrompt>, o: GenerateAllOptions): Promise<string[]> {
  const { slots, maxContext } = engine.transformer.opts;
  const out: string[] = new Array(prompts.length).fill('');
  const len = (p: number[] | TaggedPrompt) => (Array.isArray(p) ? p.length : p.ids.length);
  for (let i = 0; i < prompts.length; i += slots) {
    if (o.signal?.aborted) throw new TrainingCancelled('The experiment was cancelled.');
    const idx = Array.from({ length: Math.min(slots, prompts.length - i) }, (_, j) => i + j).filter((k) => len(prompts[k]) < maxContext - 1);
    if (idx.length) {
      let room = o.maxNewTokens;
      for (const k of idx) room = Math.min(room, maxContext - 1 - len(prompts[k]));
      const res = await engine.generate({ prompts: idx.map((k) => prompts[k]), maxTokens: Math.max(1, room), temperature: 0, stopStrings: ['\n'], signal: o.signal, ...(o.adapter ? { adapters: idx.map(() => o.adapter) } : {}) });
      res.outputs.forEach((r, j) => (out[idx[j]] = r.text.split('\n')[0].trim()));
    }
    o.onProgress?.(Math.min(prompts.length, i + slots), prompts.length);
  }
  if (o.signal?.aborted) throw new TrainingCancelled('The experiment was cancelled.');
  return out;
}

/** The first number in a text ("about -1.5e-2 …" → −0.015), or null. */
export function parseFirstNumber(text: string): number | null {
  const m = /[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/.exec(text);
  if (!m) return null;
  const x = Number(m[0]);
  return Number.isFinite(x) ? x : null;
}

/** The class name mentioned first in a text (longest on ties, case-insensitive), or null. */
export function parseClass(text: string, classes: readonly string[]): string | null {
  const low = text.toLowerCase();
  let best: string | null = null;
  let at = Infinity;
  for (const c of classes) {
    const i = low.indexOf(c.toLowerCase());
    if (i >= 0 && (i < at || (i === at && c.length > (best?.length ?? 0)))) {
      best = c;
      at = i;
    }
  }
  return best;
}

/** Template text written back as template source (escaping what the parser would read as syntax). */
export function templateSource(segments: readonly TemplateSegment[]): string {
  return segments
    .map((s) => {
      switch (s.kind) {
        case 'text':
          return s.text.replace(/\\/g, '\\\\').replace(/[<{}]/g, (c) => `\\${c}`);
        case 'tag':
          return `<${s.name}>`;
        case 'tagFromField':
          return `<{${s.field}}>`;
        case 'field':
          return `{${s.name}}`;
      }
    })
    .join('');
}

/**
 * Removes segments, merging the text around each hole so that "is <SMILES> {input}" becomes
 * "is {input}" (one space, not two).
 */
export function removeSegments(segments: readonly TemplateSegment[], drop: (s: TemplateSegment) => boolean): TemplateSegment[] {
  const out: TemplateSegment[] = [];
  let hole = false;
  for (const s of segments) {
    if (drop(s)) {
      hole = true;
      continue;
    }
    const prev = out[out.length - 1];
    if (s.kind === 'text' && prev?.kind === 'text') {
      const text = hole && /\s$/.test(prev.text) ? s.text.replace(/^ +/, '') : s.text;
      out[out.length - 1] = { kind: 'text', text: prev.text + text };
    } else out.push(s);
    hole = false;
  }
  return out;
}

/** A Template object from segments (tags and fields listed as the parser would). */
export function templateOf(segments: TemplateSegment[]): Template {
  return {
    source: templateSource(segments),
    segments,
    tags: [...new Set(segments.flatMap((s) => (s.kind === 'tag' ? [s.name] : [])))],
    fields: [...new Set(segments.flatMap((s) => (s.kind === 'field' ? [s.name] : s.kind === 'tagFromField' ? [s.field] : [])))],
  };
}
