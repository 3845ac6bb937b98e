import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ApiKeyRecord } from '../adapters/api-key-authenticator';
import { DEFAULT_MAX_INGEST_BYTES } from '../handlers/ingest';
import { stderrLogger, type Logger } from '../logger';
import { httpRoutes } from '../routes';
import { githubOAuthAppFromEnv } from '../signin/github-oauth';
import { signInEndpoints } from '../signin/sign-in-endpoints';
import { openEmbeddedStack } from './embedded-stack';
import { InstallPackage } from './install-package';
import type { RebuildProgress } from './rebuild';
import { LOCAL_ORG_ID } from './local-api-key';
import { LOOPBACK_NAMES, makeRequestListener } from './request-dispatch';
import { removeServeFileIfOurs, serveFilePath, writeServeFile } from './serve-file';

export type { ServeFile } from './serve-file';

export interface EmbeddedHostOptions {
  /** KM_HOME: holds km.db, api-key and serve.json. Created (0700) if missing. */
  home: string;
  /** 0 picks a free port; the real one is in the result. */
  port: number;
  /** Default 127.0.0.1. Requests without a key are served as org 'local' only on a loopback address. */
  hostname?: string;
  /** The built dashboard (index.html and assets); a short page explains when it is missing. */
  dashboardDir?: string;
  /** The km package this server runs (its package.json, bin and bundle), offered at /install/km.tgz for teammates. */
  packageDir?: string;
  logger?: Logger;
  /** Tenants besides the local key's org 'local' (tests, a shared team server). */
  additionalApiKeys?: readonly ApiKeyRecord[];
  /** Limit of an ingest body, on the wire and decompressed. Default 5 MiB. */
  maxBodyBytes?: number;
  projectorIntervalMs?: number;
  /** km serve --rebuild: read models to replay into fresh copies while serving, then switch to. */
  rebuild?: readonly string[];
  onRebuildProgress?: (progress: RebuildProgress) => void;
}

export interface EmbeddedHost {
  /** Base URL, e.g. http://127.0.0.1:7777 (no trailing slash); the API is below /api/. */
  url: string;
  port: number;
  /** How the rebuild asked for ended; null when none was asked. */
  rebuilt: Promise<'done' | 'stopped' | 'failed'> | null;
  /** Stops accepting requests, finishes the projector run in flight, closes the database, removes serve.json. */
  close(): Promise<void>;
}

/**
 * `km serve`: the same HTTP Functions as the cloud, behind node:http on this machine, with the SQLite ports under
 * KM_HOME and an in-process projector loop instead of Event Hubs triggers.
 */
export async function startEmbeddedHost(options: EmbeddedHostOptions): Promise<EmbeddedHost> {
  const hostname = options.hostname ?? '127.0.0.1';
  const logger = options.logger ?? stderrLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_INGEST_BYTES;
  const loopbackOnly = LOOPBACK_NAMES.has(hostname) || hostname.startsWith('127.');
  // Refused before anything opens: half a GitHub app is a mistake to hear about at start.
  const github = githubOAuthAppFromEnv();
  const stack = openEmbeddedStack({
    home: options.home,
    logger,
    // Requests without a key are the local user only while nobody else can reach the port.
    ...(loopbackOnly ? { anonymousOrgId: LOCAL_ORG_ID } : {}),
    ...(options.additionalApiKeys ? { additionalApiKeys: options.additionalApiKeys } : {}),
    maxBodyBytes,
    ...(options.projectorIntervalMs ? { projectorIntervalMs: options.projectorIntervalMs } : {}),
    ...(options.rebuild ? { rebuild: options.rebuild } : {}),
    ...(options.onRebuildProgress ? { onRebuildProgress: options.onRebuildProgress } : {}),
  });

  let url = '';
  const server = createServer(
    makeRequestListener({
      routes: httpRoutes(stack.deps),
      dashboardDir: options.dashboardDir,
      ...(options.packageDir ? { install: new InstallPackage(options.packageDir, join(options.home, 'install')) } : {}),
      maxBodyBytes,
      logger,
      loopbackOnly,
      baseUrl: () => url,
      signIn: signInEndpoints({ ...stack.signIn, github, logger, publicUrl: (req) => publicUrlOf(req, url) }),
    }),
  );
  try {
    await listen(server, options.port, hostname);
  } catch (error) {
    await stack.close();
    throw new Error(
      (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `port ${options.port} on ${hostname} is in use, by another program or a km serve of another KM_HOME ` +
            `(each writes where it listens to its KM_HOME's serve.json): stop it, or pick another port with --port.`
        : `cannot listen on ${hostname}:${options.port}: ${(error as Error).message}`,
    );
  }
  const port = (server.address() as AddressInfo).port;
  url = `http://${urlHost(hostname)}:${port}`;
  try {
    writeServeFile(options.home, { url, port, pid: process.pid, orgId: LOCAL_ORG_ID });
  } catch (error) {
    // Wrappers find km serve through serve.json: listening without it would serve nobody, so stop with the reason.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await stack.close();
    throw new Error(
      `cannot write ${serveFilePath(options.home)}: ${(error as Error).message}. ` +
        'Wrappers find km serve through that file: remove what is in its way (or free disk space) and start km serve again.',
    );
  }
  logger.info(`embedded host listening on ${url} (data in ${options.home})`);

  let closing: Promise<void> | null = null;
  const close = async () => {
    removeServeFileIfOurs(options.home);
    await closeServer(server);
    await stack.close();
    logger.info('embedded host stopped');
  };
  return { url, port, rebuilt: stack.rebuilt, close: () => (closing ??= close()) };
}

/** How the browser reaches this host: KM_PUBLIC_URL when set (a proxy in front), else the Host it asked for. */
function publicUrlOf(req: IncomingMessage, ownUrl: string): string {
  const configured = process.env.KM_PUBLIC_URL?.trim().replace(/\/+$/, '');
  if (configured) return configured;
  const host = req.headers.host;
  if (!host) return ownUrl;
  return `${req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http'}://${host}`;
}

function listen(server: Server, port: number, hostname: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Lets requests in flight finish for a moment, then cuts whatever is left (a stalled upload must not block exit). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), 2000);
    force.unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** A URL a local client can connect to: a wildcard bind is reached on loopback, IPv6 goes in brackets. */
function urlHost(hostname: string): string {
  if (hostname === '0.0.0.0' || hostname === '::' || hostname === '') return '127.0.0.1';
  return hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
}
