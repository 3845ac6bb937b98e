import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { auditKeyRoute } from '@km/shared';
import { auditKeyShown, auditPublicKey } from '@km/functions/dist/audit/audit-chain';
import { auditKeyPath } from '@km/functions/dist/host/local-api-key';
import type { Settings } from '../config/settings';
import { callApi } from './api-client';

/** A key an audit head may be signed with, and why km trusts it: said with every verdict. */
export interface TrustedKey {
  fingerprint: string;
  source: string;
  /** PEM (SPKI), for `km audit key --out`; null when only a fingerprint was given. */
  pem: string | null;
}

/** Where km looked for a key to trust and found none, or could not ask: said when nothing vouches for a file. */
export interface KeySearch {
  keys: TrustedKey[];
  /** What was tried and gave no key (a server that did not answer): part of the message. */
  unanswered: string[];
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

function trustedKeyOf(key: KeyObject, source: string): TrustedKey {
  return { ...auditKeyShown(key), source };
}

/**
 * `--key`: a fingerprint (SHA256:...), or a file with the key as PEM (public, or the private key itself), or as the
 * base64 a head carries. Throws a message saying what it takes.
 */
export function pinnedKey(value: string): TrustedKey {
  if (FINGERPRINT.test(value)) return { fingerprint: value, source: `the key given with --key`, pem: null };
  let text: string;
  try {
    text = readFileSync(value, 'utf8').trim();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new Error(`--key ${value}: ${reason}; give the server's key as a PEM file or its fingerprint (SHA256:..., from km audit key)`);
  }
  let key: KeyObject | null = null;
  try {
    key = text.startsWith('-----BEGIN') ? createPublicKey(text) : auditPublicKey(text);
  } catch {
    key = null;
  }
  if (!key || key.asymmetricKeyType !== 'ed25519') throw new Error(`--key ${value}: not an Ed25519 key (PEM, or the base64 of an export's head); km audit key writes the server's`);
  return trustedKeyOf(key, `the key in ${value} (--key)`);
}

/** This machine's km serve key (KM_HOME/audit-signing-key.pem), or null when km serve never made one here. */
export function localAuditKey(home: string): TrustedKey | null {
  const path = auditKeyPath(home);
  if (!existsSync(path)) return null;
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read this machine's audit key ${path} (${(error as Error).message}): km serve signs with it; check its permissions`);
  }
  return trustedKeyOf(key, `this machine's km serve (${path})`);
}

/** The key of the server km is logged in to (km login / KM_ENDPOINT), as GET /api/audit/key answers it. */
export async function serverAuditKey(settings: Settings): Promise<TrustedKey> {
  const endpoint = settings.endpoint!;
  const answer = await callApi(auditKeyRoute, { target: { endpoint, apiKey: settings.apiKey } });
  const key = auditPublicKey(answer.publicKey);
  if (!key) throw new Error(`GET /api/audit/key at ${endpoint} answered a key that is not Ed25519`);
  // The fingerprint is computed here, never taken from the answer.
  return trustedKeyOf(key, `the server km is logged in to (${endpoint})`);
}

/**
 * Whether a key fetched from the endpoint is the server's own: over https, or from this machine. Over plain http
 * from elsewhere, anyone on the way (a LAN, a proxy) could answer with a key of their own and make a forgery hold.
 */
export function keyComesSafelyFrom(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return url.protocol === 'http:' && (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}

/**
 * The keys an export's head may be signed with when none is given (--key): this machine's km serve key and the key
 * of the server km is logged in to, when it comes over https or from this machine. The server is asked only when the
 * local key is not the head's, so verifying a local export needs no network.
 */
export async function trustedAuditKeys(settings: Settings, headFingerprint: string): Promise<KeySearch> {
  const keys: TrustedKey[] = [];
  const unanswered: string[] = [];
  const local = localAuditKey(settings.home);
  if (local) keys.push(local);
  const endpoint = settings.endpoint;
  if (endpoint && local?.fingerprint !== headFingerprint) {
    if (!keyComesSafelyFrom(endpoint)) {
      unanswered.push(`the server km is logged in to (${endpoint}) was not asked: it is not https and not a loopback address, so anyone on the way could answer with their own key`);
      return { keys, unanswered };
    }
    try {
      keys.push(await serverAuditKey(settings));
    } catch (error) {
      unanswered.push((error as Error).message);
    }
  }
  return { keys, unanswered };
}
