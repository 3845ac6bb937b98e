import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for GitHub's OAuth endpoints (no network): authorize sends the browser straight back with a code for
 * whoever `signingIn` names, the token endpoint checks the app's secret, /user says whose token it is.
 */
export function startGithubDouble(secret: string): Promise<{ url: string; signingIn: { login: string }; close(): Promise<void> }> {
  const signingIn = { login: 'octocat' };
  const codes = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://double');
    if (url.pathname === '/login/oauth/authorize') {
      const code = `code-${codes.size + 1}`;
      codes.set(code, signingIn.login);
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state')!);
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const asked = JSON.parse(body) as { client_secret: string; code: string };
        const login = codes.get(asked.code);
        codes.delete(asked.code);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(asked.client_secret === secret && login ? { access_token: `token-of-${login}` } : { error: 'bad_verification_code' }));
      });
      return;
    }
    if (url.pathname === '/user') {
      const login = /^Bearer token-of-(.+)$/.exec(req.headers.authorization ?? '')?.[1];
      res.writeHead(login ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(login ? { login, id: 1 } : { message: 'Bad credentials' }));
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({ url, signingIn, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
