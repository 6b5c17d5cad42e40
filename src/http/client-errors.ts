import type { Socket } from 'node:net';

/** The statuses Node's HTTP parser gives up with, as Node itself would answer them. */
function clientErrorAnswer(code: string | undefined): { status: number; reason: string; message: string } {
  if (code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, reason: 'Request Header Fields Too Large', message: 'Request headers too large.' };
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, reason: 'Request Timeout', message: 'Request timed out.' };
  }
  return { status: 400, reason: 'Bad Request', message: 'Malformed HTTP request.' };
}

/**
 * Fastify's `clientErrorHandler`: a request Node's HTTP parser refuses (a bad Content-Length, a broken request
 * line) never reaches the app; it gets the contract's JSON error, then the connection is closed. A socket that
 * is gone, or already carries a response, is just destroyed.
 */
export function answerUnparsableRequest(err: NodeJS.ErrnoException, socket: Socket): void {
  // Node keeps the response in progress on the socket (null between keep-alive requests).
  const responseStarted = (socket as { _httpMessage?: unknown })._httpMessage != null;
  if (err.code === 'ECONNRESET' || !socket.writable || responseStarted) {
    socket.destroy();
    return;
  }
  const { status, reason, message } = clientErrorAnswer(err.code);
  const body = JSON.stringify({ error: { type: 'validation_failed', status, message } });
  // The answer to a HEAD request has no body (RFC 9110 §9.3.2): bytes after its headers would be read as the
  // start of another response by whatever shares the connection. Found by the fuzzer.
  const head = isHeadRequest(err);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'Connection: close\r\n\r\n' +
      (head ? '' : body),
  );
}

/**
 * Whether the bytes Node's parser gave up on (`rawPacket`, the chunk it was parsing) begin a HEAD request. A
 * request whose head arrived in several chunks is not recognised: its answer keeps the body, which the
 * connection's close ends anyway.
 */
function isHeadRequest(err: NodeJS.ErrnoException & { rawPacket?: unknown }): boolean {
  const raw = err.rawPacket;
  return Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ';
}
