import { Global, Module } from '@nestjs/common';
import { HostResolver } from 'src/http/host-resolver';

/** The one HostResolver every outbound call resolves through (see outbound-address.ts). */
@Global()
@Module({ providers: [HostResolver], exports: [HostResolver] })
export class OutboundModule {}
