import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyComesSafelyFrom, trustedAuditKeys } from '../src/commands/audit-trust';
import type { Settings } from '../src/config/settings';

describe('keyComesSafelyFrom: whether km audit verify may trust the key a server answers', () => {
  it('trusts https anywhere and plain http from this machine only', () => {
    for (const endpoint of ['https://km.example.com', 'https://10.0.0.5:7777', 'http://localhost:7777', 'http://127.0.0.1:7777', 'http://127.8.9.10', 'http://[::1]:7777']) {
      expect({ endpoint, safe: keyComesSafelyFrom(endpoint) }).toEqual({ endpoint, safe: true });
    }
  });

  it('does not trust plain http to another machine, another scheme, or an endpoint that is not a URL', () => {
    for (const endpoint of ['http://10.0.0.5:7777', 'http://km.example.com', 'http://127.0.0.1.example.com', 'http://localhost.example.com', 'ftp://127.0.0.1', 'not a url']) {
      expect({ endpoint, safe: keyComesSafelyFrom(endpoint) }).toEqual({ endpoint, safe: false });
    }
  });
});

describe('trustedAuditKeys: which keys km audit verify trusts when no --key is given', () => {
  const settings = (endpoint: string | null): Settings => ({
    home: mkdtempSync(join(tmpdir(), 'km-audit-trust-')),
    endpoint,
    apiKey: 'km_test_key',
    orgId: 'local',
    orgConfigured: false,
    debug: false,
    maxSpoolBytes: 1024,
    observerBacklogBytes: 1024,
  });
  afterEach(() => jest.restoreAllMocks());

  it('never asks a server over plain http on another machine, and says why', async () => {
    const fetched = jest.spyOn(globalThis, 'fetch');
    const search = await trustedAuditKeys(settings('http://10.0.0.5:7777'), 'SHA256:head');
    expect(fetched).not.toHaveBeenCalled();
    expect(search).toEqual({ keys: [], unanswered: [expect.stringContaining('(http://10.0.0.5:7777) was not asked: it is not https and not a loopback address')] });
  });

  it('asks one over https, and one on this machine', async () => {
    for (const endpoint of ['https://km.example.invalid', 'http://127.0.0.1:9']) {
      const fetched = jest.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('refused for the test'));
      const search = await trustedAuditKeys(settings(endpoint), 'SHA256:head');
      expect(fetched).toHaveBeenCalledWith(expect.stringContaining(`${endpoint}/api/audit/key`), expect.anything());
      expect(search.keys).toEqual([]);
      expect(search.unanswered).toHaveLength(1);
      jest.restoreAllMocks();
    }
  });
});
