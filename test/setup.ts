// Installs the WebGPU globals (GPUBufferUsage, GPUBuffer…) before any test module is evaluated.
import { nodeNavigatorGpu } from '../src/gpu/node-gpu';
await nodeNavigatorGpu();
