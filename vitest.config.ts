import { defineConfig } from 'vitest/config';

// Dawn (npm `webgpu`) finds SwiftShader's Vulkan driver only through this variable.
const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
    // GPU tests run on SwiftShader (a CPU emulation): slow, but speed is never asserted.
    testTimeout: 900_000,
    // Compiling every matmul pipeline variant in a beforeAll takes minutes on a loaded 2-core machine.
    hookTimeout: 600_000,
    pool: 'forks',
    setupFiles: ['test/setup.ts'],
    env: { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? swiftshader },
  },
});
