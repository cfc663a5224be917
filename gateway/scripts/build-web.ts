// Builds the web page (gateway/src/web) into gateway/dist/web: one bundled
// module (esbuild, Preact's JSX, every library inside: no CDN), its style
// sheet and index.html. Run by `npm install` (the root `prepare` script), by
// `npm run build:web`, and by the browser tests before they start.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const SOURCE = fileURLToPath(new URL('../src/web/', import.meta.url));
export const WEB_DIST = fileURLToPath(new URL('../dist/web/', import.meta.url));

/** @example await buildWeb(); // gateway/dist/web/{index.html,app.js,style.css} */
export async function buildWeb(): Promise<void> {
  await rm(WEB_DIST, { recursive: true, force: true });
  await mkdir(WEB_DIST, { recursive: true });
  await build({
    entryPoints: [`${SOURCE}main.tsx`],
    outfile: `${WEB_DIST}app.js`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: `${SOURCE}tsconfig.json`,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  await copyFile(`${SOURCE}index.html`, `${WEB_DIST}index.html`);
  await copyFile(`${SOURCE}style.css`, `${WEB_DIST}style.css`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWeb();
