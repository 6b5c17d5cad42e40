import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';

/** The route GitHub's secret scanning reports to. */
export const SCANNING_PATH = '/api/v1/integrations/secret-scanning/github';

interface ScannerKey {
  identifier: string;
  privateKey: KeyObject;
  publicPem: string;
}

function newKey(): ScannerKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  // GitHub's identifiers are the SHA-256 of the key, in hex.
  const identifier = createHash('sha256').update(publicPem).digest('hex');
  return { identifier, privateKey, publicPem };
}

/**
 * GitHub's secret scanning as the endpoint sees it, on loopback: an ECDSA P-256 key pair whose public key it
 * serves as GitHub's key document (`{public_keys: [{key_identifier, key, is_current}]}`), counting the fetches
 * that reach it; it can fail them (503), and rotate to a new key. `sign` and `report` sign a body with the
 * current key, as GitHub does (base64 DER over the raw bytes).
 */
export class FakeSecretScanner {
  /** Key-document requests received so far. */
  fetches = 0;
  /** Of those, how many carried If-None-Match. */
  conditionalFetches = 0;
  private failing = false;
  private readonly keys: ScannerKey[] = [newKey()];

  private constructor(private readonly server: HttpServer) {}

  static async start(): Promise<FakeSecretScanner> {
    const server = createServer((req, res) => {
      scanner.fetches++;
      if (scanner.failing) {
        res.writeHead(503).end();
        return;
      }
      const body = scanner.document();
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      if (req.headers['if-none-match'] !== undefined) scanner.conditionalFetches++;
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
    });
    const scanner = new FakeSecretScanner(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return scanner;
  }

  /** SECRET_SCANNING_GITHUB_KEYS_URL for an app that trusts this scanner. */
  get keysUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/meta/public_keys/secret_scanning`;
  }

  get keyIdentifier(): string {
    return this.keys.at(-1)!.identifier;
  }

  private document(): string {
    return JSON.stringify({
      public_keys: this.keys.map((k, i) => ({
        key_identifier: k.identifier,
        key: k.publicPem,
        is_current: i === this.keys.length - 1,
      })),
    });
  }

  /** Publishes a new key and signs with it from now on (the old one stays published). */
  rotate(): void {
    this.keys.push(newKey());
  }

  /** From now on (until `recover()`), key-document fetches answer 503. */
  fail(): void {
    this.failing = true;
  }

  recover(): void {
    this.failing = false;
  }

  /** The two headers of a report of `body`, signed with the current key (or `key`). */
  headersFor(body: Buffer | string, key: { privateKey: KeyObject; identifier: string } = this.keys.at(-1)!) {
    const signature = sign('sha256', Buffer.from(body), { key: key.privateKey, dsaEncoding: 'der' });
    return {
      'Github-Public-Key-Identifier': key.identifier,
      'Github-Public-Key-Signature': signature.toString('base64'),
    };
  }

  /** POSTs `body` (bytes, JSON text or a value to serialise) to the scanning route, signed. */
  report(http: Server, body: unknown): request.Test {
    const text = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
    return (
      request(http)
        .post(SCANNING_PATH)
        // Bytes go as they are (superagent would serialise a Buffer sent as JSON).
        .set('content-type', Buffer.isBuffer(text) ? 'application/octet-stream' : 'application/json')
        .set(this.headersFor(text))
        .send(text)
    );
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A P-256 key GitHub never published: what a forger signs with. */
export function foreignScannerKey(): { privateKey: KeyObject; identifier: string } {
  const key = newKey();
  return { privateKey: key.privateKey, identifier: key.identifier };
}

/** One match of a report, as GitHub sends it. */
export function match(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    token,
    type: token.startsWith('kso_') ? 'keysmith_org_token' : 'keysmith_api_key',
    url: 'https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt',
    source: 'content',
    ...extra,
  };
}
