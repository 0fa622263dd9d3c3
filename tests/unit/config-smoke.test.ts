// Smoke keys: smokeBaseUrl, smokePreviewUrl, smokeTimeout, smokeDeadline, smokeInterval, smokePasses,
// smokeFailureLimit, smokeChecksFile, smokeCommand, smokeEveryUp. Judged by the engine's own limits.
// Also rollbackTo, the release key that holds live traffic on a verified revision.
import { describe, expect, it } from "vitest";
import { parseDurationMs, validateConfig } from "../../config/schema";
import { parseBaseUrl, resolveSmokeOptions, SmokeConfigError } from "../../smoke/checks";
import { deadlineConflictFixes, minimumDeadlineMs, passIntervalMs, SMOKE_LIMITS } from "../../smoke/limits";
import { problemsOf, staging } from "./configFixture";

describe("smokeBaseUrl", () => {
    it("is required, saying why the in-cluster name will not do", () => {
        expect(problemsOf(staging({ smokeBaseUrl: undefined }))).toEqual([
            "env-progression:smokeBaseUrl is required and missing: the checks run where `pulumi up` runs (a laptop, CI, Pulumi Deployments), which cannot resolve the Service's in-cluster name web.web-staging.svc.cluster.local. " +
                "Allowed: an http(s) URL that reaches the app from there, e.g. its ingress URL. Fix: pulumi config set smokeBaseUrl https://<staging host> -s staging",
        ]);
    });

    it.each([
        ["staging.example.com", '"staging.example.com" is not a URL. Allowed: an http(s) URL, e.g. http://127.0.0.1:8080.'],
        ["ftp://staging.example.com", '"ftp://staging.example.com" is not an http(s) URL. Allowed: an http(s) URL.'],
        ["https://staging.example.com/?a=1", "\"https://staging.example.com/?a=1\" has a query or fragment. Allowed: scheme, host, port and path prefix only; a query belongs in a check's path."],
        ["https://u:hunter2@staging.example.com", 'carries credentials (user:password@), which would end up in reports and state. Allowed: the URL without them, and the credential as a secret check header, e.g. "headers": {"Authorization": {"secret": "API_TOKEN"}}.'],
    ])("rejects %j", (url, middle) => {
        const problems = problemsOf(staging({ smokeBaseUrl: url }));
        expect(problems).toEqual([`env-progression:smokeBaseUrl: ${middle} Fix: pulumi config set smokeBaseUrl https://<staging host> -s staging`]);
        expect(problems.join("")).not.toContain("hunter2");
    });

    it.each(["https://staging.example.com", "http://127.0.0.1:8080/prefix", "https://u:p@x.example", "http://x.example/#f", "ftp://x.example", "x.example"])(
        "judges %j as the engine's parseBaseUrl does",
        (url) => {
            const engine = (() => {
                try {
                    parseBaseUrl(url);
                    return true;
                } catch (err) {
                    expect(err).toBeInstanceOf(SmokeConfigError);
                    return false;
                }
            })();
            expect(problemsOf(staging({ smokeBaseUrl: url })).length === 0).toBe(engine);
        },
    );
});

describe("smokePreviewUrl", () => {
    it("is the candidate's route: applied as given, beside the live one", () => {
        expect(validateConfig(staging(), "staging").smoke).toMatchObject({
            previewUrl: "https://preview.staging.web.example.com",
            baseUrl: "https://staging.web.example.com",
        });
    });

    it("is required, naming the preview Service it must reach", () => {
        expect(problemsOf(staging({ smokePreviewUrl: undefined }))).toEqual([
            "env-progression:smokePreviewUrl is required and missing: the checks run against the candidate there, before any live traffic moves to it (the preview Service is web-preview.web-staging.svc.cluster.local). " +
                "Allowed: an http(s) URL that reaches the preview Service, which selects only the candidate revision. Fix: pulumi config set smokePreviewUrl https://<staging preview host> -s staging",
        ]);
    });

    it("is judged as a base URL is", () => {
        const problems = problemsOf(staging({ smokePreviewUrl: "https://u:hunter2@preview.staging.example.com" }));
        expect(problems).toEqual([expect.stringMatching(/^env-progression:smokePreviewUrl: carries credentials .* Fix: pulumi config set smokePreviewUrl https:\/\/<staging preview host> -s staging$/)]);
        expect(problems.join("")).not.toContain("hunter2");
    });

    it.each(["https://staging.web.example.com", "https://STAGING.web.example.com:443"])("refuses %j, the live route: the candidate would be judged on live traffic's route", (url) => {
        expect(problemsOf(staging({ smokePreviewUrl: url }))).toEqual([
            `env-progression:smokePreviewUrl: ${JSON.stringify(url)} is the live route (smokeBaseUrl), so the checks would judge the candidate with live traffic's route. ` +
                "Allowed: the route to the preview Service web-preview. Fix: pulumi config set smokePreviewUrl https://<staging preview host> -s staging",
        ]);
    });

    it("reports a broken smokeBaseUrl once, not again as the preview route's problem", () => {
        expect(problemsOf(staging({ smokeBaseUrl: "staging.web.example.com", smokePreviewUrl: "staging.web.example.com" })).map((p) => p.split(":", 2)[1])).toEqual([
            "smokeBaseUrl",
            "smokePreviewUrl",
        ]);
        expect(problemsOf(staging({ smokeBaseUrl: "staging.web.example.com" })).map((p) => p.split(":", 2)[1])).toEqual(["smokeBaseUrl"]);
    });
});

describe("rollbackTo", () => {
    it("is unset by default, and holds a revision id when set", () => {
        expect(validateConfig(staging(), "staging").release.rollbackTo).toBeUndefined();
        expect(validateConfig(staging({ rollbackTo: "0123456789" }), "staging").release.rollbackTo).toBe("0123456789");
        // Pulumi.yaml's empty default is unset.
        expect(validateConfig(staging({ rollbackTo: "" }), "staging").release.rollbackTo).toBeUndefined();
    });

    it.each(["abcdef012", "0123456789a", "ABCDEF0123", "web-012345"])("refuses %j, which is no revision id", (value) => {
        expect(problemsOf(staging({ rollbackTo: value }))).toEqual([
            `env-progression:rollbackTo: ${JSON.stringify(value)} is not a revision id. Allowed: 10 lowercase hex characters, as in the stack output release.history (pulumi stack output release -s staging). ` +
                "Fix: progression rollback -s staging, or pulumi config rm rollbackTo -s staging",
        ]);
    });
});

describe("smoke timing", () => {
    it("applies the documented defaults", () => {
        expect(validateConfig(staging(), "staging").smoke).toMatchObject({ timeoutMs: 5000, deadlineMs: 120_000, intervalMs: 1000, passes: 3, failureLimit: 3, runOnEveryUp: false });
    });

    it.each([
        ["smokeDeadline", "120m", 'env-progression:smokeDeadline: "120m" is not allowed. Allowed: a duration from 1ms to 60m. Fix: pulumi config set smokeDeadline 120s -s staging'],
        ["smokeInterval", "20m", 'env-progression:smokeInterval: "20m" is not allowed. Allowed: a duration from 1ms to 10m. Fix: pulumi config set smokeInterval 1s -s staging'],
        ["smokeTimeout", "61m", 'env-progression:smokeTimeout: "61m" is not allowed. Allowed: a duration from 1ms to 60m. Fix: pulumi config set smokeTimeout 5s -s staging'],
        ["smokePasses", "101", "env-progression:smokePasses: 101 is not allowed. Allowed: an integer from 1 to 100. Fix: pulumi config set smokePasses 3 -s staging"],
        [
            "smokeFailureLimit",
            "101",
            "env-progression:smokeFailureLimit: 101 is not allowed. Allowed: an integer from 0 to 100 (an assertion failing the same way this many times in a row fails the check at once; 0 waits for the deadline). Fix: pulumi config set smokeFailureLimit 3 -s staging",
        ],
        ["smokeFailureLimit", "-1", expect.stringContaining("env-progression:smokeFailureLimit: -1 is not allowed.")],
        ["smokeTimeout", "5 seconds", 'env-progression:smokeTimeout: "5 seconds" is not a duration. Allowed: a positive number with ms, s or m (e.g. 5s). Fix: pulumi config set smokeTimeout 5s -s staging'],
    ])("rejects %s %j at the edge, in the one report", (key, value, message) => {
        expect(problemsOf(staging({ [key]: value }))).toEqual([message]);
    });

    it("accepts a failure limit of 0, which waits for the deadline", () => {
        expect(validateConfig(staging({ smokeFailureLimit: "0" }), "staging").smoke.failureLimit).toBe(0);
    });

    it("rejects a deadline the consecutive passes, 100 ms apart, cannot fit in, with fixes that resolve it", () => {
        expect(problemsOf(staging({ smokeDeadline: "150ms" }))).toEqual([
            "env-progression:smokeDeadline: 150ms leaves no time for 3 consecutive passes 100ms apart. Allowed: more than (smokePasses - 1) x 100ms = 200ms. Fix: pulumi config set smokeDeadline 1s -s staging, or pulumi config set smokePasses 2 -s staging",
        ]);
        expect(problemsOf(staging({ smokeDeadline: "2s", smokePasses: "30" }))).toEqual([
            "env-progression:smokeDeadline: 2s leaves no time for 30 consecutive passes 100ms apart. Allowed: more than (smokePasses - 1) x 100ms = 2900ms. Fix: pulumi config set smokeDeadline 3s -s staging, or pulumi config set smokePasses 20 -s staging",
        ]);
        // A request timeout longer than the deadline is cut to what is left of it.
        expect(problemsOf(staging({ smokeDeadline: "2s", smokeTimeout: "5s" }))).toEqual([]);
    });

    it("every fix it proposes, applied, is accepted at the edge and by the engine", () => {
        const cases = [
            { smokeDeadline: "150ms" },
            { smokeDeadline: "2s", smokePasses: "30" },
            { smokeDeadline: "1ms", smokePasses: "100" },
            { smokeDeadline: "50ms", smokeInterval: "20ms", smokePasses: "5" },
        ];
        for (const overrides of cases) {
            const [problem] = problemsOf(staging(overrides));
            const fixes = [...(problem ?? "").matchAll(/pulumi config (set|rm) (\w+) ?(\S*) -s staging/g)];
            expect(fixes.length, JSON.stringify(overrides)).toBeGreaterThan(0);
            for (const [, verb, key, value] of fixes) {
                const fixed = staging({ ...overrides, [key!]: verb === "rm" ? undefined : value });
                expect(problemsOf(fixed), `${JSON.stringify(overrides)} + ${key}=${value}`).toEqual([]);
                const s = validateConfig(fixed, "staging").smoke;
                expect(() => resolveSmokeOptions({ timeoutMs: s.timeoutMs, deadlineMs: s.deadlineMs, intervalMs: s.intervalMs, consecutivePasses: s.passes })).not.toThrow();
            }
        }
    });

    it("accepts nothing the engine would refuse later", () => {
        for (const [deadline, timeout, interval, passes] of [
            ["60m", "1m", "10m", "5"],
            ["8s", "5s", "1s", "3"],
            ["201ms", "5s", "1s", "3"],
            ["200ms", "5s", "1s", "3"],
            ["1ms", "1ms", "1ms", "1"],
            ["3s", "2500ms", "50ms", "2"],
            ["2s", "1s", "1s", "12"],
        ] as const) {
            const ok = problemsOf(staging({ smokeDeadline: deadline, smokeTimeout: timeout, smokeInterval: interval, smokePasses: passes })).length === 0;
            const engineOk = (() => {
                try {
                    resolveSmokeOptions({ deadlineMs: parseDurationMs(deadline)!, timeoutMs: parseDurationMs(timeout)!, intervalMs: parseDurationMs(interval)!, consecutivePasses: Number(passes) });
                    return true;
                } catch {
                    return false;
                }
            })();
            expect(ok, `${deadline} ${timeout} ${interval} ${passes}`).toBe(engineOk);
        }
    });

    it("in command mode judges only the deadline's range, and refuses a checks file the command would ignore", () => {
        // staging refuses command mode altogether (config/groups/promotion.ts); only that is reported.
        const refused = expect.stringMatching(/^env-progression:smokeCommand: "\.\/smoke\.sh" replaces the HTTP smoke checks, and staging is verified by the project's standard HTTP checks only/);
        expect(problemsOf(staging({ smokeCommand: "./smoke.sh", smokeDeadline: "2s" }))).toEqual([refused]);
        expect(problemsOf(staging({ smokeCommand: "./smoke.sh", smokeChecksFile: "checks.json" }))).toEqual([
            "env-progression:smokeChecksFile: is set together with smokeCommand, which runs instead of the checks, so the file would be ignored. Allowed: one of them. Fix: pulumi config rm smokeChecksFile -s staging, or pulumi config rm smokeCommand -s staging",
            refused,
        ]);
    });
});

describe("the shared limits (smoke/limits.ts)", () => {
    it("minimumDeadlineMs is just longer than (passes - 1) pauses between passes", () => {
        expect(minimumDeadlineMs({ consecutivePasses: 3, passIntervalMs: passIntervalMs(1000) })).toBe(201);
        // A failure interval shorter than the pass interval shortens that pause too.
        expect(passIntervalMs(40)).toBe(40);
    });

    it("proposes only fixes within the limits that meet the minimum", () => {
        const t = { timeoutMs: 5000, deadlineMs: 2_000, intervalMs: 1000, consecutivePasses: 30 };
        const fixes = deadlineConflictFixes(t);
        expect(fixes).toEqual([
            { setting: "deadlineMs", value: 3_000 },
            { setting: "consecutivePasses", value: 20 },
        ]);
        for (const f of fixes) {
            const fixed = { ...t, [f.setting]: f.value };
            expect(fixed.deadlineMs).toBeGreaterThanOrEqual(minimumDeadlineMs({ ...fixed, passIntervalMs: passIntervalMs(fixed.intervalMs) }));
            expect(f.value).toBeLessThanOrEqual(SMOKE_LIMITS[f.setting].max);
        }
        expect(deadlineConflictFixes({ ...t, deadlineMs: 2_901 })).toEqual([]);
    });
});
