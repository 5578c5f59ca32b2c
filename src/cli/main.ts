/**
 * Command line: the same engine and method layer as the workbench, on Node + Dawn.
 *   npm run cli -- generate --model <path|url> --prompt "..." [--max-tokens N --temperature T --top-p P --top-k K --seed S --tags-in lib.json --adapter NAME --json]
 *   npm run cli -- tokenize --model <gguf|tokenizer.json|tokenizer.bin> --text "..." [--bos] [--json]
 *   npm run cli -- train / eval … (see USAGE)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { acquireNodeGpu } from '../gpu/node-gpu';
import { fmtBytes } from '../gpu/memory';
import { loadModel } from '../model/model';
import { openSource, siblingTokenizer } from './sources';
import { readJsonFile } from './json-file';
import { tokenizerForFile } from './tokenizer-file';
import { readDatasetText } from './dataset-file';
import { evalCommand, loadLibrary, trainCommand, type TrainArgs } from './train';
import { experimentCommand, EXPERIMENT_USAGE, qedCommand } from './experiment';
import { CliUsageError, validateOptions, wantsHelp } from './options';
import { EXCHANGE_USAGE, exportCommand, importCommand } from './exchange';
import { retrieveCommand, RETRIEVE_USAGE } from './retrieve';
import { selfspecCommand, SELFSPEC_USAGE } from './selfspec';

const USAGE = `usage:
  cli generate --model <path|url> [--tokenizer <path|url>] --prompt "..." [--max-tokens N] [--temperature T] [--top-p P] [--top-k K] [--seed S]
               [--tags-in lib.json --adapter <name>] [--json]
  cli tokenize --model <gguf|tokenizer.json|tokenizer.bin> (--text "..." | --text-file <path>) [--bos] [--json]
  (a safetensors --model takes its config.json with --config <path>)
  cli train --model <path|url> (--stage 1|2|3 | --method prompt-tuning|lora|linear-probe|domain-in-text)
            --template "<Tag> {input}" --data <file> [--data <file> …] [--map field=column …] [--task text|regression|classification]
            [--tags-in lib.json] [--out lib.json] [--steps N | --epochs E | --epochs paper:<task>] [--lr X] [--batch N] [--accum N] [--seed N] [--eval-fraction F]
            [--tag-length P] [--enrich] [--isolate] [--spaced input] [--recompute] [--lora-rank R --lora-alpha A --lora-targets q,v|all-linear | --init-adapter <name in --tags-in>]
            [--peft lora|prompt-tuning|linear-probe (domain-in-text)] [--no-head (baselines: the number as text)]
            paper epochs (Table 5): translation 1, descriptor 4, qed 2, synergy 2, binding 4; LoRA targets q,v by default
            [--checkpoint ck.json --checkpoint-every N] [--resume ck.json]
            [--sample-every N [--sample-prompt "<Tag> text"] [--sample-tokens T]] greedy samples while training
            (default prompt: the template filled with the first held-out row, cut before the output)
  cli eval  --model <path|url> --tags-in lib.json --template "..." --data <file> [--stage 2|--method …]
${EXCHANGE_USAGE}
${EXPERIMENT_USAGE}
${RETRIEVE_USAGE}
${SELFSPEC_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv.filter((a, i) => !(i === 0 && a === '--'));
  if (cmd !== 'experiment' && cmd !== 'qed' && wantsHelp(cmd === undefined ? [] : [cmd, ...rest])) {
    console.log(USAGE);
    return 0;
  }
  if (cmd === 'experiment') return experimentCommand(rest);
  if (cmd === 'qed') return qedCommand(rest);
  if (cmd === 'export') return exportCommand(rest);
  if (cmd === 'import') return importCommand(rest);
  if (cmd === 'retrieve') return retrieveCommand(rest);
  if (cmd === 'selfspec') return selfspecCommand(rest);
  const { values: v } = parseArgs({
    args: rest,
    options: {
      model: { type: 'string' },
      tokenizer: { type: 'string' },
      prompt: { type: 'string' },
      text: { type: 'string' },
      'text-file': { type: 'string' },
      config: { type: 'string' },
      'max-tokens': { type: 'string', default: '128' },
      temperature: { type: 'string', default: '0' },
      'top-p': { type: 'string', default: '1' },
      'top-k': { type: 'string', default: '0' },
      seed: { type: 'string' },
      context: { type: 'string' },
      adapter: { type: 'string' },
      bos: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      // train / eval
      stage: { type: 'string' },
      method: { type: 'string' },
      template: { type: 'string' },
      data: { type: 'string', multiple: true },
      map: { type: 'string', multiple: true },
      task: { type: 'string' },
      'label-field': { type: 'string' },
      'tags-in': { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      epochs: { type: 'string' },
      peft: { type: 'string' },
      'no-head': { type: 'boolean', default: false },
      lr: { type: 'string' },
      batch: { type: 'string' },
      accum: { type: 'string' },
      'eval-fraction': { type: 'string' },
      'eval-every': { type: 'string' },
      'tag-length': { type: 'string' },
      'weight-decay': { type: 'string' },
      'max-grad-norm': { type: 'string' },
      enrich: { type: 'boolean', default: false },
      isolate: { type: 'boolean', default: false },
      spaced: { type: 'string', multiple: true },
      recompute: { type: 'boolean', default: false },
      'lora-rank': { type: 'string' },
      'lora-alpha': { type: 'string' },
      'lora-targets': { type: 'string' },
      'init-adapter': { type: 'string' },
      'continue-adapter': { type: 'string' },
      checkpoint: { type: 'string' },
      'checkpoint-every': { type: 'string' },
      'sample-every': { type: 'string' },
      'sample-prompt': { type: 'string' },
      'sample-tokens': { type: 'string' },
      resume: { type: 'string' },
      'accept-fingerprint': { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const num = (name: string, s: string | undefined): number => {
    const x = Number(s);
    if (!Number.isFinite(x)) throw new Error(`--${name} must be a number, got "${s}"`);
    return x;
  };
  validateOptions(cmd, v);
  if (!v.model) throw new Error(`--model is required\n${USAGE}`);
  const configJson = v.config ? readJsonFile(v.config, '--config') : undefined;

  if (cmd === 'tokenize') {
    const text = v['text-file'] !== undefined ? readFileSync(v['text-file'], 'utf8') : v.text!;
    const tok = await tokenizerForFile(v.model);
    const ids = tok.encode(text, { bos: v.bos });
    console.log(v.json ? JSON.stringify({ ids, tokens: ids.map((i) => tok.idToToken(i)) }) : ids.join(' '));
    return 0;
  }
  if (cmd === 'generate') {
    if (v.prompt === undefined) throw new Error(`--prompt is required\n${USAGE}`);
    const gpu = await acquireNodeGpu();
    const tokPath = v.tokenizer ?? siblingTokenizer(v.model);
    const model = await loadModel(gpu, openSource(v.model), {
      tokenizer: tokPath ? openSource(tokPath) : undefined,
      configJson,
      slots: 1,
      maxContext: v.context ? num('context', v.context) : undefined,
      onProgress: v.json ? undefined : (p) => process.stderr.write(`\r${p.phase} ${p.message ?? ''}      `),
    });
    if (!v.json) process.stderr.write('\n');
    if (v.adapter !== undefined) {
      if (!v['tags-in']) throw new Error('--adapter needs --tags-in <lib.json>, the tag library that holds the adapter.');
      const lib = await loadLibrary(model, v['tags-in'], v['accept-fingerprint']);
      const a = lib.adapters.find((x) => x.name === v.adapter);
      if (!a) {
        const names = lib.adapters.map((x) => `"${x.name}"`).join(', ');
        throw new Error(`--adapter "${v.adapter}": ${v['tags-in']} has ${names ? `only the adapters ${names}` : 'no LoRA adapter'}.`);
      }
      model.setAdapter(a.name, a);
    }
    const res = await model.generate(
      {
        prompts: [v.prompt],
        adapters: v.adapter !== undefined ? [v.adapter] : undefined,
        maxTokens: num('max-tokens', v['max-tokens']),
        temperature: num('temperature', v.temperature),
        topP: num('top-p', v['top-p']),
        topK: num('top-k', v['top-k']),
        seed: num('seed', v.seed ?? '0'),
      },
      v.json ? undefined : (ev) => process.stdout.write(ev.text),
    );
    const o = res.outputs[0];
    const t = res.timings;
    const timings = {
      prefill_tokens: t.prefillTokens,
      prefill_ms: t.prefillMs,
      prefill_tok_s: t.prefillTokens / (t.prefillMs / 1000),
      decode_tokens: t.decodeTokens,
      decode_ms: t.decodeMs,
      decode_tok_s: t.decodeTokens > 0 ? t.decodeTokens / (t.decodeMs / 1000) : 0,
    };
    if (v.json) {
      console.log(JSON.stringify({ prompt: v.prompt, adapter: v.adapter ?? null, text: o.text, ids: o.ids, finish: o.finish, timings, memory: model.memory() }));
    } else {
      process.stdout.write('\n');
      process.stderr.write(
        `prefill ${timings.prefill_tok_s.toFixed(1)} tok/s, decode ${timings.decode_tok_s.toFixed(1)} tok/s, GPU memory ${fmtBytes(model.memory().total)}\n`,
      );
    }
    model.dispose();
    return 0;
  }
  if (cmd === 'train' || cmd === 'eval') {
    // What is not a dataset is refused before the model loads, with the Data panel's message.
    for (const path of v.data ?? []) readDatasetText(path);
    const gpu = await acquireNodeGpu();
    const tokPath = v.tokenizer ?? siblingTokenizer(v.model);
    const model = await loadModel(gpu, openSource(v.model), { tokenizer: tokPath ? openSource(tokPath) : undefined, configJson, slots: 1, maxContext: v.context ? num('context', v.context) : 512 });
    const args: TrainArgs = {
      stage: v.stage,
      method: v.method,
      template: v.template,
      data: v.data ?? [],
      map: v.map,
      task: v.task,
      labelField: v['label-field'],
      tagsIn: v['tags-in'],
      out: v.out,
      steps: v.steps,
      epochs: v.epochs,
      peft: v.peft,
      noHead: v['no-head'],
      lr: v.lr,
      batch: v.batch,
      accum: v.accum,
      seed: v.seed,
      evalFraction: v['eval-fraction'],
      evalEvery: v['eval-every'],
      tagLength: v['tag-length'],
      weightDecay: v['weight-decay'],
      maxGradNorm: v['max-grad-norm'],
      enrich: v.enrich,
      isolate: v.isolate,
      spaced: v.spaced,
      recompute: v.recompute,
      loraRank: v['lora-rank'],
      loraAlpha: v['lora-alpha'],
      loraTargets: v['lora-targets'],
      continueAdapter: v['init-adapter'] ?? v['continue-adapter'],
      checkpoint: v.checkpoint,
      checkpointEvery: v['checkpoint-every'],
      sampleEvery: v['sample-every'],
      samplePrompt: v['sample-prompt'],
      sampleTokens: v['sample-tokens'],
      resume: v.resume,
      acceptFingerprint: v['accept-fingerprint'],
    };
    if (cmd === 'train') await trainCommand(model, args);
    else await evalCommand(model, args);
    model.dispose();
    return 0;
  }
  throw new Error(`unknown command "${cmd ?? ''}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(e instanceof CliUsageError ? 2 : 1);
  },
);
