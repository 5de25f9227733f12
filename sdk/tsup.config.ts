import { defineConfig } from 'tsup';

// One ESM and one CJS build. `dts.resolve` inlines the server's router types into
// dist/index.d.ts so the published types import nothing from the server's source; only
// the declared dependencies (@trpc/*, superjson) stay as imports.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: { compilerOptions: { composite: false } },
  tsconfig: 'tsconfig.json',
  clean: true,
  target: 'node20',
  sourcemap: false,
  external: ['@trpc/client', '@trpc/server', 'superjson', 'ws'],
});
