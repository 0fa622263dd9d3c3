// What stops `progression netcheck` before any verdict: printed as one message, exit 2.

/** Input that stops the check before any verdict: printed as one message, exit 2. */
export class SourceError extends Error {
    override name = "SourceError";
}
