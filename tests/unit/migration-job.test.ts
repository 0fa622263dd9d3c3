// Job mode against a fake API server (plain HTTP on loopback, no credentials): never two
// migrations at once, and every API call bounded in time.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { attemptName, type JobRunInputs, planJob, runMigrationJob } from "../../migrate/job";
import { MigrationFailedError } from "../../migrate/report";

const NS = "web-dev";
const PREFIX = "web-migrate-abc123";
const TRIGGER = "abc123def456";
const LABELS = { "app.kubernetes.io/name": "web", "app.kubernetes.io/component": "migration" };

interface FakeJob {
    metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
    status: { conditions?: { type: string; status: string; reason?: string }[] };
}

/** A Job as the manifest renders it, with the trigger annotation. */
function job(name: string, trigger: string, state: "running" | "complete" | "failed"): FakeJob {
    const conditions = state === "complete" ? [{ type: "Complete", status: "True" }] : state === "failed" ? [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] : [];
    return { metadata: { name, namespace: NS, labels: LABELS, annotations: { "progression.dev/migration-trigger": trigger } }, status: { conditions } };
}

interface Fake {
    readonly jobs: Map<string, FakeJob>;
    readonly requests: string[];
    /** Called on each request before it is answered; return true to leave it unanswered. */
    hang?: (method: string, url: string) => boolean;
    /** Called when a POST creates a Job. */
    onCreate?: (j: FakeJob) => void;
    kubeconfig: string;
    close(): Promise<void>;
}

const servers: Fake[] = [];
afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
});

async function fakeApi(jobs: FakeJob[] = []): Promise<Fake> {
    const fake = { jobs: new Map(jobs.map((j) => [j.metadata.name, j])), requests: [] as string[] } as unknown as Fake;
    const server = http.createServer((req, res) => {
        const url = req.url ?? "";
        fake.requests.push(`${req.method} ${url}`);
        if (fake.hang?.(req.method ?? "", url)) return;
        let body = "";
        req.on("data", (c: Buffer) => (body += c.toString()));
        req.on("end", () => {
            const send = (status: number, value: unknown) => {
                res.writeHead(status, { "content-type": "application/json" });
                res.end(typeof value === "string" ? value : JSON.stringify(value));
            };
            const base = `/apis/batch/v1/namespaces/${NS}/jobs`;
            const path = url.split("?")[0]!;
            if (req.method === "GET" && path === base) return send(200, { items: [...fake.jobs.values()] });
            if (req.method === "POST" && path === base) {
                const obj = JSON.parse(body) as FakeJob;
                if (fake.jobs.has(obj.metadata.name)) return send(409, { kind: "Status", message: `jobs.batch "${obj.metadata.name}" already exists` });
                const created = { ...obj, status: {} };
                fake.jobs.set(obj.metadata.name, created);
                fake.onCreate?.(created);
                return send(201, created);
            }
            if (path.startsWith(`${base}/`)) {
                const j = fake.jobs.get(path.slice(base.length + 1));
                return j ? send(200, j) : send(404, { message: "not found" });
            }
            if (path.endsWith("/pods")) return send(200, { items: [] });
            if (path.endsWith("/events")) return send(200, { items: [] });
            return send(404, { message: `no route ${path}` });
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    fake.kubeconfig = stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${port}` } }],
        users: [{ name: "u", user: {} }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        "current-context": "ctx",
    });
    fake.close = () =>
        new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
        });
    servers.push(fake);
    return fake;
}

function inputs(fake: Fake, over: Partial<JobRunInputs> = {}): JobRunInputs {
    return {
        environment: "dev",
        version: "sha256:v",
        trigger: TRIGGER,
        namespace: NS,
        jobNamePrefix: PREFIX,
        job: JSON.stringify({ apiVersion: "batch/v1", kind: "Job", metadata: { namespace: NS, labels: LABELS, annotations: { "progression.dev/migration-trigger": TRIGGER } }, spec: {} }),
        kubeconfig: fake.kubeconfig,
        context: "ctx",
        lockTimeoutMs: 5000,
        statementTimeoutMs: 60_000,
        deadlineMs: 20_000,
        ...over,
    };
}

const FAST = { pollMs: 20, apiTimeoutMs: 500, controllerGraceMs: 1000 };
const posts = (fake: Fake) => fake.requests.filter((r) => r.startsWith("POST"));

describe("planJob: never two migrations at once", () => {
    const seen = (name: string, trigger: string, state: "running" | "complete" | "failed") => ({ name, trigger, state });
    it("creates attempt 1, then one past the highest attempt seen", () => {
        expect(planJob([], PREFIX, TRIGGER)).toEqual({ action: "create", name: `${PREFIX}-1` });
        expect(planJob([seen(`${PREFIX}-1`, TRIGGER, "failed"), seen(`${PREFIX}-3`, TRIGGER, "failed")], PREFIX, TRIGGER)).toEqual({
            action: "create",
            name: `${PREFIX}-4`,
        });
        expect(attemptName("web-migrate-a.b", [{ name: "web-migrate-axb-9", trigger: undefined, state: "failed" }])).toBe("web-migrate-a.b-1");
    });
    it("adopts a running or completed Job of the same trigger", () => {
        expect(planJob([seen(`${PREFIX}-2`, TRIGGER, "running")], PREFIX, TRIGGER)).toEqual({ action: "adopt", name: `${PREFIX}-2` });
        expect(planJob([seen(`${PREFIX}-1`, TRIGGER, "complete")], PREFIX, TRIGGER)).toEqual({ action: "adopt", name: `${PREFIX}-1` });
    });
    it("waits for a running Job of another trigger, even when one of this trigger completed (the app rolls out after no running migration)", () => {
        const plan = planJob([seen("web-migrate-999999-1", "999999", "running"), seen(`${PREFIX}-1`, TRIGGER, "complete")], PREFIX, TRIGGER);
        expect(plan).toEqual({ action: "wait", name: "web-migrate-999999-1" });
        expect(planJob([seen("web-migrate-999999-1", "999999", "running")], PREFIX, TRIGGER)).toEqual({ action: "wait", name: "web-migrate-999999-1" });
    });
});

describe("runMigrationJob against an API server", () => {
    it("names the first attempt <prefix>-1 and completes with it", async () => {
        const fake = await fakeApi();
        fake.onCreate = (j) => setTimeout(() => (j.status = { conditions: [{ type: "Complete", status: "True" }] }), 100);
        const r = await runMigrationJob(inputs(fake), FAST);
        expect(r.jobName).toBe(`${PREFIX}-1`);
        expect(posts(fake)).toHaveLength(1);
    });

    it("a Job of this trigger left running by a killed up is adopted and waited for: no second Job", async () => {
        const left = job(`${PREFIX}-1`, TRIGGER, "running");
        const fake = await fakeApi([left]);
        setTimeout(() => (left.status = { conditions: [{ type: "Complete", status: "True" }] }), 300);
        const r = await runMigrationJob(inputs(fake), FAST);
        expect(r.jobName).toBe(`${PREFIX}-1`);
        expect(posts(fake)).toEqual([]);
    });

    it("a Job of another trigger still running is waited for before this one is created", async () => {
        const other = job("web-migrate-999999-1", "999999", "running");
        const fake = await fakeApi([other]);
        let otherDoneAt = 0;
        setTimeout(() => {
            other.status = { conditions: [{ type: "Complete", status: "True" }] };
            otherDoneAt = Date.now();
        }, 400);
        let createdAt = 0;
        fake.onCreate = (j) => {
            createdAt = Date.now();
            j.status = { conditions: [{ type: "Complete", status: "True" }] };
        };
        const r = await runMigrationJob(inputs(fake), FAST);
        expect(r.jobName).toBe(`${PREFIX}-1`);
        expect(otherDoneAt).toBeGreaterThan(0);
        expect(createdAt).toBeGreaterThanOrEqual(otherDoneAt);
    });

    it("after a failed attempt, the next is <prefix>-2", async () => {
        const fake = await fakeApi([job(`${PREFIX}-1`, TRIGGER, "failed")]);
        fake.onCreate = (j) => (j.status = { conditions: [{ type: "Complete", status: "True" }] });
        expect((await runMigrationJob(inputs(fake), FAST)).jobName).toBe(`${PREFIX}-2`);
    });

    it("two runners at once make one Job: the one whose create is refused (409) adopts it", async () => {
        const fake = await fakeApi();
        let created: FakeJob | undefined;
        fake.onCreate = (j) => {
            created = j;
            setTimeout(() => (j.status = { conditions: [{ type: "Complete", status: "True" }] }), 300);
        };
        const [a, b] = await Promise.all([runMigrationJob(inputs(fake), FAST), runMigrationJob(inputs(fake), FAST)]);
        expect(created).toBeDefined();
        expect(a.jobName).toBe(`${PREFIX}-1`);
        expect(b.jobName).toBe(`${PREFIX}-1`);
        expect(fake.jobs.size).toBe(1);
    });

    it("an API server that never answers fails the run within the per-call timeout, with the reason", async () => {
        const fake = await fakeApi();
        fake.hang = () => true;
        const started = Date.now();
        const err = await runMigrationJob(inputs(fake), FAST).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(MigrationFailedError);
        expect((err as Error).message).toMatch(/the migration Jobs in web-dev could not be listed \(GET \/apis\/batch\/v1\/namespaces\/web-dev\/jobs: no answer within 500 ms\)/);
        expect(Date.now() - started).toBeLessThan(3000);
    });
});
