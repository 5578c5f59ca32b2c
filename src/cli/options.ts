/**
 * The command line's one validation layer: every option of every command (`generate`, `tokenize`,
 * `train`, `eval`, `retrieve`, `selfspec`, `experiment`, `qed`, `export`, `import`) checked (type, range, enum, file
 * exists) before any model loads, so a bad value is a one-line error naming the option, the value
 * and what is allowed — never a hang, NaN or empty run.
 */
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ALL_PROJS } from '../train/graph';

/** A bad command line: main prints the message alone (no stack) and exits 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);
// f32's largest finite value: a learning rate or alpha beyond it is Inf on the GPU.
const F32_MAX = 3.4028234663852886e38;

/** A whole number in [min, max], written in decimal ("", "1.5", "1e3", "abc" are refused). */
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*[+-]?\d+\s*$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be ≥ ${min}`).max(max, `must be ≤ ${max}`));

/** A finite number in a range; `gt` makes the lower bound exclusive. */
const num = (o: { min?: number; gt?: number; max?: number; what?: string }) => {
  const allowed = o.what ?? `a number${o.gt !== undefined ? ` > ${o.gt}` : o.min !== undefined ? ` ≥ ${o.min}` : ''}${o.max !== undefined ? ` and ≤ ${o.max}` : ''}`;
  let n = z.number({ error: `must be ${allowed}` }).refine(Number.isFinite, `must be ${allowed} (finite)`);
  if (o.min !== undefined) n = n.refine((x) => x >= o.min!, `must be ${allowed}`);
  if (o.gt !== undefined) n = n.refine((x) => x > o.gt!, `must be ${allowed}`);
  if (o.max !== undefined) n = n.refine((x) => x <= o.max!, `must be ${allowed}`);
  return z
    .string()
    .refine((s) => s.trim() !== '', `must be ${allowed}, not empty`)
    .transform(Number)
    .pipe(n);
};

const oneOf = (values: readonly string[]) =>
  z.string().refine((s) => values.includes(s), `must be one of ${values.join(', ')}`);

const existingFile = z.string().refine((s) => s !== '' && existsSync(s) && statSync(s).isFile(), 'is not an existing file');
const fileOrUrl = z.string().refine((s) => isUrl(s) || (s !== '' && existsSync(s) && statSync(s).isFile()), 'is not an existing file or an http(s) URL');
const nonEmpty = z.string().refine((s) => s.trim() !== '', 'must not be empty');
/** A file that will be written: its folder must exist. */
const outFile = z.string().refine((s) => {
  if (s.trim() === '') return false;
  const dir = s.replace(/[\\/][^\\/]*$/, '') || '.';
  return !/[\\/]/.test(s) || (existsSync(dir) && statSync(dir).isDirectory());
}, 'must be a file name in an existing folder');

const existingPath = z.string().refine((s) => s !== '' && existsSync(s), 'is not an existing file or folder');
const existingDir = z.string().refine((s) => s !== '' && existsSync(s) && statSync(s).isDirectory(), 'is not an existing folder');
/** A folder that will be made (or reused): anything but an existing file. */
const outDir = z.string().refine((s) => s.trim() !== '' && !(existsSync(s) && !statSync(s).isDirectory()), 'must be a folder name (not an existing file)');
const pathOrUrl = z.string().refine((s) => isUrl(s) || (s !== '' && existsSync(s)), 'is not an existing file or folder or an http(s) URL');
const wholeList = z.string().regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'must be whole numbers ≥ 0 separated by commas (e.g. 0,1,5)');

const mapping = z.string().regex(/^[A-Za-z_][\w-]*=.+$/, 'must be field=column (e.g. input=smiles)');
const loraTargets = z
  .string()
  .refine((s) => s.split(',').length > 0 && s.split(',').every((p) => (ALL_PROJS as readonly string[]).includes(p.trim())), `must be a comma-separated list of ${ALL_PROJS.join(', ')}`);

/** Every validated option: its schema, and in words for --help and errors. */
const OPTION_SCHEMAS: Record<string, z.ZodType> = {
  model: fileOrUrl,
  tokenizer: fileOrUrl,
  config: existingFile,
  prompt: z.string(),
  text: z.string(),
  'text-file': existingFile,
  'max-tokens': int(1, 1 << 20),
  temperature: num({ min: 0, max: 100 }),
  'top-p': num({ gt: 0, max: 1 }),
  'top-k': int(0, 1 << 24),
  seed: int(0, 0xffffffff),
  context: int(16, 1 << 24),
  stage: oneOf(['1', '2', '3']),
  method: oneOf(['prompt-tuning', 'lora', 'linear-probe', 'domain-in-text']),
  template: nonEmpty,
  data: existingFile,
  map: mapping,
  task: oneOf(['text', 'regression', 'classification']),
  'label-field': nonEmpty,
  'tags-in': existingFile,
  out: outFile,
  steps: int(1, 10_000_000),
  // Adam's step is ~lr per element: above 1 a tag leaves the embedding scale within a step.
  lr: num({ gt: 0, max: 1, what: 'a learning rate > 0 and ≤ 1' }),
  batch: int(1, 4096),
  accum: int(1, 4096),
  'eval-fraction': num({ min: 0, max: 0.9 }),
  'eval-every': int(0, 10_000_000),
  'tag-length': int(1, 4096),
  'weight-decay': num({ min: 0, max: 10 }),
  'max-grad-norm': num({ min: 0, max: F32_MAX }),
  spaced: nonEmpty,
  'lora-rank': int(1, 4096),
  'lora-alpha': num({ gt: 0, max: 1e6 }),
  'lora-targets': loraTargets,
  'init-adapter': nonEmpty,
  'continue-adapter': nonEmpty,
  checkpoint: outFile,
  'checkpoint-every': int(1, 10_000_000),
  resume: existingFile,
  'sample-every': int(0, 10_000_000),
  'sample-prompt': z.string(),
  'sample-tokens': int(1, 4096),
};

const learningRate = num({ gt: 0, max: 1, what: 'a learning rate > 0 and ≤ 1' });
const seed = int(0, 0xffffffff);

/**
 * Commands whose options mean something of their own (selfspec's --out is a folder, its --method
 * lora|tag|both|all): their table replaces the shared one above.
 */
const COMMAND_SCHEMAS: Record<string, Record<string, z.ZodType>> = {
  retrieve: {
    corpus: existingPath,
    query: z.string(),
    k: int(1, 1 << 20),
    stem: oneOf(['porter', 'none']),
    k1: num({ min: 0, max: 1000 }),
    b: num({ min: 0, max: 1 }),
  },
  selfspec: {
    model: fileOrUrl,
    tokenizer: fileOrUrl,
    seeds: existingFile,
    corpus: existingPath,
    out: outDir,
    instructions: int(1, 1_000_000),
    k: int(0, 4096),
    method: oneOf(['lora', 'tag', 'both', 'all']),
    epochs: num({ gt: 0, max: 10_000 }),
    'eval-n': int(0, 1_000_000),
    rounds: int(1, 100),
    seed,
    slots: int(1, 4096),
    context: int(16, 1 << 24),
    ablation: wholeList,
    shots: wholeList,
    batch: int(1, 4096),
    accum: int(1, 4096),
    lr: learningRate,
    'tag-length': int(1, 4096),
    'domain-tag': nonEmpty,
    'function-tag': nonEmpty,
    domain: nonEmpty,
    'response-tokens': int(1, 1 << 20),
    'instruction-tokens': int(1, 1 << 20),
    'instructions-from': existingFile,
    'rouge-n': int(0, 1_000_000),
    pubmedqa: existingFile,
    'pubmedqa-truth': existingFile,
    'tags-in': existingFile,
    'init-adapter': nonEmpty,
    'lora-rank': int(1, 4096),
    'lora-alpha': num({ gt: 0, max: 1e6 }),
    'lora-targets': loraTargets,
  },
  experiment: {
    out: outDir,
    model: fileOrUrl,
    tokenizer: fileOrUrl,
    'data-dir': existingDir,
    // An experiment on a data file (instead of, or beside, a definition).
    data: existingFile,
    input: nonEmpty,
    target: nonEmpty,
    kind: oneOf(['regression', 'classification', 'generation', 'text', 'auto']),
    methods: z.string().regex(/^\s*[a-z-]+(\s*,\s*[a-z-]+)*\s*$/, 'must be method names separated by commas (e.g. tag-llm,linear-probe)'),
    seeds: wholeList,
    steps: int(1, 1 << 24),
    epochs: num({ gt: 0, max: 1e6 }),
    batch: int(1, 4096),
    lr: learningRate,
    'tag-length': int(1, 256),
    test: num({ gt: 0, max: 0.9 }),
    'split-seed': int(0, 0x7fffffff),
    'max-train': int(1, 1 << 24),
    'max-eval': int(1, 1 << 24),
    'max-chars': int(1, 1 << 20),
    name: nonEmpty,
  },
  qed: {
    in: existingFile,
    weights: oneOf(['mean', 'max', 'none']),
  },
  export: {
    'tags-in': existingFile,
    adapter: nonEmpty,
    format: oneOf(['peft', 'safetensors']),
    model: fileOrUrl,
    // A folder, or with --zip a .zip path; folders are made as needed.
    out: nonEmpty,
    'base-model': nonEmpty,
    tag: nonEmpty,
    template: nonEmpty,
  },
  import: {
    peft: pathOrUrl,
    tags: existingDir,
    name: nonEmpty,
    model: fileOrUrl,
    'tags-in': existingFile,
    out: outFile,
  },
};

/** Options each command needs. */
const REQUIRED: Record<string, string[]> = {
  generate: ['model'],
  tokenize: ['model'],
  train: ['model'],
  eval: ['model', 'tags-in'],
  retrieve: ['corpus', 'query'],
  selfspec: ['model', 'seeds', 'out'],
  experiment: ['out'],
  qed: ['in'],
  export: ['tags-in', 'format', 'out'],
  import: ['model', 'out'],
};

function firstIssue(e: z.ZodError): string {
  return e.issues[0]?.message ?? 'is not allowed';
}

function show(v: string): string {
  return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
}

/**
 * Checks the parsed options of one command; throws a CliUsageError naming option, value and what
 * is allowed. Values stay strings (the commands convert them), but every conversion is now safe.
 */
export function validateOptions(cmd: string, values: Record<string, unknown>, positionals: readonly string[] = []): void {
  for (const name of REQUIRED[cmd] ?? []) {
    if (values[name] === undefined) throw new CliUsageError(`--${name} is required for "${cmd}" (see --help)`);
  }
  if (cmd === 'experiment') {
    // A definition file, or a data file with its mapping (--data --input --target), or both (then the definition names the --data files).
    const mapped = values.input !== undefined || values.target !== undefined;
    if (mapped) {
      if (positionals.length > 0) throw new CliUsageError(`--input/--target describe an experiment on --data; give them without a definition file (got ${show(positionals[0])})`);
      const data = values.data as string[] | undefined;
      if (!data || data.length !== 1) throw new CliUsageError('--input/--target need exactly one --data <csv|tsv|jsonl> file');
      if (values.input === undefined) throw new CliUsageError('--input <column> is required with --data (repeat it for several input columns)');
      if (values.target === undefined) throw new CliUsageError('--target <column> is required with --data');
    } else {
      if (positionals.length !== 1) throw new CliUsageError(`experiment takes one definition file, got ${positionals.length}: cli experiment <definition.json> --out <dir>, or cli experiment --data <file> --input <col> --target <col> --out <dir>`);
      if (!existingFile.safeParse(positionals[0]).success) throw new CliUsageError(`experiment definition ${show(positionals[0])}: is not an existing file`);
      const only = ['kind', 'methods', 'seeds', 'steps', 'epochs', 'batch', 'lr', 'tag-length', 'test', 'split-seed', 'max-train', 'max-eval', 'max-chars', 'name'].filter((k) => values[k] !== undefined);
      if (only.length) throw new CliUsageError(`--${only[0]} belongs to an experiment on --data with --input/--target; a definition file sets it itself`);
    }
    if (values.steps !== undefined && values.epochs !== undefined) throw new CliUsageError('Give --steps or --epochs, not both.');
  }
  const table = COMMAND_SCHEMAS[cmd] ?? OPTION_SCHEMAS;
  // Without evaluation the PubMedQA files (defaults inside the repository) are never read.
  const unused = cmd === 'selfspec' && values['eval-n'] === '0' ? new Set(['pubmedqa', 'pubmedqa-truth']) : new Set<string>();
  for (const [name, raw] of Object.entries(values)) {
    const schema = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!schema || raw === undefined || typeof raw === 'boolean' || unused.has(name)) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      const r = schema.safeParse(v);
      if (!r.success) throw new CliUsageError(`--${name} ${show(String(v))}: ${firstIssue(r.error)}`);
    }
  }
  if (cmd === 'tokenize' && (values.text === undefined) === (values['text-file'] === undefined)) {
    throw new CliUsageError('tokenize needs exactly one of --text "..." or --text-file <path>');
  }
  if (cmd === 'generate' && values.prompt === undefined) throw new CliUsageError('--prompt is required for "generate"');
  if ((cmd === 'train' || cmd === 'eval') && values.stage !== undefined && values.method !== undefined) {
    throw new CliUsageError('give --stage or --method, not both');
  }
  if (cmd === 'train' && values.resume === undefined) {
    if (values.stage === undefined && values.method === undefined) throw new CliUsageError('train needs --stage 1|2|3 or --method prompt-tuning|lora|linear-probe|domain-in-text');
    if (!Array.isArray(values.data) || values.data.length === 0) throw new CliUsageError('--data <file> is required for "train"');
  }
  if (cmd === 'train' || cmd === 'eval') checkInitAdapter(values);
  if (cmd === 'eval' && (!Array.isArray(values.data) || values.data.length === 0)) throw new CliUsageError('--data <file> is required for "eval"');
  if (cmd === 'export' && values.format === 'peft' && (values.adapter === undefined || values.model === undefined)) {
    throw new CliUsageError('export --format peft needs --adapter <name> and --model <path|url> (for shapes and q/k row order)');
  }
  if (cmd === 'import' && (values.peft === undefined) === (values.tags === undefined)) throw new CliUsageError('import needs exactly one of --peft <dir|zip|url> or --tags <dir>');
  if (cmd === 'selfspec') {
    // One slot per passage of a mixture group; round 2 decodes expert and amateur: 2 × max(1, k).
    const slots = Number(values.slots ?? 8);
    const ks = [values.k, ...(typeof values.ablation === 'string' ? values.ablation.split(',') : [])].filter((x) => x !== undefined).map(Number);
    const round2 = Number(values.rounds ?? 1) > 1 ? 2 * Math.max(1, Number(values.k ?? 5)) : 1;
    const width = Math.max(1, ...ks, round2);
    if (width > slots) throw new CliUsageError(`--slots ${show(String(values.slots ?? 8))}: must be ≥ ${width} (one slot per passage: --k/--ablation up to ${Math.max(0, ...ks)}${round2 > 1 ? `, and 2 × k = ${round2} for round 2 (expert and amateur)` : ''})`);
    if (values['init-adapter'] !== undefined && values['tags-in'] === undefined) throw new CliUsageError('--init-adapter needs --tags-in <lib.json>: the library that holds the adapter (e.g. made by "cli import --peft")');
  }
}

/**
 * --init-adapter <name> (alias --continue-adapter): LoRA starts from that adapter of --tags-in, whose
 * rank, alpha and targets it keeps, so a shape of its own given beside it is a contradiction.
 */
function checkInitAdapter(values: Record<string, unknown>): void {
  const init = values['init-adapter'];
  const cont = values['continue-adapter'];
  if (init !== undefined && cont !== undefined && init !== cont) throw new CliUsageError('--init-adapter and --continue-adapter name the same thing: give one');
  const name = (init ?? cont) as string | undefined;
  if (name === undefined || values.resume !== undefined) return;
  const flag = init !== undefined ? '--init-adapter' : '--continue-adapter';
  const lora = values.method === 'lora' || (values.method === 'domain-in-text' && (values.peft === undefined || values.peft === 'lora'));
  if (!lora) throw new CliUsageError(`${flag} ${show(name)}: starts a LoRA run from a library adapter: use it with --method lora (or domain-in-text with LoRA)`);
  if (values['tags-in'] === undefined) throw new CliUsageError(`${flag} ${show(name)}: needs --tags-in <lib.json> holding that adapter`);
  for (const o of ['lora-rank', 'lora-alpha', 'lora-targets']) {
    if (values[o] !== undefined) throw new CliUsageError(`--${o} with ${flag}: the run keeps the adapter's own rank, alpha and targets; drop --${o}`);
  }
}

/** True when the arguments ask for help (`--help`, `-h`, `help`): main prints usage and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.length === 0 || argv[0] === 'help' || argv.includes('--help') || argv.includes('-h');
}
