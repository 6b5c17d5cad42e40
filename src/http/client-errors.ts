import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorBody } from 'src/errors/error-body';

type InFlightResponse = Pick<ServerResponse, 'headersSent' | 'req'>;

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
 * line) never reaches the app; it gets the contract's JSON error, then the connection is closed. So does a
 * request still arriving when the request or headers timeout passes (408), although the app may already be
 * reading its body. A socket that is gone, or whose response has begun, is just destroyed.
 */
export function answerUnparsableRequest(err: NodeJS.ErrnoException, socket: Socket): void {
  // Node keeps the response in progress on the socket (null between keep-alive requests). Its request is the
  // one this error is about only while that request is still arriving (a body trickled past the timeout);
  // once it has arrived, the error is about a pipelined next request, and an answer now would be read as the
  // response to the first.
  const inFlight = (socket as { _httpMessage?: InFlightResponse | null })._httpMessage;
  const responseStarted = inFlight != null && (inFlight.headersSent || inFlight.req?.complete !== false);
  if (err.code === 'ECONNRESET' || !socket.writable || responseStarted) {
    socket.destroy();
    return;
  }
  const { status, reason, message } = clientErrorAnswer(err.code);
  const body = JSON.stringify(errorBody('validation_failed', message, { status }));
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
