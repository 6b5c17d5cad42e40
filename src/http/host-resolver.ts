import { Injectable } from '@nestjs/common';
import { promises as dns } from 'node:dns';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/**
 * Resolves an outbound call's host name (a token endpoint, a billing provider's API) to every address it
 * has, in the resolver's order. One provider for the whole app (OutboundModule), so that the outbound
 * policy sees exactly the addresses a connection will use (the callers pin the connection to one of them),
 * and so that tests can answer for names they control.
 */
@Injectable()
export class HostResolver {
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    return dns.lookup(hostname, { all: true, verbatim: true });
  }
}
