/**
 * `npm run build:lambda`: bundles the media pipeline handler (src/lambda/media.ts) with
 * esbuild and packs one zip per Lambda architecture, each with sharp's native build for
 * it (`npm install --os=linux --cpu=x64|arm64`, as sharp's docs describe for Lambda):
 *
 *   dist/lambda/media-x64.zip     dist/lambda/media-arm64.zip
 *
 * `deploy/template.yaml` points at the arm64 one by default (Graviton: cheaper per ms).
 * Run with `-- --arch=x64` or `-- --arch=arm64` for one only.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { zipSync } from 'fflate';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'lambda');
const sharpVersion = (JSON.parse(readFileSync(path.join(root, 'node_modules/sharp/package.json'), 'utf8')) as { version: string }).version;
const only = process.argv.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
const arches = (only ? [only] : ['x64', 'arm64']) as ('x64' | 'arm64')[];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = path.join(out, 'media.mjs');
await build({
  entryPoints: [path.join(root, 'src/lambda/media.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  sourcemap: 'linked',
  // sharp is native: installed per architecture below. ws's optional native helpers are not used.
  external: ['sharp', 'bufferutil', 'utf-8-validate'],
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});

for (const arch of arches) {
  const dir = path.join(out, arch);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'media.mjs'), readFileSync(bundle));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true, dependencies: { sharp: sharpVersion } }, null, 2));
  execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--os=linux', `--cpu=${arch}`, '--libc=glibc', `sharp@${sharpVersion}`], {
    cwd: dir,
    stdio: 'inherit',
  });
  const files: Record<string, Uint8Array> = {};
  walk(dir, '', files);
  const zip = path.join(out, `media-${arch}.zip`);
  writeFileSync(zip, zipSync(files, { level: 9 }));
  console.log(`${path.relative(root, zip)}: ${(lstatSync(zip).size / 1024 / 1024).toFixed(1)} MiB, sharp ${sharpVersion} for linux-${arch}`);
}

function walk(dir: string, prefix: string, files: Record<string, Uint8Array>) {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(full);
    if (st.isSymbolicLink()) continue; // node_modules/.bin links; Lambda needs none
    if (st.isDirectory()) walk(full, rel, files);
    else files[rel] = readFileSync(full);
  }
}
