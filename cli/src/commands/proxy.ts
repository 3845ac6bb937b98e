import { Command, InvalidArgumentError } from 'commander';
import { performance } from 'node:perf_hooks';
import { findProjectConfigFile } from '../config/project-config';
import { startProxy } from '../proxy/http-proxy';
import { startSession } from '../wrap/session';

/**
 * `km proxy --upstream URL [--port N]`: for clients that speak Streamable HTTP themselves. Point the client at
 * http://127.0.0.1:N/ instead of the remote server; km forwards everything unchanged and records the session
 * (transport http) through the same observer, plugins and spool as the stdio wrapper. One proxy run is one km
 * session; it ends when the proxy is stopped (Ctrl-C, SIGTERM).
 */
const now = () => performance.timeOrigin + performance.now();

function parseUpstream(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('give the remote MCP endpoint, e.g. https://example.com/mcp');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('the upstream must be http or https');
  return url;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return port;
}

export function proxyCommand(): Command {
  return new Command('proxy')
    .description('Record a remote (Streamable HTTP) MCP server for clients that speak HTTP: point them at this local endpoint')
    .requiredOption('--upstream <url>', 'the remote MCP endpoint', parseUpstream)
    .option('-p, --port <port>', 'port to listen on (0: any free one)', parsePort, 7811)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--name <name>', "the server's name on the dashboard (else the upstream's host)")
    .option('--project <project>', 'the project the session belongs to')
    .action(async (opts: { upstream: URL; port: number; host: string; name?: string; project?: string }) => {
      const startedAt = now();
      const options = { command: opts.upstream.href, args: [], url: opts.upstream.href, ...(opts.name ? { name: opts.name } : {}), ...(opts.project ? { project: opts.project } : {}) };
      const session = startSession(options, startedAt, findProjectConfigFile(process.cwd()));
      session.started(0);
      let seq = 0;
      const server = startProxy(opts.upstream, (direction, chunk, channel) => session.observeChunks(++seq, { chunks: [{ direction, chunk, at: now(), channel }] }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, resolve);
      });
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      process.stdout.write(`km proxy: http://${opts.host}:${port}/ forwards to ${opts.upstream.href} (point your MCP client at it)\n`);
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        server.close();
        server.closeAllConnections();
        void session.finish({ exitCode: null, signal, at: now() }).then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
