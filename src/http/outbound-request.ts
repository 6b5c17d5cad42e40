import {
  request as httpRequest,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HostResolver } from 'src/http/host-resolver';
import {
  OutboundAddressRefusedError,
  pinnedLookup,
  refuseLiteralHost,
  type AddressRefusal,
} from 'src/http/outbound-address';

/** Where an outbound call may connect: the app's resolver, and the calling feature's address rule. */
export interface OutboundTarget {
  resolver: Pick<HostResolver, 'resolve'>;
  refuse: AddressRefusal;
}

/** Node's own default `maxHeaderSize`, stated so that a process flag cannot raise it for outbound answers. */
export const OUTBOUND_MAX_HEADER_BYTES = 16 * 1024;

export interface OutboundRequest {
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** One deadline for all of it: resolving, connecting, sending, the answer's head and its whole body. */
  timeoutMs: number;
  /** The most of the answer's body that is read: a larger one, declared or counted, is `too_large`. */
  maxBodyBytes: number;
  /** The most of the answer's status line and headers that is parsed; more fails the call. */
  maxHeaderBytes?: number;
  /**
   * Whether the body of an answer with `status` is read. When not, the call ends at the answer's head, with
   * an empty body (for a status the caller refuses whatever the body says). Default: every body is read.
   */
  readBody?: (status: number) => boolean;
}

/** How an outbound call ended. Never a thrown error. */
export type OutboundResult =
  /** An answer, whatever its status: a redirect is an answer too, never followed. */
  | { kind: 'answered'; status: number; headers: IncomingHttpHeaders; body: Buffer }
  /** The address rule refused the host, or every address it resolved to: nothing was sent. */
  | { kind: 'refused'; reason: string }
  /** No complete answer within `timeoutMs`. */
  | { kind: 'timeout' }
  /** The answer's body is larger than `maxBodyBytes` (declared by Content-Length, or counted as it came). */
  | { kind: 'too_large'; status: number }
  /**
   * No usable answer: the connection failed or dropped mid-answer, the name did not resolve, the head was
   * too large or malformed, or Node refused the request. `code` is Node's error code, when there is one.
   */
  | { kind: 'failed'; code?: string };

/**
 * The one bounded outbound HTTP call (token refreshes, provider exchanges, and any later caller). Bounded in
 * time (one deadline for everything) and in size (the head by `maxHeaderBytes`, the body by `maxBodyBytes`,
 * reading stops past it). Redirects are not followed: whatever a request carries (a token, a secret) would
 * travel to wherever they point. Each call has a connection of its own (no keep-alive pool, no proxy): a
 * pooled socket would skip the address check, and a pooled connection the peer has just closed would fail a
 * request that cannot be retried. The connection goes only to an address `target.refuse` allows, the very
 * one it checked (a pinned lookup; an IP literal is checked before): otherwise nothing is sent. Settles once,
 * with the first outcome; the connection is closed when it does.
 */
export function outboundRequest(request: OutboundRequest, target: OutboundTarget): Promise<OutboundResult> {
  return new Promise((resolve) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (result: OutboundResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      resolve(result);
    };
    const failed = (err: unknown): void => {
      if (err instanceof OutboundAddressRefusedError) {
        finish({ kind: 'refused', reason: err.message });
        return;
      }
      const code = (err as { code?: unknown } | undefined)?.code;
      finish(typeof code === 'string' ? { kind: 'failed', code } : { kind: 'failed' });
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), request.timeoutMs);

    const onResponse = (res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      // Attached first: an answer cut short (the connection dropped mid-answer) is a failure.
      res.on('error', failed);
      res.on('close', () => failed(res.errored ?? undefined));
      if (request.readBody && !request.readBody(status)) {
        finish({ kind: 'answered', status, headers: res.headers, body: Buffer.alloc(0) });
        return;
      }
      if (Number(res.headers['content-length']) > request.maxBodyBytes) {
        finish({ kind: 'too_large', status });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBodyBytes) finish({ kind: 'too_large', status });
        else chunks.push(chunk);
      });
      res.on('end', () =>
        finish({ kind: 'answered', status, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    };

    const literalRefusal = refuseLiteralHost(request.url, target.refuse);
    if (literalRefusal !== undefined) {
      finish({ kind: 'refused', reason: literalRefusal });
      return;
    }
    try {
      const send = request.url.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(
        request.url,
        {
          method: request.method,
          headers: request.headers,
          agent: false,
          lookup: pinnedLookup(target.resolver, target.refuse),
          maxHeaderSize: request.maxHeaderBytes ?? OUTBOUND_MAX_HEADER_BYTES,
        },
        onResponse,
      );
    } catch (err) {
      // A URL or header Node refuses: nothing was sent.
      failed(err);
      return;
    }
    req.on('error', failed);
    req.end(request.body);
  });
}
