// Naming a transport error: a class (dns, refused, timeout, tls, reset, network) and a sentence
// that says what failed, and for a refused certificate what to do about it.
import type { ErrorClass } from "./types";

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|HOSTNAME|ALTNAME/i;

/** What to do about a certificate Node refused, by OpenSSL code. */
function tlsFix(codes: readonly string[]): string {
    if (codes.some((c) => /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(c))) {
        return "; fix: trust the CA that signed it (progression smoke --ca FILE, or the SmokeTest's caPem)";
    }
    if (codes.includes("CERT_HAS_EXPIRED")) return "; fix: renew the app's certificate";
    if (codes.some((c) => /ALTNAME|HOSTNAME/.test(c))) return "; fix: use the host name the certificate is issued for in the base URL";
    return "";
}

/** Maps a thrown transport error (walking causes and AggregateErrors) to a class and a sentence. */
export function classify(err: unknown, url: URL): [ErrorClass, string] {
    const seen = new Set<unknown>();
    const queue: unknown[] = [err];
    const codes: string[] = [];
    const messages: string[] = [];
    while (queue.length > 0) {
        const e = queue.shift();
        if (e === null || e === undefined || seen.has(e)) continue;
        seen.add(e);
        if (typeof e === "object") {
            const o = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
            if (typeof o.code === "string") codes.push(o.code);
            if (typeof o.message === "string" && o.message) messages.push(o.message);
            queue.push(o.cause);
            if (Array.isArray(o.errors)) queue.push(...(o.errors as unknown[]));
        }
    }
    // Node appends a hint about its own --use-system-ca flag to some TLS errors: not the fix here.
    const first = (messages[0] ?? String(err)).replace(/;\s*if the root CA is installed locally.*$/s, "");
    const detail = `${first}${codes.length > 0 ? ` [${[...new Set(codes)].join(", ")}]` : ""}`;
    const has = (...cs: string[]) => codes.some((c) => cs.includes(c));
    const host = url.host;
    if (has("ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA")) return ["dns", `DNS lookup of ${url.hostname} failed: ${detail}`];
    if (has("ECONNREFUSED")) return ["refused", `connection to ${host} refused: ${detail}`];
    if (has("UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"))
        return ["timeout", `timed out talking to ${host}: ${detail}`];
    // EPROTO: the TLS handshake broke, e.g. plain HTTP answering on an https URL.
    if (codes.some((c) => TLS_CODE.test(c) || c === "EPROTO")) return ["tls", `TLS verification of ${host} failed: ${detail}${tlsFix(codes)}`];
    // A body cut short: by its content-length, or a chunked one ended by the connection closing
    // (undici's parser names that "Invalid EOF state" and gives it no code).
    const cutShort = has("UND_ERR_RES_CONTENT_LENGTH_MISMATCH") || messages.some((m) => m.includes("(Invalid EOF state)"));
    if (cutShort || has("ECONNRESET", "EPIPE", "ECONNABORTED", "UND_ERR_SOCKET", "UND_ERR_CLOSED"))
        return ["reset", `connection to ${host} reset or closed early: ${detail}`];
    return ["network", `request to ${host} failed: ${detail}`];
}
