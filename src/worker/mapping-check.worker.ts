/// <reference lib="webworker" />
/** A small worker for the Data panel's mapping check (./mapping-check.ts), apart from the engine worker so a training run never waits behind it. */
import { createMappingCheckHandler, type MappingCheckRequest } from './mapping-check';

declare const self: DedicatedWorkerGlobalScope;

const handler = createMappingCheckHandler((m, transfer) => self.postMessage(m, transfer ?? []));
self.addEventListener('message', (ev: MessageEvent<MappingCheckRequest>) => void handler.handle(ev.data));
