// `progression smoke` as a subprocess: exit codes, the text report and --json.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SmokeReport } from "../../smoke";
import { main } from "../../cli/main";
import { closedPort, healthyRoutes, json, makePki, REPO, startServer, type Pki, type TestServer } from "./helpers/servers";

const BIN = path.join(REPO, "bin", "progression");

function progression(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(process.execPath, [BIN, "smoke", ...args], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

// Looser than the engine tests: these runs share the CPU with several tsx start-ups at once.
/** The same dispatcher in this process, for the many usage errors: starting Node each time is slow. */
async function inProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = { stdout: "", stderr: "" };
    const spy = (key: "stdout" | "stderr") => {
        const original = process[key].write.bind(process[key]);
        process[key].write = (chunk: string | Uint8Array) => {
            out[key] += chunk.toString();
            return true;
        };
        return () => {
            process[key].write = original;
        };
    };
    const restore = [spy("stdout"), spy("stderr")];
    try {
        const code = await main(["smoke", ...args]);
        return { code, ...out };
    } finally {
        restore.forEach((r) => r());
    }
}

const FAST = ["--deadline", "3s", "--timeout", "2500ms", "--interval", "50ms", "--passes", "2"];

// Sequential: the subprocess cases start Node and tsx, and five at once starve the other test
// files' servers; the rest run the same dispatcher in this process, which is what they are about.
describe("progression smoke", () => {
    let healthy: TestServer, broken: TestServer, tlsServer: TestServer;
    let pki: Pki;
    let dir: string;
    beforeAll(async () => {
        pki = makePki();
        dir = mkdtempSync(path.join(tmpdir(), "smoke-cli-"));
        [healthy, broken, tlsServer] = await Promise.all([
            startServer(healthyRoutes()),
            startServer({ ...healthyRoutes(), "/api/db-status": (req, res) => json(res, 200, { connected: false, echo: req.headers["authorization"] }) }),
            startServer(healthyRoutes(), pki.valid),
        ]);
    });
    afterAll(async () => {
        await Promise.all([healthy, broken, tlsServer].map((s) => s?.close()));
        pki?.cleanup();
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("exits 0 and prints a PASSED report when every check passes", async () => {
        const { code, stdout, stderr } = await progression(healthy.url, ...FAST);
        expect(code, stdout + stderr).toBe(0);
        expect(stdout).toMatch(/^smoke PASSED: 4 checks against http:\/\/127\.0\.0\.1:\d+\/ in \d+(\.\d+)? m?s\n/);
        expect(stdout.match(/^ {2}PASS /gm)).toHaveLength(4);
    });

    it("exits 1 and names the failing check, its URL, class, expected and seen", async () => {
        const { code, stdout } = await progression(broken.url, ...FAST, "--header", "Authorization: Bearer cli-secret-77");
        expect(code).toBe(1);
        expect(stdout).toMatch(/^smoke FAILED: 1 of 4 checks failed against/);
        expect(stdout).toMatch(new RegExp(`FAIL  db-status +GET +${broken.url.replace(/\./g, "\\.")}/api/db-status  \\[body\\]`));
        expect(stdout).toContain("expected: status 2xx; content-type application/json; JSON connected === true");
        expect(stdout).toContain("seen:     JSON field connected is false, not true");
        expect(stdout).not.toContain("cli-secret-77");
    });

    it("--json prints the report as JSON", async () => {
        const { code, stdout } = await inProcess(broken.url, ...FAST, "--json");
        expect(code).toBe(1);
        const report = JSON.parse(stdout) as SmokeReport;
        expect(report.ok).toBe(false);
        expect(report.settings).toMatchObject({ deadlineMs: 3000, timeoutMs: 2500, intervalMs: 50, consecutivePasses: 2 });
        const db = report.checks.find((c) => c.name === "db-status")!;
        expect(db).toMatchObject({ passed: false, errorClass: "body", url: `${broken.url}/api/db-status`, method: "GET" });
        expect(db.attempts).toBeGreaterThan(1);
        // Ended by the failure limit, not by the deadline.
        expect(db.final).toBe(true);
        expect(report.stoppedBy).toBe("db-status");
    });

    it("exits 1 with class refused when nothing listens", async () => {
        const { code, stdout } = await inProcess(`http://127.0.0.1:${await closedPort()}`, ...FAST, "--deadline", "1200ms");
        expect(code).toBe(1);
        expect(stdout.match(/\[refused\]/g)).toHaveLength(4);
    });

    it("--checks FILE adds to the defaults with includeDefaults", async () => {
        const file = path.join(dir, "extra.json");
        writeFileSync(file, JSON.stringify({ includeDefaults: true, checks: [{ name: "missing-page", path: "/nope", expect: { status: 404 } }] }));
        const { code, stdout } = await inProcess(healthy.url, ...FAST, "--checks", file);
        expect(code).toBe(0);
        expect(stdout).toContain("smoke PASSED: 5 checks");
        expect(stdout).toMatch(/PASS {2}missing-page/);
    });

    it("--ca FILE trusts a custom CA for HTTPS; without it the run fails with class tls", async () => {
        const ca = path.join(dir, "ca.pem");
        writeFileSync(ca, pki.caPem);
        const withCa = await inProcess(tlsServer.url, ...FAST, "--ca", ca);
        expect(withCa.code, withCa.stdout + withCa.stderr).toBe(0);
        const without = await inProcess(tlsServer.url, ...FAST, "--deadline", "1200ms");
        expect(without.code).toBe(1);
        expect(without.stdout).toMatch(/FAIL {2}healthz .* \[tls\]/);
    });

    it("exits 2 on a usage error, message on stderr, nothing on stdout", async () => {
        const { code, stderr, stdout } = await progression("--deadline", "soon", "http://x");
        expect(code).toBe(2);
        expect(stderr).toBe("progression smoke: --deadline 'soon' is not a duration; use a number with ms, s or m (e.g. 500ms, 5s, 2m)\n");
        expect(stdout).toBe("");
    });

    it("exits 2 listing every problem of an invalid checks file", async () => {
        const file = path.join(dir, "bad.json");
        writeFileSync(file, JSON.stringify([{ name: "a", method: "FETCH", path: "/a" }, { name: "b" }]));
        const { code, stderr } = await inProcess(healthy.url, "--checks", file);
        expect(code).toBe(2);
        expect(stderr).toContain(`invalid checks in ${file} (2 problems):`);
        expect(stderr).toContain(
            `${file}[0].method: not a supported HTTP method; got "FETCH"; allowed: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS; fix: use one of the allowed methods`,
        );
        expect(stderr).toContain(`${file}[1].path: missing or invalid path`);
    });

    it.each([
        [[], /^progression smoke: expected exactly one <baseUrl>, got 0; fix: e\.g\. progression smoke http:\/\/127\.0\.0\.1:8080/],
        [["http://a", "http://b"], /expected exactly one <baseUrl>, got 2/],
        [["--bogus", "http://x"], /^progression smoke: Unknown option '--bogus'/],
        [["--passes", "0", "http://x"], /--passes '0' is not a positive integer/],
        [["--timeout", "0", "http://x"], /--timeout: must be a duration from 1ms to 60m; got "0ms"; allowed: 1ms\.\.60m; fix: set --timeout within range/],
        [["--deadline", "150ms", "http://x"], /--deadline: leaves no time for 3 consecutive passes 100ms apart; got "150ms"; allowed: more than 200ms; fix: raise --deadline, or lower --passes/],
        [["--deadline", "2h", "http://x"], /--deadline '2h' is not a duration/],
        [["--failure-limit", "x", "http://x"], /--failure-limit 'x' is not a whole number/],
        [["ftp://x"], /baseUrl: "ftp:\/\/x" is not an http\(s\) URL/],
        [["--checks", "/nonexistent/checks.json", "http://x"], /--checks '\/nonexistent\/checks\.json': cannot read the file \(ENOENT\)/],
        [["--ca", "/nonexistent/ca.pem", "http://x"], /--ca '\/nonexistent\/ca\.pem': cannot read the file \(ENOENT\)/],
        [["--header", "no-colon", "http://x"], /--header expects 'Name: value'/],
    ])("usage error %j exits 2 with the problem and the fix", async (args, message) => {
        const { code, stderr, stdout } = await inProcess(...args);
        expect(code).toBe(2);
        expect(stderr).toMatch(message);
        expect(stdout).toBe("");
    });

    it("a checks file of 200,000 checks is refused with the cap, before any request", async () => {
        const file = path.join(dir, "huge.json");
        writeFileSync(file, JSON.stringify(Array.from({ length: 200_000 }, (_, i) => ({ name: `c${i}`, path: "/healthz" }))));
        const before = healthy.hits.get("/healthz") ?? 0;
        const { code, stderr } = await inProcess(healthy.url, "--checks", file);
        expect(code).toBe(2);
        expect(stderr).toContain(`${file}: 200000 checks are too many; allowed: at most 100`);
        expect(healthy.hits.get("/healthz") ?? 0).toBe(before);
    });

    it("a checks file over 16 MiB is refused without reading it", async () => {
        const file = path.join(dir, "padded.json");
        writeFileSync(file, `[${" ".repeat(16 * 1024 * 1024)}]`);
        const { code, stderr } = await inProcess(healthy.url, "--checks", file);
        expect(code).toBe(2);
        expect(stderr).toMatch(/--checks '.*padded\.json': 16777218 bytes is too large for a checks file; allowed: up to 16777216 bytes/);
    });

    it("--help prints the usage and exits 0", async () => {
        const { code, stdout } = await progression("--help");
        expect(code).toBe(0);
        expect(stdout).toMatch(/^usage: progression smoke <baseUrl> \[options\]/);
        expect(stdout).toContain("exit status: 0 all checks passed, 1 a check failed, 2 usage error");
    });

    it("runs compiled, and loads undici only when checks run: not for --help or a usage error", async () => {
        // bin/progression itself (the compiled dispatcher in dist/cli.js), then which of undici's
        // files the process had loaded when it exited.
        const loaded = async (...args: string[]) => {
            const script = `
                process.argv = [process.execPath, ${JSON.stringify(BIN)}, "smoke", ...${JSON.stringify(args)}];
                process.stdout.write = () => true;
                process.stderr.write = () => true;
                process.on("exit", (code) => {
                    const undici = Object.keys(require.cache).filter((f) => f.includes("/node_modules/undici/")).length;
                    const tsx = Object.keys(require.cache).filter((f) => f.includes("/node_modules/tsx/")).length;
                    require("node:fs").writeSync(1, JSON.stringify({ code, undici, tsx }));
                });
                require(${JSON.stringify(BIN)});`;
            const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { cwd: REPO, timeout: 30_000 }).catch((err: { stdout: string }) => err);
            return JSON.parse(stdout) as { code: number; undici: number; tsx: number };
        };
        // Compiled: no TypeScript loader either.
        expect(await loaded("--help")).toEqual({ code: 0, undici: 0, tsx: 0 });
        expect(await loaded(healthy.url, "--deadline", "0s")).toEqual({ code: 2, undici: 0, tsx: 0 });
        const ran = await loaded(healthy.url, ...FAST);
        expect(ran.code).toBe(0);
        expect(ran.undici).toBeGreaterThan(0);
        expect(ran.tsx).toBe(0);
    });
});
