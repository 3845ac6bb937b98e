import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';
import { fileURLToPath } from 'node:url';
import { benchFigures } from './welcome/bench-figures.mts';

const at = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// One static build for both hosts: km serve (same origin) and Static Web Apps (VITE_KM_API_BASE or the
// km-api-base meta tag point it at the Functions app). Nothing is fetched from a CDN at run time.
// Three pages: the app, the landing page (welcome/) and the demo (demo/: the app over the handlers in the page).
export default defineConfig({
  plugins: [preact(), benchFigures(at('../bench/results.json'))],
  base: '/',
  resolve: {
    // The demo bundles functions/src and shared/src from source; Node's modules get the demo's small stand-ins.
    alias: [
      { find: /^@km\/shared$/, replacement: at('../shared/src/index.ts') },
      { find: /^node:crypto$/, replacement: at('demo/browser/node-crypto.ts') },
      { find: /^node:zlib$/, replacement: at('demo/browser/node-zlib.ts') },
      { find: /^node:util$/, replacement: at('demo/browser/node-util.ts') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // The demo carries zod and the folds: about 200 KB gzipped, for a page that is opened to be explored.
    chunkSizeWarningLimit: 800,
    rolldownOptions: { input: { app: at('index.html'), welcome: at('welcome/index.html'), demo: at('demo/index.html') } },
  },
});
