// Builds the dashboard into dist/web: one hashed JS bundle and one CSS file (esbuild), and index.html naming them.
// Run by `npm run build` (so by `npm start`) and by `npm run test:browser`; nothing built is committed.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';

const here = import.meta.dirname;
const out = join(here, '..', 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const result = await build({
  entryPoints: [join(here, 'src', 'main.ts')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  outdir: join(out, 'assets'),
  entryNames: 'app-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs);
const js = outputs.find((file) => file.endsWith('.js'));
const css = outputs.find((file) => file.endsWith('.css'));
const html = readFileSync(join(here, 'index.html'), 'utf8')
  .replace('__JS__', basename(js))
  .replace('__CSS__', basename(css));
writeFileSync(join(out, 'index.html'), html);
const kb = (file) => (result.metafile.outputs[file].bytes / 1024).toFixed(1);
process.stdout.write(`dashboard: dist/web (${basename(js)} ${kb(js)} KB, ${basename(css)} ${kb(css)} KB)\n`);
