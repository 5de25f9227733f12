import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The page imports `@guildhall/sdk`; in this repository that is the SDK's source, so the
// example runs without building or installing the package (an app outside the repository
// installs the package instead; see sdk/README.md).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { alias: { '@guildhall/sdk': fileURLToPath(new URL('../../sdk/src/index.ts', import.meta.url)) } },
  server: { host: '127.0.0.1', port: Number(process.env.WEB_PORT ?? 5173) },
  preview: { host: '127.0.0.1' },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
});
