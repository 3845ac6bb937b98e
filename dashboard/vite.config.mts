import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// One static build for both hosts: km serve (same origin) and Static Web Apps (VITE_KM_API_BASE or the
// km-api-base meta tag point it at the Functions app). Nothing is fetched from a CDN at run time.
export default defineConfig({
  plugins: [preact()],
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 400 },
});
