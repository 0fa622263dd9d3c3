// The reference app (app/server.ts) as a background process: its endpoints, failure modes,
// argument errors and shutdown.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO, startApp, type RunningApp } from "./helpers/servers";

async function get(url: string, init?: RequestInit) {
    const res = await fetch(url, init);
    const text = await res.text();
    return {
        status: res.status,
        type: res.headers.get("content-type"),
        allow: res.headers.get("allow"),
        body: text ? (JSON.parse(text) as unknown) : undefined,
    };
}

describe.concurrent("reference app", () => {
    let app: RunningApp;
    beforeAll(async () => {
        app = await startApp(["--version", "2.0.1"]);
    });
    afterAll(async () => {
        await app?.stop();
    });

    it("binds 127.0.0.1 by default and serves the four endpoints as JSON", async () => {
        expect(app.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(await get(`${app.url}/healthz`)).toEqual({ status: 200, type: "application/json; charset=utf-8", allow: null, body: { status: "ok" } });
        expect((await get(`${app.url}/api/version`)).body).toEqual({ name: "app", version: "2.0.1" });
        expect((await get(`${app.url}/api/db-status`)).body).toEqual({ connected: true });
        expect((await get(`${app.url}/nope`)).status).toBe(404);
    });

    it("test-action is POST only, needs a JSON body, and answers success", async () => {
        const post = await get(`${app.url}/api/test-action`, {
            method: "POST",
            body: JSON.stringify({ test: true }),
            headers: { "content-type": "application/json" },
        });
        expect(post.status).toBe(200);
        expect(post.body).toMatchObject({ success: true, received: { test: true } });
        const viaGet = await get(`${app.url}/api/test-action`);
        expect(viaGet).toMatchObject({ status: 405, allow: "POST", body: { success: false, error: "POST only" } });
        expect((await get(`${app.url}/api/test-action`, { method: "POST", body: "not json" })).status).toBe(400);
        expect((await get(`${app.url}/healthz`, { method: "DELETE" })).status).toBe(405);
    });

    it("failure modes: --fail db,action,healthz,version (or FAIL=...)", async () => {
        const broken = await startApp([], { FAIL: "db,action,healthz,version" });
        try {
            expect((await get(`${broken.url}/healthz`)).status).toBe(500);
            expect((await get(`${broken.url}/api/version`)).body).toEqual({ name: "app" });
            expect((await get(`${broken.url}/api/db-status`)).body).toMatchObject({ connected: false });
            expect((await get(`${broken.url}/api/test-action`, { method: "POST", body: "{}" })).body).toMatchObject({ success: false });
        } finally {
            await broken.stop();
        }
    });

    it("--healthy-after answers 503 until then, 200 after", async () => {
        // The delay leaves a loaded machine time for the first request; then /healthz must turn 200.
        const slow = await startApp(["--healthy-after", "3s"]);
        try {
            expect((await get(`${slow.url}/healthz`)).status).toBe(503);
            let status = 503;
            for (const until = Date.now() + 15_000; status === 503 && Date.now() < until; ) {
                await new Promise((r) => setTimeout(r, 200));
                status = (await get(`${slow.url}/healthz`)).status;
            }
            expect(status).toBe(200);
        } finally {
            await slow.stop();
        }
    });

    it("exits 0 on SIGTERM", async () => {
        const other = await startApp();
        expect(await other.stop()).toBe(0);
    });

    it("refuses an unknown failure mode or flag with exit 2 and the allowed values", () => {
        const run = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO, "app", "server.ts"), ...args], { encoding: "utf8", timeout: 20_000 });
        const bad = run("--fail", "disk");
        expect(bad.status).toBe(2);
        expect(bad.stderr).toBe("app: --fail 'disk' is not a failure mode; allowed: db, action, healthz, version\n");
        const flag = run("--prot", "1");
        expect(flag.status).toBe(2);
        expect(flag.stderr).toContain("unknown argument '--prot'");
    });
});
