// The serialized MigrationGate provider in job mode, run the way Pulumi's dynamic provider host
// runs it: in a plain Node process, next to the SmokeTest provider (one process serves every
// dynamic resource of a stack). No cluster is needed: the API server is a closed port, so the
// run must fail with the gate's report, not with a broken module load.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationProvider } from "../../components/migrationGate";
import { smokeProvider } from "../../components/smokeTest";

const REPO = path.resolve(__dirname, "../..");
let tmp: string;
let closedPort: number;

/** A kubeconfig whose API server is a port nothing listens on. */
const kubeconfig = (port: number) =>
    [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{ name: closed, cluster: { server: 'https://127.0.0.1:${port}', insecure-skip-tls-verify: true } }]`,
        "users: [{ name: u, user: { token: not-a-secret } }]",
        "contexts: [{ name: closed, context: { cluster: closed, user: u } }]",
        "current-context: closed",
    ].join("\n");

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "migration-provider-"));
    closedPort = await new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
    for (const [file, provider] of [
        ["migration.js", migrationProvider],
        ["smoke.js", smokeProvider],
    ] as const) {
        fs.writeFileSync(path.join(tmp, file), provider);
    }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("the serialized provider in job mode", () => {
    it("loads its Kubernetes client beside the SmokeTest provider's HTTP client, and reports an unreachable API server", async () => {
        const jobInputs = {
            mode: "job",
            environment: "staging",
            version: "sha256:v",
            trigger: "a".repeat(64),
            namespace: "web-staging",
            jobNamePrefix: "web-migrate-aaaaaa",
            job: JSON.stringify({
                apiVersion: "batch/v1",
                kind: "Job",
                metadata: {},
                spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "migrate", image: "m:1" }] } } },
            }),
            kubeconfig: kubeconfig(closedPort),
            context: "closed",
            lockTimeoutMs: 2000,
            statementTimeoutMs: 30_000,
            deadlineMs: 60_000,
        };
        const requireFromString = require.resolve("require-from-string", { paths: [path.join(REPO, "node_modules", "@pulumi", "pulumi")] });
        // The smoke provider runs its checks first, which loads undici, as when the SmokeTest
        // updates before the gate in the same provider process; the app answers on 127.0.0.1.
        const smokeInputs = {
            trigger: "a",
            checks: JSON.stringify([{ name: "healthz", path: "/healthz" }]),
            timeoutMs: 5000,
            deadlineMs: 10_000,
            intervalMs: 50,
            consecutivePasses: 1,
            runOnEveryUp: false,
        };
        const driver = `
            const load = (f) => require(${JSON.stringify(requireFromString)})(require("node:fs").readFileSync(f, "utf8")).handler();
            const smoke = load(${JSON.stringify(path.join(tmp, "smoke.js"))});
            const migration = load(${JSON.stringify(path.join(tmp, "migration.js"))});
            const app = require("node:http").createServer((_q, res) => res.end("ok"));
            let smokePassed = false;
            app.listen(0, "127.0.0.1", () =>
                smoke.diff("id", { trigger: "a", passedAt: "x" }, { trigger: "b" })
                    .then(() => smoke.create({ ...${JSON.stringify(smokeInputs)}, baseUrl: "http://127.0.0.1:" + app.address().port }))
                    .then(() => { smokePassed = true; app.close(); })
                    .then(() => migration.create(${JSON.stringify(jobInputs)}))
                    .then(
                        () => process.stdout.write(JSON.stringify({ ok: true, smokePassed })),
                        (e) => process.stdout.write(JSON.stringify({ ok: false, smokePassed, name: e.name, message: e.message, hasId: "id" in e })),
                    ));`;
        const { stdout } = await promisify(execFile)(process.execPath, ["-e", driver], { cwd: tmp, env: { PATH: process.env["PATH"] ?? "" } });
        const result = JSON.parse(stdout) as { ok: boolean; smokePassed: boolean; name: string; message: string; hasId: boolean };
        expect(result.smokePassed).toBe(true);
        expect(result.ok).toBe(false);
        expect(result.message).not.toContain("Illegal constructor");
        expect(result.name).toBe("MigrationFailedError");
        expect(result.hasId).toBe(false);
        expect(result.message).toMatch(
            /^migration failed in staging \(version sha256:v…, trigger aaaaaaaaaaaa\): the migration Jobs in web-staging could not be listed \(GET \/apis\/batch\/v1\/namespaces\/web-staging\/jobs: .*ECONNREFUSED.*\)/,
        );
        expect(result.message).toContain("The app was not updated");
    }, 60_000);
});
