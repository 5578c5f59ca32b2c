/**
 * Issue 10: every worker request is checked by one schema layer (src/worker/schema.ts) before the
 * handler runs: a bad value is a RequestValidationError naming the field, the value and the rule.
 */
import { describe, expect, it } from 'vitest';
import { RequestValidationError, validateRequest } from '../../src/worker/schema';
import { fakeClient } from '../worker/fake-engine';

const spec = (over: Record<string, unknown> = {}, hyper: Record<string, unknown> = {}) => ({
  runId: 'r1',
  checkpointEvery: 0,
  evalEvery: 0,
  evalLimit: 8,
  spec: {
    method: 'stage2',
    tasks: [{ name: 'd', template: '<F> {input} {output}', rows: [{ input: 'a', output: '1' }], output: { kind: 'regression' } }],
    hyper: { steps: 2, batch: 2, lr: 1e-2, ...hyper },
    ...over,
  },
});

function problem(type: string, params: unknown): string {
  try {
    validateRequest(type, params);
  } catch (e) {
    expect(e).toBeInstanceOf(RequestValidationError);
    return (e as Error).message;
  }
  throw new Error('expected a RequestValidationError');
}

describe('worker request schema', () => {
  it.each<[string, unknown, RegExp]>([
    ['trainStart', spec({}, { batch: 0 }), /^trainStart: spec\.hyper\.batch is 0: .*>=1/],
    ['trainStart', spec({}, { lr: NaN }), /^trainStart: spec\.hyper\.lr is NaN/],
    ['trainStart', spec({}, { lr: 1e6 }), /^trainStart: spec\.hyper\.lr is 1000000/],
    ['trainStart', spec({}, { steps: 2.5 }), /^trainStart: spec\.hyper\.steps is 2\.5: .*expected int/],
    ['trainStart', spec({ tagLength: 100000 }), /^trainStart: spec\.tagLength is 100000/],
    ['trainStart', spec({ method: 'stage9' }), /^trainStart: spec\.method is "stage9"/],
    ['trainStart', spec({ lora: { targets: ['q', 'zz'] } }), /^trainStart: spec\.lora\.targets\[1\] is "zz"/],
    ['trainStart', spec({ tasks: [] }), /^trainStart: spec\.tasks is \[\]: must hold at least one dataset/],
    ['generate', { prompts: ['x'], maxTokens: 0 }, /^generate: maxTokens is 0/],
    ['generate', { prompts: ['x'], topP: 0 }, /^generate: topP is 0/],
    ['generate', { prompts: [] }, /^generate: prompts is \[\]: must hold at least one prompt/],
    ['generate', { prompts: [[1, -2]] }, /^generate: prompts\[0\]/],
    ['loadModel', { source: { kind: 'url', url: 'http://x/m.gguf' }, slots: 0 }, /^loadModel: slots is 0/],
    ['loadModel', { source: { kind: 'ftp', url: 'x' } }, /^loadModel: source(\.kind)? is .*ftp/],
    ['inspectTag', { name: 'T', neighbours: Infinity }, /^inspectTag: neighbours is Infinity/],
    ['libraryRename', { kind: 'tag', from: 'a', to: '' }, /^libraryRename: to is "": must not be empty/],
    ['trainControl', { action: 'explode' }, /^trainControl: action is "explode"/],
  ])('%s case %# is refused', (type, params, re) => {
    expect(problem(type, params)).toMatch(re);
  });

  it('accepts well-formed requests and passes unknown request types through', () => {
    expect(() => validateRequest('trainStart', spec())).not.toThrow();
    expect(() => validateRequest('generate', { prompts: ['Once', [1, 2]], maxTokens: 4, temperature: 0.8, topP: 0.95, topK: 40, seed: 3 })).not.toThrow();
    expect(() => validateRequest('someFutureRequest', { anything: NaN })).not.toThrow();
  });

  it('the handler answers a bad request with the validation error, before touching the engine', async () => {
    const { client, calls } = fakeClient();
    await expect(client.request('loadModel', { source: { kind: 'url', url: 'http://x/m.gguf' }, maxContext: -5 })).rejects.toMatchObject({
      name: 'RequestValidationError',
      message: expect.stringMatching(/^loadModel: maxContext is -5/),
    });
    expect(JSON.stringify(calls)).not.toMatch(/loadModel/);
  });
});
