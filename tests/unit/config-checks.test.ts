// smokeChecksFile at the edge: a header may reference a stack secret, a credential may not be
// written into the (committed) file, and every problem joins the one config report.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readChecksFile, type SecretSource } from "../../config/load";
import { defaultChecks } from "../../smoke";
import { MAX_CHECKS_FILE_BYTES } from "../../smoke/checks";

let dir: string;
beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "checks-file-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const secrets: SecretSource = {
    secretNames: new Set(["API_TOKEN", "DATABASE_URL"]),
    secretValue: (name) => ({ API_TOKEN: "tok-81d2" })[name],
};

function read(doc: unknown, source = secrets) {
    const file = path.join(dir, `c${Math.random().toString(16).slice(2)}.json`);
    fs.writeFileSync(file, typeof doc === "string" ? doc : JSON.stringify(doc));
    return { file: path.basename(file), ...readChecksFile(path.basename(file), "staging", source, dir) };
}

describe("smokeChecksFile", () => {
    it("resolves a header's {secret: NAME} from the stack's secrets", () => {
        const { checks, problems } = read([{ name: "me", path: "/api/me", headers: { Authorization: { secret: "API_TOKEN" }, Accept: "application/json" } }]);
        expect(problems).toEqual([]);
        expect(checks).toEqual([{ name: "me", method: "GET", path: "/api/me", headers: { Authorization: "tok-81d2", Accept: "application/json" } }]);
    });

    it("resolves references in the includeDefaults form too", () => {
        const { checks } = read({ includeDefaults: true, checks: [{ name: "me", path: "/me", headers: { Authorization: { secret: "API_TOKEN" } } }] });
        expect(checks).toHaveLength(defaultChecks.length + 1);
        expect(checks!.at(-1)!.headers).toEqual({ Authorization: "tok-81d2" });
    });

    it("refuses a credential written into the file, without echoing it", () => {
        const { file, problems } = read([{ name: "me", path: "/me", headers: { Authorization: "Bearer hunter2" } }]);
        expect(problems).toEqual([
            `env-progression:smokeChecksFile: ${file}[0].headers.Authorization: a credential written into ${file} is readable by anyone who can read the repository. Allowed: a reference to a stack secret. ` +
                'Fix: pulumi config set --secret API_TOKEN <value> -s staging, declare API_TOKEN secret: true in Pulumi.yaml, and write the header as {"Authorization": {"secret": "API_TOKEN"}}',
        ]);
        expect(problems.join("")).not.toContain("hunter2");
    });

    it("refuses a reference to a key Pulumi.yaml does not declare secret, or one not set", () => {
        const { file, problems } = read([{ name: "me", path: "/me", headers: { Authorization: { secret: "STRIPE_KEY" }, Cookie: { secret: "DATABASE_URL" } } }]);
        expect(problems).toEqual([
            `env-progression:smokeChecksFile: ${file}[0].headers.Authorization: references STRIPE_KEY, which Pulumi.yaml does not declare secret: true, so nothing keeps it encrypted. Fix: add to Pulumi.yaml under config: "STRIPE_KEY: { type: string, secret: true }", then pulumi config set --secret STRIPE_KEY <value> -s staging`,
            `env-progression:smokeChecksFile: ${file}[0].headers.Cookie: references DATABASE_URL, which is not set for stack 'staging'. Fix: pulumi config set --secret DATABASE_URL <value> -s staging`,
        ]);
    });

    it("refuses a secret in a header the reports would not redact", () => {
        const { file, problems } = read([{ name: "me", path: "/me", headers: { "X-Signature": { secret: "API_TOKEN" } } }]);
        expect(problems).toEqual([
            `env-progression:smokeChecksFile: ${file}[0].headers.X-Signature: takes the secret API_TOKEN, but reports redact only headers named like a credential (authorization, cookie, or containing token, secret, password, api-key, session, credential), so a server echoing it back could put it in a report. Fix: send the secret in such a header`,
        ]);
    });

    it("reports the engine's own check problems, each with the fix", () => {
        const { file, problems } = read([{ name: "x", path: "no-slash" }]);
        expect(problems).toEqual([
            `env-progression:smokeChecksFile: ${file}[0].path: missing or invalid path; got "no-slash"; allowed: a path starting with '/', no spaces or '#', e.g. "/api/version"; fix: give the path relative to the base URL. Fix: correct the file, or pulumi config rm smokeChecksFile -s staging to use the default checks`,
        ]);
    });

    it("reports a file that is missing or not JSON", () => {
        expect(readChecksFile("nope.json", "staging", secrets, dir).problems).toEqual([
            "env-progression:smokeChecksFile: nope.json cannot be read (ENOENT). Fix: correct the file, or pulumi config rm smokeChecksFile -s staging to use the default checks",
        ]);
        expect(read("[{").problems[0]).toMatch(/^env-progression:smokeChecksFile: c\w+\.json is not valid JSON \(.+\)\. Fix: correct the file/);
    });

    it("refuses a file larger than the cap before reading it, naming the size, the cap and the fix", () => {
        const big = path.join(dir, "big.json");
        fs.writeFileSync(big, Buffer.alloc(MAX_CHECKS_FILE_BYTES + 1, " "));
        expect(readChecksFile("big.json", "staging", secrets, dir).problems).toEqual([
            `env-progression:smokeChecksFile: big.json is ${MAX_CHECKS_FILE_BYTES + 1} bytes, too large for a checks file. Allowed: at most ${MAX_CHECKS_FILE_BYTES} bytes (100 checks fit in far less). ` +
                "Fix: keep the critical paths in the file, or pulumi config rm smokeChecksFile -s staging to use the default checks",
        ]);
    });

    it("refuses a path that is not a regular file (a FIFO would block the read forever)", () => {
        const fifo = path.join(dir, "fifo.json");
        execFileSync("mkfifo", [fifo]);
        expect(readChecksFile("fifo.json", "staging", secrets, dir).problems).toEqual([
            "env-progression:smokeChecksFile: fifo.json is not a regular file. Allowed: a JSON file of checks. Fix: correct the file, or pulumi config rm smokeChecksFile -s staging to use the default checks",
        ]);
    });
});
