import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A webhook receiver on a real port that can go down (nothing listens: connection refused, as a receiver that is
 * off) and come back on the same port; it keeps the bodies it accepted.
 */
export interface WebhookReceiver {
  /** The webhook URL; its path is the secret a log must never show. */
  url: string;
  received: Array<{ km: { eventId: string; threshold: number }; text: string }>;
  /** POSTs it was sent while up, accepted or not. */
  posts: number;
  /** What it answers while up: 200 accepts the body. */
  status: number;
  /** Answers for the next POSTs, before `status` again. */
  next: number[];
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export const WEBHOOK_SECRET_PATH = '/services/T0SECRET/B0SECRET/xoxsecretpath';

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  let server: Server | null = null;
  let port = 0;
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    posts: 0,
    status: 200,
    next: [],
    async up() {
      if (server) return;
      const next = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          receiver.posts++;
          const status = receiver.next.shift() ?? receiver.status;
          if (status !== 200) return void res.writeHead(status).end();
          receiver.received.push(JSON.parse(body));
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve, reject) => {
        next.once('error', reject);
        next.listen(port, '127.0.0.1', () => resolve());
      });
      server = next;
      port = (next.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}${WEBHOOK_SECRET_PATH}`;
    },
    async down() {
      const current = server;
      server = null;
      if (!current) return;
      current.closeAllConnections();
      await new Promise<void>((resolve) => current.close(() => resolve()));
    },
    close: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}
