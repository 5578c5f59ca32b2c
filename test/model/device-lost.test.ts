import { expect, it } from 'vitest';
import { GpuDeviceLostError } from '../../src/gpu/errors';
import { acquireNodeGpu } from '../../src/gpu/node-gpu';
import { loadStories } from '../helpers/stories';

it('a lost device surfaces as GpuDeviceLostError with a message saying what to do', async () => {
  const gpu = await acquireNodeGpu();
  const e = await loadStories({ slots: 1, maxContext: 32 }, gpu);
  gpu.device.destroy();
  const lost = await gpu.lost;
  expect(lost).toBeInstanceOf(GpuDeviceLostError);
  const err = await e.generate({ prompts: ['Once upon a time'], maxTokens: 4 }).catch((x) => x);
  expect(err).toBeInstanceOf(GpuDeviceLostError);
  expect(err.message).toMatch(/GPU device was lost.*Reload the model/);
});
