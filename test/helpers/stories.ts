import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import type { Gpu } from '../../src/gpu/device';
import { loadModel, type Engine } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';

/** stories260K (the real tiny model shipped in public/) with its tokenizer, sized for a test. */
export async function loadStories(opts: { slots: number; maxContext: number }, gpu?: Gpu): Promise<Engine> {
  return loadModel(gpu ?? (await acquireNodeGpu()), new NodeFileSource('public/models/stories260K/stories260K.bin'), {
    tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
    ...opts,
  });
}
