// Bundles the benchmarks for bench/device.sh: one self-contained ESM file per bench (WGSL inlined via
// ?raw, every dependency inlined) except the `webgpu` package, whose native Dawn binding is copied
// beside the bundle instead.
import { defineConfig } from 'vite';

export default defineConfig({
  logLevel: 'warn',
  // The app's public/ (models, data sets) is read from the working tree, not copied into the bundle.
  publicDir: false,
  ssr: { noExternal: true, external: ['webgpu'] },
  build: {
    ssr: true,
    outDir: 'bench/.device/app',
    emptyOutDir: true,
    minify: false,
    target: 'node20',
    rollupOptions: {
      input: { bench: 'bench/bench.ts', train: 'bench/train.ts', kernels: 'bench/kernels.ts' },
      output: { format: 'es', entryFileNames: '[name].mjs' },
    },
  },
});
