import { Module } from '@nestjs/common';
import { EventsOutbox } from 'src/events/events-outbox';

/**
 * The outbox's writer alone: what a feature imports to announce its changes (decision 0090). It needs no
 * configuration and starts nothing, so importing it brings no worker, route or timer into a feature's
 * module graph; EventsModule (composed in AppModule) holds the rest of src/events.
 */
@Module({ providers: [EventsOutbox], exports: [EventsOutbox] })
export class EventsOutboxModule {}
