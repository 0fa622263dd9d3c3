// Streaming output for reports that can be large: chunks are batched into writes of about 64 KiB
// and the next batch waits for the stream to drain, so memory stays flat however long the output.
// A reader that goes away (`| head`) ends the output quietly.
import { once } from "node:events";

const BATCH_BYTES = 64 * 1024;

export async function writeChunks(chunks: Iterable<string>, out: NodeJS.WritableStream = process.stdout): Promise<void> {
    let closed = false;
    let failure: NodeJS.ErrnoException | undefined;
    const onError = (err: NodeJS.ErrnoException) => {
        closed = true;
        if (err.code !== "EPIPE") failure = err;
    };
    out.on("error", onError);
    try {
        let batch = "";
        for (const chunk of chunks) {
            if (closed) return;
            batch += chunk;
            if (batch.length < BATCH_BYTES) continue;
            const text = batch;
            batch = "";
            if (!out.write(text)) await Promise.race([once(out, "drain"), once(out, "close"), once(out, "error")]);
        }
        if (batch !== "" && !closed) out.write(batch);
    } finally {
        out.off("error", onError);
    }
    if (failure) throw failure;
}
