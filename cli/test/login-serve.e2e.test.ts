import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedHost } from '@km/functions/dist/host/embedded-host';
import { KM_BIN, requireBuiltKm } from './e2e-support';
import { tempHome } from './helpers';

function km(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KM_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('km login and km serve guard rails', () => {
  let host: Awaited<ReturnType<typeof startEmbeddedHost>>;
  let serverHome: string;
  beforeAll(async () => {
    requireBuiltKm();
    serverHome = tempHome('km-login-server');
    host = await startEmbeddedHost({ home: serverHome, port: 0 });
  });
  afterAll(() => host?.close());

  it('saves a key the endpoint accepts (0600), refuses one it does not, and forgets it on --logout', async () => {
    const home = tempHome('km-login');
    const key = readFileSync(join(serverHome, 'api-key'), 'utf8').trim();
    const refused = await km(['login', '--endpoint', host.url, '--key', 'wrong-key'], { KM_HOME: home });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/refused this key \(401: unknown API key.*\); nothing was saved/);
    expect(existsSync(join(home, 'login.json'))).toBe(false);

    const saved = await km(['login', '--endpoint', `${host.url}/`, '--key', key], { KM_HOME: home });
    expect(saved.status).toBe(0);
    expect(JSON.parse(readFileSync(join(home, 'login.json'), 'utf8'))).toEqual({ endpoint: host.url, apiKey: key, orgId: 'local' });
    expect(statSync(join(home, 'login.json')).mode & 0o777).toBe(0o600);
    const status = await km(['status'], { KM_HOME: home });
    expect(status.stdout).toContain(`endpoint:  ${host.url} (reachable: yes)`);

    expect((await km(['login', '--logout'], { KM_HOME: home })).status).toBe(0);
    expect(existsSync(join(home, 'login.json'))).toBe(false);
  });

  it('km status reports the local key km ships with, whether km serve runs or not', async () => {
    const home = tempHome('km-status-key');
    const env = { KM_HOME: home, HOME: home };
    expect((await km(['status'], env)).stdout).toContain('api key:   none\n');
    const local = await startEmbeddedHost({ home, port: 0 });
    try {
      expect((await km(['status'], env)).stdout).toContain('api key:   set\n');
    } finally {
      await local.close();
    }
    expect(existsSync(join(home, 'serve.json'))).toBe(false);
    expect(existsSync(join(home, 'api-key'))).toBe(true);
    expect((await km(['status'], env)).stdout).toContain('api key:   set\n'); // serve stopped: the same key is shipped once it runs again
  });

  it('refuses a second km serve on a KM_HOME that already has one running', async () => {
    const second = await km(['serve', '--port', '0'], { KM_HOME: serverHome });
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/km serve is already running for .* \(pid \d+\); stop it first/);
    expect(JSON.parse(readFileSync(join(serverHome, 'serve.json'), 'utf8')).url).toBe(host.url);
  });

  it('exits non-zero with the reason when it cannot write serve.json, and leaves no draft behind', async () => {
    const home = tempHome('km-serve-blocked');
    mkdirSync(join(home, 'serve.json', 'in-the-way'), { recursive: true });
    const blocked = await km(['serve', '--port', '0'], { KM_HOME: home });
    expect(blocked.status).toBe(1);
    expect(blocked.stderr).toMatch(/^km: cannot write .*serve\.json: EISDIR.*remove what is in its way/m);
    expect(blocked.stdout).not.toMatch(/listening/);
    expect(readdirSync(home).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  // root writes into a read-only directory anyway, so this case only means something for other users.
  (process.getuid?.() === 0 ? it.skip : it)('exits non-zero with the reason when KM_HOME is read-only', async () => {
    const home = tempHome('km-serve-readonly');
    chmodSync(home, 0o500);
    try {
      const readOnly = await km(['serve', '--port', '0'], { KM_HOME: home });
      expect(readOnly.status).toBe(1);
      expect(readOnly.stderr).toMatch(/^km: cannot open .*km\.db: .*Check that .* is writable/m);
    } finally {
      chmodSync(home, 0o700);
    }
  });
});
