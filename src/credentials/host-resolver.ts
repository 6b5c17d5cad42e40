import { Injectable } from '@nestjs/common';
import { promises as dns } from 'node:dns';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/**
 * Resolves a token endpoint's host name to every address it has, in the resolver's order. Its own provider
 * so that the outbound policy sees exactly the addresses a connection will use (TokenEndpointClient pins the
 * connection to one of them), and so that tests can answer for names they control.
 */
@Injectable()
export class HostResolver {
  async resolve(hostname: string): Promise<ResolvedAddress[]> {
    return dns.lookup(hostname, { all: true, verbatim: true });
  }
}
