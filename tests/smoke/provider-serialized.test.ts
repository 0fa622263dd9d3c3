// The providers' texts, run the way `pulumi-resource-pulumi-nodejs` runs them: the text stored in
// `__provider`, loaded with require-from-string in a plain Node process (no TypeScript loader) from
// another working directory; each loads its compiled bundle in dist/.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestKeyProvider } from "../../components/digestKey";
import { liveSwitchProvider } from "../../components/liveSwitch";
import { migrationProvider } from "../../components/migrationGate";
import { PROVIDER_LOGIC, providerLogicProblem, smokeProvider } from "../../components/smokeTest";
import type { CommandRunOutputs, SmokeRunOutputs } from "../../smoke/provider";
import { commandInputs, providerInputs as inputs, TOKEN } from "./helpers/provider";
import { healthyRoutes, json, REPO, startServer, type TestServer } from "./helpers/servers";

const requireFromString = createRequire(path.join(REPO, "node_modules", "@pulumi", "pulumi", "package.json"))("require-from-string") as (
    code: string,
) => { handler(): Record<string, unknown> };
/** The methods a provider text's handler returns, as the host sees them. */
const methodsOf = (text: string) => Object.keys(requireFromString(text).handler()).sort();

let healthy: TestServer;
let broken: TestServer;
beforeAll(async () => {
    healthy = await startServer(healthyRoutes());
    broken = await startServer({ ...healthyRoutes(), "/api/db-status": (_q, res) => json(res, 200, { connected: false }) });
});
afterAll(async () => {
    await Promise.all([healthy.close(), broken.close()]);
});

describe.concurrent("serialized provider", () => {
    let dir: string;
    let providerText: string;
    beforeAll(() => {
        dir = mkdtempSync(path.join(tmpdir(), "smoke-provider-"));
        // Exactly what the SmokeRun resource stores in `__provider`.
        providerText = smokeProvider;
        writeFileSync(path.join(dir, "provider.js"), providerText);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("captures only the bundle's path: no engine, no undici, no TypeScript loader, no secrets in the serialized text", () => {
        expect(providerText).toContain(JSON.stringify(path.join(REPO, "dist", "provider-smoke.js")));
        expect(providerText).not.toMatch(/tsx/);
        // The checkout's own path may contain any of these words (a worktree named undici).
        expect(providerText.split(REPO).join("<repo>")).not.toMatch(/undici|runSmoke|Authorization/);
        expect(providerText.length).toBeLessThan(4000);
    });

    // The driver mimics the dynamic provider host: require-from-string, `.handler()`, call a method.
    async function inPlainNode(method: "create" | "diff", args: unknown[]): Promise<{ ok: boolean; value: unknown; undiciLoaded: boolean }> {
        const driver = `
            const requireFromString = require(${JSON.stringify(require.resolve("require-from-string", { paths: [path.join(REPO, "node_modules", "@pulumi", "pulumi")] }))});
            const fs = require("node:fs");
            const provider = requireFromString(fs.readFileSync(${JSON.stringify(path.join(dir, "provider.js"))}, "utf8")).handler();
            const undiciLoaded = () => Object.keys(require.cache).some((f) => f.includes("/node_modules/undici/"));
            provider[${JSON.stringify(method)}](...${JSON.stringify(args)}).then(
                (v) => process.stdout.write(JSON.stringify({ ok: true, value: v, undiciLoaded: undiciLoaded() })),
                (e) => process.stdout.write(JSON.stringify({ ok: false, value: { message: e.message, hasId: "id" in e }, undiciLoaded: undiciLoaded() })),
            );`;
        const { stdout } = await promisify(execFile)(process.execPath, ["-e", driver], { cwd: dir, env: { PATH: process.env["PATH"] ?? "" } });
        return JSON.parse(stdout) as { ok: boolean; value: unknown; undiciLoaded: boolean };
    }

    it("create runs in a plain Node process from another directory", async () => {
        const result = await inPlainNode("create", [inputs(healthy.url)]);
        expect(result.ok).toBe(true);
        const { outs } = result.value as { outs: SmokeRunOutputs };
        expect(outs.trigger).toBe("trigger-1");
        expect(outs.results.every((r) => r.passed)).toBe(true);
        expect(result.undiciLoaded).toBe(true);
    });

    it("a failing create there rejects with the report and no id", async () => {
        const result = await inPlainNode("create", [inputs(broken.url)]);
        expect(result.ok).toBe(false);
        const { message, hasId } = result.value as { message: string; hasId: boolean };
        expect(message).toMatch(/FAIL\s+db-status.*\[body\]/);
        expect(message).not.toContain(TOKEN);
        expect(hasId).toBe(false);
    });

    it("command mode runs the shell command there, in the given cwd, and a failure rejects with its status and output, no id", async () => {
        const ok = await inPlainNode("create", [commandInputs('echo "at $SMOKE_BASE_URL in $(pwd)"')]);
        expect(ok.ok).toBe(true);
        expect((ok.value as { outs: CommandRunOutputs }).outs.commandOutput).toBe(`at http://app.test:8080 in ${REPO}\n`);

        const failed = await inPlainNode("create", [commandInputs("echo checking $SMOKE_BASE_URL; exit 3")]);
        expect(failed.ok).toBe(false);
        const { message, hasId } = failed.value as { message: string; hasId: boolean };
        expect(message).toMatch(/`echo checking \$SMOKE_BASE_URL; exit 3` exited with status 3; .*\nchecking http:\/\/app\.test:8080$/s);
        expect(hasId).toBe(false);
    });

    it("rule 1: no read and no delete, which would run the old text in state with its old paths", () => {
        // What the engine would call on refresh and destroy: absent, so it keeps or forgets the state.
        for (const provider of [smokeProvider, migrationProvider, liveSwitchProvider]) expect(methodsOf(provider)).toEqual(["create", "diff", "update"]);
        expect(methodsOf(digestKeyProvider)).toEqual(["create", "diff"]);
    });

    it("rule 2 holds for the live switch and the migration too: their text captures the logic's path, not its code", () => {
        for (const [provider, file, code] of [
            [liveSwitchProvider, path.join(REPO, "dist", "provider-switch.js"), /pointService|awaitEndpoints/],
            [migrationProvider, path.join(REPO, "dist", "provider-migrate.js"), /runMigrationJob|lock_timeout/],
        ] as const) {
            const text = provider;
            expect(text).toContain(JSON.stringify(file));
            expect(text.split(REPO).join("<repo>")).not.toMatch(code);
        }
    });

    it("rule 3: the logic is the compiled bundle the program's build wrote; a missing one is refused up front", () => {
        expect(PROVIDER_LOGIC).toBe(path.join(REPO, "dist", "provider-smoke.js"));
        expect(providerLogicProblem()).toBeUndefined();
        expect(providerLogicProblem(path.join(REPO, "dist", "provider-gone.js"))).toMatch(
            /^the provider's compiled logic .*dist\/provider-gone\.js does not exist, so the serialized provider could not load it\. .*Fix: run the program through it/,
        );
    });

    it("the DigestKey provider runs there too: a fresh 64-hex key per create, and never a change", async () => {
        writeFileSync(path.join(dir, "key.js"), digestKeyProvider);
        const driver = `
            const requireFromString = require(${JSON.stringify(require.resolve("require-from-string", { paths: [path.join(REPO, "node_modules", "@pulumi", "pulumi")] }))});
            const provider = requireFromString(require("node:fs").readFileSync(${JSON.stringify(path.join(dir, "key.js"))}, "utf8")).handler();
            Promise.all([provider.create({}), provider.create({}), provider.diff("digest-key", { key: "a" }, {})]).then((v) => process.stdout.write(JSON.stringify(v)));`;
        const { stdout } = await promisify(execFile)(process.execPath, ["-e", driver], { cwd: dir, env: { PATH: process.env["PATH"] ?? "" } });
        const [a, b, diff] = JSON.parse(stdout) as [{ id: string; outs: { key: string } }, { outs: { key: string } }, unknown];
        expect(a.id).toBe("digest-key");
        expect(a.outs.key).toMatch(/^[0-9a-f]{64}$/);
        expect(b.outs.key).not.toBe(a.outs.key);
        expect(diff).toEqual({ changes: false });
    });

    it("diff runs there too, without loading undici", async () => {
        const result = await inPlainNode("diff", ["id", { trigger: "a", passedAt: "x" }, inputs(healthy.url, { trigger: "b" })]);
        expect(result).toEqual({ ok: true, value: { changes: true, replaces: [] }, undiciLoaded: false });
    });
});
