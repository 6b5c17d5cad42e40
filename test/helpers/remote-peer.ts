import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';

/**
 * An address of this machine that is not loopback, if it has one: a connection made to it has a socket peer
 * that is not loopback, as a client on another machine has, without leaving the machine.
 */
export function nonLoopbackAddress(): string | undefined {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  const usable = addresses.filter((a) => !a.internal && !a.address.startsWith('fe80:'));
  return (usable.find((a) => a.family === 'IPv4') ?? usable[0])?.address;
}

/** `server` listening on every address (if it does not listen yet), and its port. */
export async function listenEverywhere(server: Server): Promise<number> {
  if (!server.address()) await new Promise<void>((resolve) => server.listen(0, resolve));
  return (server.address() as AddressInfo).port;
}

/** The base URL that reaches `server` over `address`. */
export async function baseUrlOver(server: Server, address: string): Promise<string> {
  const port = await listenEverywhere(server);
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
