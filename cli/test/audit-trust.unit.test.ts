import { keyComesSafelyFrom } from '../src/commands/audit-trust';

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
