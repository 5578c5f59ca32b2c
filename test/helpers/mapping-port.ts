/** The mapping-check worker's handler behind an in-process port that copies messages as postMessage does (tests). */
import { createMappingCheckHandler, type MappingCheckReply, type MappingCheckRequest } from '../../src/worker/mapping-check';
import type { MappingCheckPort } from '../../src/worker/mapping-check-client';

export function inProcessPort() {
  const listeners: Array<(ev: { data: MappingCheckReply }) => void> = [];
  const posted: MappingCheckRequest[] = [];
  const handler = createMappingCheckHandler((m) => {
    const copy = structuredClone(m);
    setTimeout(() => listeners.forEach((l) => l({ data: copy })), 0);
  });
  const port: MappingCheckPort = {
    postMessage(m) {
      posted.push(m);
      const copy = structuredClone(m);
      setTimeout(() => void handler.handle(copy), 0);
    },
    addEventListener(_type, fn) {
      listeners.push(fn);
    },
  };
  return { port, posted };
}
