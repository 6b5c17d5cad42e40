import http from 'node:http';

export interface RawRequest {
  method: string;
  /** Path and query as sent on the request line: the caller encodes what it wants encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The request could not even be written (Node's client refuses the path or a header): nothing was sent. */
export class UnsendableRequest extends Error {}

/** No complete answer within the bound. */
export class RequestTimedOut extends Error {}

/**
 * One HTTP/1.1 request over a keep-alive connection, with exactly the path, headers and body given (supertest
 * normalizes all three), and a bound on the whole exchange.
 */
export function rawRequest(
  agent: http.Agent,
  port: number,
  request: RawRequest,
  timeoutMs: number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: '127.0.0.1',
        port,
        agent,
        method: request.method,
        path: request.path,
        headers: {
          ...request.headers,
          ...(request.body ? { 'content-length': String(request.body.length) } : {}),
        },
      });
    } catch (err) {
      reject(new UnsendableRequest((err as Error).message));
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      reject(new RequestTimedOut(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(request.body);
  });
}
