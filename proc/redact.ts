// Redaction of secret values from text that leaves a gate: a command's or a Job's output, before
// it reaches state or an error message. The secrets are values the gate knows (the stack's secret
// config values it hands over, header values); each is also looked for in the forms a program
// prints it in: a URL's password alone, encoded and decoded, and a conninfo `password=`.

export const REDACTED = "[redacted]";

/**
 * Shorter values are not looked for: a one- or two-character value would blank out ordinary text
 * everywhere, and is no secret worth the name.
 */
export const MIN_SECRET_CHARS = 3;

/** The password of a URL (`scheme://user:password@host`), encoded as written and decoded. */
function urlPasswords(value: string): string[] {
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        return [];
    }
    const found = [url.password, url.searchParams.get("password") ?? ""];
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:([^/?#@]*)@/i.exec(value);
    if (m?.[1]) found.push(m[1]);
    return found.flatMap((p) => {
        if (p === "") return [];
        try {
            return [p, decodeURIComponent(p)];
        } catch {
            return [p];
        }
    });
}

/** `password=...` in a libpq key/value connection string, quoted or bare. */
function conninfoPasswords(value: string): string[] {
    const found: string[] = [];
    for (const m of value.matchAll(/(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))/g)) {
        const v = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
        if (v) found.push(v);
    }
    return found;
}

/**
 * Every string to redact for `values`: each value, the credentials of a `Scheme credentials` value
 * (`Bearer abc`), and the passwords inside URLs and connection strings. Longest first, so a whole
 * value is replaced before a part of it.
 */
export function secretStrings(values: Iterable<string>): string[] {
    const secrets = new Set<string>();
    for (const raw of values) {
        const v = raw.trim();
        const parts = [v, /^[A-Za-z][\w.+-]*\s+(\S.*)$/.exec(v)?.[1] ?? "", ...urlPasswords(v), ...conninfoPasswords(v)];
        for (const p of parts) if (p.length >= MIN_SECRET_CHARS) secrets.add(p);
    }
    return [...secrets].sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced by REDACTED. `secrets` longest first. */
export function redactString(text: string, secrets: readonly string[]): string {
    let out = text;
    for (const s of secrets) {
        if (s !== "" && out.includes(s)) out = out.split(s).join(REDACTED);
    }
    return out;
}
