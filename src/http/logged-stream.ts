import { Readable } from "node:stream";

/**
 * `chunks` as a byte stream for a reply, sent as they are read, so the server holds a chunk, not
 * the whole answer. A failure part way destroys the stream (Readable.from does), and with it the
 * connection: the download ends short, not as a complete file. The failure is logged as `label`,
 * as the answer, its status long sent, can no longer say it.
 *
 * A route that sends one should not answer HEAD (`exposeHeadRoute: false`): fastify would build
 * the stream and drain it with nobody reading, the whole read run for no one.
 */
export function loggedStream(chunks: AsyncIterable<string>, label: string, log: (line: string) => void): Readable {
  return Readable.from(
    (async function* () {
      try {
        yield* chunks;
      } catch (error) {
        log(`${label}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        throw error;
      }
    })(),
    { objectMode: false },
  );
}
