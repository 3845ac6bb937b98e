import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedHost } from '../src/host/embedded-host';

const silent = { info() {}, warn() {}, error() {} };
const CLI_DIR = join(__dirname, '..', '..', 'cli');

/** km serve offers the km it runs at /install/km.tgz: the package npm packs from its directory, once per build. */
describe('GET /install/km.tgz on the embedded host', () => {
  it('serves the km package it runs, packed once, without a key, beyond loopback too', async () => {
    const home = mkdtempSync(join(tmpdir(), 'km-install-'));
    const host = await startEmbeddedHost({ home, port: 0, hostname: '0.0.0.0', packageDir: CLI_DIR, logger: silent });
    try {
      const first = await fetch(`${host.url}/install/km.tgz`);
      expect([first.status, first.headers.get('content-type')]).toEqual([200, 'application/gzip']);
      const tarball = join(home, 'downloaded.tgz');
      writeFileSync(tarball, Buffer.from(await first.arrayBuffer()));
      const listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
      expect(listed).toEqual(expect.arrayContaining(['package/package.json', 'package/bin/km.js', 'package/dist/bundle/km.js']));
      const manifest = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as { name: string };
      expect(manifest.name).toBe('@kilometers/km');
      // Packed once: the second answer is the same file.
      expect((await fetch(`${host.url}/install/km.tgz`, { method: 'HEAD' })).headers.get('content-length')).toBe(first.headers.get('content-length'));
      expect(readdirSync(join(home, 'install')).filter((name) => name.endsWith('.tgz'))).toHaveLength(1);
    } finally {
      await host.close();
    }
  }, 120_000);

  it('says why when it does not know its package', async () => {
    const host = await startEmbeddedHost({ home: mkdtempSync(join(tmpdir(), 'km-install-none-')), port: 0, logger: silent });
    try {
      const answer = await fetch(`${host.url}/install/km.tgz`);
      expect(answer.status).toBe(503);
      expect(await answer.text()).toContain('km serve cannot offer its package here (this server does not know where its km package is)');
    } finally {
      await host.close();
    }
  });
});
