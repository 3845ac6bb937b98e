import { randomBytes } from 'node:crypto';
import type { Caller } from '../ports';

export const SESSION_COOKIE = 'km_session';
/** A dashboard stays signed in for a working day; the cookie and the session end together. */
export const SESSION_SECONDS = 12 * 3600;
/** A sign-in link (`km dashboard` for a logged-in member) works once, and only for a short while. */
const LINK_SECONDS = 120;
const MAX_SESSIONS = 10_000;

interface Held {
  caller: Caller;
  openedAtMs: number;
  expiresAtMs: number;
}

/**
 * The dashboard sessions of one km serve: random tokens (256 bits) in an HttpOnly cookie, held in memory, so a
 * restart signs everybody out and nothing about a session is ever on disk. The caller is fixed at sign-in: a key
 * revoked later ends its sessions at the next request (the authenticator checks the key again).
 */
export class SignInSessions {
  private readonly sessions = new Map<string, Held & { keyHash?: string }>();
  private readonly links = new Map<string, Held & { keyHash?: string }>();

  constructor(private readonly nowMs: () => number = () => Date.now()) {}

  open(caller: Caller, keyHash?: string): string {
    return this.hold(this.sessions, caller, SESSION_SECONDS, keyHash);
  }

  find(token: string): (Held & { keyHash?: string }) | null {
    return this.live(this.sessions, token);
  }

  end(token: string): void {
    this.sessions.delete(token);
  }

  /** A one-time link that opens a session: what `km dashboard` opens in the browser, so no key is in a URL. */
  link(caller: Caller, keyHash?: string): string {
    return this.hold(this.links, caller, LINK_SECONDS, keyHash);
  }

  /** The link's session token, once; null when it was used, has expired or never was. */
  claim(linkToken: string): string | null {
    const held = this.live(this.links, linkToken);
    this.links.delete(linkToken);
    return held ? this.open(held.caller, held.keyHash) : null;
  }

  private hold(into: Map<string, Held & { keyHash?: string }>, caller: Caller, seconds: number, keyHash?: string): string {
    const token = randomBytes(32).toString('base64url');
    const openedAtMs = this.nowMs();
    into.set(token, { caller, openedAtMs, expiresAtMs: openedAtMs + seconds * 1000, ...(keyHash ? { keyHash } : {}) });
    if (into.size > MAX_SESSIONS) into.delete(into.keys().next().value!);
    return token;
  }

  private live(from: Map<string, Held & { keyHash?: string }>, token: string): (Held & { keyHash?: string }) | null {
    const held = from.get(token);
    if (!held) return null;
    if (held.expiresAtMs <= this.nowMs()) {
      from.delete(token);
      return null;
    }
    return held;
  }
}

/** The value of one cookie in a Cookie header, or null. */
export function cookieValue(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim() || null;
  }
  return null;
}
