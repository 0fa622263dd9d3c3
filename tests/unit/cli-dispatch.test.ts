// `bin/progression` loads its commands with require(), the tests with import(): every command the
// usage text lists must start from the real binary.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_NAMES } from "../../cli/main";

const REPO = path.resolve(__dirname, "../..");
const BIN = path.join(REPO, "bin", "progression");

function progression(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...args], { cwd: REPO, timeout: 30_000 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
        });
    });
}

describe("bin/progression", () => {
    it("lists every command in its usage text", async () => {
        const { code, stdout } = await progression("--help");
        expect(code).toBe(0);
        for (const name of COMMAND_NAMES) expect(stdout).toMatch(new RegExp(`^  ${name}\\b`, "m"));
    });

    it.each(COMMAND_NAMES)("starts '%s' from the binary and prints its help", async (name) => {
        const { code, stdout, stderr } = await progression(name, "--help");
        expect(stderr).toBe("");
        expect(code).toBe(0);
        expect(stdout).toMatch(new RegExp(`progression ${name}`));
    });
});

describe("a command name that is also an Object.prototype member", () => {
    it.each(["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"])("'%s' is an unknown command (exit 2), not a crash", async (name) => {
        const { main } = await import("../../cli/main");
        const writes: string[] = [];
        const write = process.stderr.write.bind(process.stderr);
        process.stderr.write = ((chunk: string) => (writes.push(String(chunk)), true));
        let code: number;
        try {
            code = await main([name]);
        } finally {
            process.stderr.write = write;
        }
        expect(code).toBe(2);
        expect(writes.join("")).toContain(`progression: unknown command '${name}'; expected one of: smoke, netcheck, parity, rollback`);
    });

    it("the binary says so too", async () => {
        const { code, stderr } = await progression("constructor");
        expect(code).toBe(2);
        expect(stderr).toContain("unknown command 'constructor'");
        expect(stderr).not.toContain("unexpected error");
    });
});
