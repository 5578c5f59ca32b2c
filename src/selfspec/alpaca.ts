/**
 * The Alpaca template the specialised models are trained and evaluated with (METHODS.md §2.4), in
 * the tag-template syntax of src/tags/template.ts. Tag variants put the domain tag right before the
 * instruction (the span of domain data) and the function tag right before the response, where it
 * attends to everything before it. Training and evaluation render through the same function, so the
 * tokens a model is scored on are the tokens it was trained on.
 */
export interface AlpacaTags {
  domainTag?: string | null;
  functionTag?: string | null;
}

const WITH_INPUT = 'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.';
const NO_INPUT = 'Below is an instruction that describes a task. Write a response that appropriately completes the request.';

/** Escapes text for the template syntax (the preamble is fixed text; this keeps it safe if edited). */
const esc = (s: string) => s.replace(/[\\<{}]/g, (c) => `\\${c}`);

export function alpacaTemplate(withInput: boolean, tags: AlpacaTags = {}): string {
  const d = tags.domainTag ? `<${tags.domainTag}> ` : '';
  const f = tags.functionTag ? `<${tags.functionTag}> ` : '';
  return withInput
    ? `${esc(WITH_INPUT)}\n\n### Instruction:\n${d}{instruction}\n\n### Input:\n{input}\n\n### Response:\n${f}{output}`
    : `${esc(NO_INPUT)}\n\n### Instruction:\n${d}{instruction}\n\n### Response:\n${f}{output}`;
}

/** The template an example uses: the no-input form when its input is empty, as Alpaca does. */
export function alpacaTemplateFor(ex: { input: string }, tags: AlpacaTags = {}): string {
  return alpacaTemplate(ex.input.trim() !== '', tags);
}

/** Where a generated response ends: the model starting a new Alpaca block. */
export const ALPACA_STOP = ['\n### ', '\n\n\n'];
