// Parsing and validation of user-supplied checks and options: every problem reported at once,
// each with what, the value, what is allowed and the fix.
import { describe, expect, it } from "vitest";
import { defaultChecks, parseBaseUrl, parseChecks, resolveSmokeOptions, SmokeConfigError, validateChecks } from "../../smoke";
import { collectSecrets, redactDeep } from "../../smoke/redact";

function problems(fn: () => unknown): string[] {
    try {
        fn();
    } catch (err) {
        expect(err).toBeInstanceOf(SmokeConfigError);
        return [...(err as SmokeConfigError).problems];
    }
    throw new Error("expected a SmokeConfigError");
}

describe("default checks", () => {
    it("are the seed's four critical paths", () => {
        expect(defaultChecks.map((c) => `${c.method} ${c.path}`)).toEqual(["GET /healthz", "GET /api/version", "GET /api/db-status", "POST /api/test-action"]);
        expect(defaultChecks[3]!.body).toEqual({ test: true });
        expect(validateChecks(defaultChecks)).toEqual(defaultChecks);
    });
});

describe("parseChecks", () => {
    it("an array replaces the defaults; method is case-insensitive; status may be a single number", () => {
        const checks = parseChecks(JSON.stringify([{ name: "ping", method: "post", path: "/ping", body: { a: 1 }, expect: { status: 204 } }]));
        expect(checks).toEqual([{ name: "ping", method: "POST", path: "/ping", body: { a: 1 }, expect: { status: [204] } }]);
    });

    it("includeDefaults keeps the defaults, and a check with a default's name replaces it", () => {
        const checks = parseChecks({
            includeDefaults: true,
            checks: [
                { name: "db-status", path: "/api/db", expect: { json: [{ path: "ok", equals: true }] } },
                { name: "metrics", path: "/metrics", expect: { bodyContains: "up 1" } },
            ],
        });
        expect(checks.map((c) => `${c.name} ${c.path}`)).toEqual([
            "healthz /healthz",
            "version /api/version",
            "test-action /api/test-action",
            "db-status /api/db",
            "metrics /metrics",
        ]);
    });

    it("reports invalid JSON with the parser's position and the accepted shapes", () => {
        expect(problems(() => parseChecks("[{", "checks.json"))[0]).toMatch(
            /^checks\.json: not valid JSON \(.+\); allowed: a JSON array of checks or .*; fix: correct the JSON syntax$/,
        );
    });

    it("reports every problem of every check in one error", () => {
        const list = problems(() =>
            parseChecks(
                [
                    { name: "ok", path: "/ok" },
                    { name: "ok", path: "/dup" },
                    { name: "bad name!", method: "FETCH", path: "api", tiemout: 5 },
                    { name: "get-body", path: "/x", body: { a: 1 } },
                    { name: "exp", path: "/y", expect: { status: 999, json: [{ path: "" }, { path: "a", type: "text", nonEmpty: "yes" }], extra: 1 } },
                    { name: "hdr", path: "/z", headers: { "Bad Header": "v", Host: "evil", Authorization: 42 } },
                    "not an object",
                ],
                "file.json",
            ),
        );
        const expected = [
            /^file\.json\[1\]\.name: duplicate check name; got "ok"; allowed: names unique within the list; fix: rename one of the checks$/,
            /^file\.json\[2\]\.tiemout: unknown key; allowed: name, method, path, headers, body, expect; fix: remove 'tiemout' or fix its spelling$/,
            /^file\.json\[2\]\.name: missing or invalid name; got "bad name!"; allowed: 1-63 letters/,
            /^file\.json\[2\]\.method: not a supported HTTP method; got "FETCH"; allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; fix: use one of the allowed methods$/,
            /^file\.json\[2\]\.path: missing or invalid path; got "api"; allowed: a path starting with '\/'/,
            /^file\.json\[3\]\.body: a GET request cannot carry a body; allowed: .*; fix: set "method": "POST" or remove "body"$/,
            /^file\.json\[4\]\.expect\.extra: unknown key/,
            /^file\.json\[4\]\.expect\.status: not an HTTP status or list of statuses; got 999; allowed: integers 100-599/,
            /^file\.json\[4\]\.expect\.json\[0\]\.path: must be a dotted path; got ""/,
            /^file\.json\[4\]\.expect\.json\[1\]\.nonEmpty: must be a boolean; got "yes"/,
            /^file\.json\[4\]\.expect\.json\[1\]\.type: not a JSON type; got "text"; allowed: string, number, boolean, object, array, null/,
            /^file\.json\[5\]\.headers\.Bad Header: not a valid header name/,
            /^file\.json\[5\]\.headers\.Host: header is set by the engine/,
            /^file\.json\[5\]\.headers\.Authorization: header value must be a string, not number; allowed: a string; fix: quote the value$/,
            /^file\.json\[6\]: a check must be an object; got "not an object"/,
        ];
        for (const re of expected)
            expect(
                list.some((p) => re.test(p)),
                `${re}\nin:\n${list.join("\n")}`,
            ).toBe(true);
        expect(list).toHaveLength(expected.length);
    });

    it("rejects an empty list and a wrong top-level shape", () => {
        expect(problems(() => parseChecks([]))).toEqual([expect.stringMatching(/^checks: no checks; got \[\]; allowed: at least one check/)]);
        expect(problems(() => parseChecks({ checks: "x", more: 1 }))).toHaveLength(2);
        expect(problems(() => parseChecks(42))[0]).toMatch(/^checks: must be an array of checks or an object with 'checks'; got 42/);
    });

    it("never echoes a header value that failed validation", () => {
        const list = problems(() => parseChecks([{ name: "a", path: "/", headers: { Authorization: "Bearer line1\nline2" } }]));
        expect(list.join("\n")).not.toContain("line1");
    });
});

describe("options and base URL", () => {
    it("applies defaults", () => {
        expect(resolveSmokeOptions()).toEqual({
            timeoutMs: 5000,
            deadlineMs: 120000,
            intervalMs: 1000,
            maxIntervalMs: 5000,
            passIntervalMs: 100,
            consecutivePasses: 3,
            failureLimit: 3,
            maxBodyBytes: 262144,
            maxRedirects: 3,
        });
    });

    it("reports every bad option at once", () => {
        const list = problems(() =>
            resolveSmokeOptions({ timeoutMs: 0, deadlineMs: 1.5, consecutivePasses: 0, intervalMs: 100, maxIntervalMs: 50, caPem: "nope" }),
        );
        expect(list.map((p) => p.split(":")[0])).toEqual(["timeoutMs", "deadlineMs", "consecutivePasses", "caPem", "maxIntervalMs"]);
        expect(list[0]).toBe("timeoutMs: must be an integer from 1 to 3600000 ms; got 0; allowed: 1..3600000; fix: set timeoutMs within range");
    });

    it("rejects a deadline too short for the consecutive passes, which are passIntervalMs apart", () => {
        expect(problems(() => resolveSmokeOptions({ deadlineMs: 150, intervalMs: 1000, consecutivePasses: 3 }))).toEqual([
            "deadlineMs: leaves no time for 3 consecutive passes 100 ms apart; got 150; allowed: more than 200 ms; fix: raise the deadline, or lower consecutivePasses",
        ]);
        expect(resolveSmokeOptions({ deadlineMs: 2000, intervalMs: 1000, consecutivePasses: 3 }).passIntervalMs).toBe(100);
        expect(resolveSmokeOptions({ intervalMs: 40 }).passIntervalMs).toBe(40);
    });

    it("names options as the caller's user knows them, durations in their units", () => {
        const labels = { deadlineMs: "--deadline", timeoutMs: "--timeout", consecutivePasses: "--passes", failureLimit: "--failure-limit" };
        expect(problems(() => resolveSmokeOptions({ timeoutMs: 0, failureLimit: 101 }, labels))).toEqual([
            '--timeout: must be a duration from 1ms to 60m; got "0ms"; allowed: 1ms..60m; fix: set --timeout within range',
            "--failure-limit: must be an integer from 0 to 100; got 101; allowed: 0..100; fix: set --failure-limit within range",
        ]);
        expect(problems(() => resolveSmokeOptions({ deadlineMs: 150, consecutivePasses: 3 }, labels))).toEqual([
            '--deadline: leaves no time for 3 consecutive passes 100ms apart; got "150ms"; allowed: more than 200ms; fix: raise --deadline, or lower --passes',
        ]);
    });

    it("caps the number of checks, so a run cannot outgrow its deadline", () => {
        const many = Array.from({ length: 200_000 }, (_, i) => ({ name: `c${i}`, path: "/" }));
        expect(problems(() => parseChecks(many, "big.json"))).toEqual([
            "big.json: 200000 checks are too many; allowed: at most 100 (each runs concurrently until the deadline); fix: keep the critical paths; test the rest with a load or integration test",
        ]);
        expect(parseChecks(many.slice(0, 100))).toHaveLength(100);
    });

    it("rejects a base URL with credentials, a query, or another scheme", () => {
        expect(problems(() => parseBaseUrl("https://u:p@app.example"))[0]).toMatch(
            /^baseUrl: carries credentials \(user:password@\), which would end up in reports and state; allowed: the URL without them, and the credential as a secret check header/,
        );
        expect(problems(() => parseBaseUrl("https://u:p@app.example"))[0]).not.toContain("u:p");
        expect(problems(() => parseBaseUrl("http://app.example/?a=1"))[0]).toMatch(/has a query or fragment/);
        expect(problems(() => parseBaseUrl("ftp://app.example"))[0]).toMatch(/^baseUrl: "ftp:\/\/app.example" is not an http\(s\) URL; allowed: an http\(s\) URL; fix: /);
        expect(problems(() => parseBaseUrl("app.example"))[0]).toMatch(/^baseUrl: "app.example" is not a URL/);
        expect(parseBaseUrl("http://app.example:8080/prefix").pathname).toBe("/prefix");
    });
});

describe("redaction", () => {
    it("redacts shared header values, credential-like check headers, and the token part of 'Scheme token'", () => {
        const secrets = collectSecrets({ Authorization: "Bearer abc123" }, [
            { name: "a", path: "/", headers: { "X-Session-Id": "s-9", Accept: "text/plain" } },
        ]);
        expect(secrets).toEqual(["Bearer abc123", "abc123", "s-9"]);
        expect(redactDeep({ a: ["echo abc123", "s-9 text/plain"] }, secrets)).toEqual({ a: ["echo [redacted]", "[redacted] text/plain"] });
    });
});

