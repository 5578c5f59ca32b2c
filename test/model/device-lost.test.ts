import { expect, it } from 'vitest';
import { GpuDeviceLostError } from '../../src/gpu/errors';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadModel } from '../../src/model/model';
import { NodeFileSource } from '../../src/model/source-node';

it('a lost device surfaces as GpuDeviceLostError with a message saying what to do', async () => {
  const gpu = await acquireNodeGpu();
  const e = await loadModel(gpu, new NodeFileSource('public/models/stories260K/stories260K.bin'), {
    tokenizer: new NodeFileSource('public/models/stories260K/tok512.bin'),
    slots: 1,
    maxContext: 32,
  });
  gpu.device.destroy();
  const lost = await gpu.lost;
  expect(lost).toBeInstanceOf(GpuDeviceLostError);
  const err = await e.generate({ prompts: ['Once upon a time'], maxTokens: 4 }).catch((x) => x);
  expect(err).toBeInstanceOf(GpuDeviceLostError);
  expect(err.message).toMatch(/GPU device was lost.*Reload the model/);
});
