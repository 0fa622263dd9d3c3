// The local cluster's fixed facts, as the TypeScript side (demo, e2e) and the shell side
// (cluster/cluster.sh, cluster/node.sh) each state them: they must agree.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cacheDir, type Cluster, ingressUrl, REAL_NODE, realNodeOverrides, REPO, siblingSalt, workspace } from "../../tests/harness/local";

const clusterSh = fs.readFileSync(path.join(REPO, "cluster", "cluster.sh"), "utf8");
const shellValue = (name: string) => new RegExp(`^${name}=(\\S+)`, "m").exec(clusterSh)?.[1];

describe("the real node's network plan", () => {
    it("is the same in cluster/cluster.sh and tests/harness/local.ts", () => {
        expect(shellValue("NODE_ADDR")).toBe(REAL_NODE.nodeAddress);
        expect(shellValue("POD_CIDR")).toBe(REAL_NODE.podCidr);
        expect(shellValue("SERVICE_CIDR")).toBe(REAL_NODE.serviceCidr);
        expect(shellValue("DNS_SERVICE_IP")).toBe(REAL_NODE.dnsServiceIp);
        expect(`http://${shellValue("INGRESS_SERVICE_IP")}`).toBe(REAL_NODE.ingressUrl);
    });

    it("keeps every address inside 198.18.0.0/15, which nothing else on the machine uses", () => {
        for (const v of [REAL_NODE.nodeAddress, REAL_NODE.podCidr, REAL_NODE.serviceCidr, REAL_NODE.dnsServiceIp, REAL_NODE.ingressUrl]) {
            expect(v).toMatch(/^(http:\/\/)?198\.1[89]\./);
        }
    });
});

describe("local values for the real node", () => {
    const real: Cluster = {
        name: "c",
        kubeconfig: "/k",
        context: "local-c",
        server: "https://198.18.0.1:1",
        mode: "real",
        images: {
            web: "progression.local/web:0.1.0@sha256:" + "a".repeat(64),
            "web-crash": "x",
            "web-wrong-port": "x",
            "web-writes-root": "x",
            tools: "x",
            coredns: "x",
            pause: "x",
        },
    };

    it("send the smoke checks through the ingress proxy to the environment's Service", () => {
        expect(ingressUrl("web-staging")).toBe("http://198.19.0.80/web-staging/web:8080");
        expect(ingressUrl("shop-prod", "api", 9000)).toBe("http://198.19.0.80/shop-prod/api:9000");
    });

    it("run the image the node holds, with requests that fit 2 cores", () => {
        expect(realNodeOverrides(real)).toEqual({ image: real.images!.web, cpuRequest: "10m", memoryRequest: "64Mi" });
        expect(realNodeOverrides(real, "web-crash").image).toBe("x");
    });

    it("refuse a cluster of simulated nodes, which holds no images", () => {
        const { images: _none, ...simulated } = real;
        expect(() => realNodeOverrides({ ...simulated, mode: "simulated" })).toThrow("cluster c runs simulated nodes; it has no images");
    });

    it("find the cluster files where the shell scripts keep them", () => {
        expect(cacheDir({ PROGRESSION_CACHE: "/c" })).toBe("/c");
        expect(cacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" })).toBe("/x/env-progression");
        expect(cacheDir({ HOME: "/h" })).toBe("/h/.cache/env-progression");
    });
});

describe("a new local stack's encryption salt", () => {
    it("is a sibling stack's, so one key serves the stacks that share the passphrase", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "salt-"));
        try {
            const staging = path.join(dir, "Pulumi.staging.yaml");
            expect(siblingSalt(dir, staging)).toBeUndefined();
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), "name: p\n");
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "config: {}\n");
            expect(siblingSalt(dir, staging)).toBeUndefined();
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), "encryptionsalt: v1:c2FsdA==:v1:x:y\nconfig: {}\n");
            expect(siblingSalt(dir, staging)).toBe("v1:c2FsdA==:v1:x:y");
            // Its own file is not a sibling.
            expect(siblingSalt(dir, path.join(dir, "Pulumi.dev.yaml"))).toBeUndefined();
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a workspace's project file", () => {
    it("names the repository as the program and its nodeargs' files by absolute path, so a test may point main elsewhere", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "workspace-"));
        try {
            const ws = workspace(dir);
            const project = parse(fs.readFileSync(path.join(ws.projectDir, "Pulumi.yaml"), "utf8")) as { main: string; runtime: { options: { nodeargs: string } } };
            expect(path.resolve(ws.projectDir, project.main)).toBe(REPO);
            expect(project.runtime.options.nodeargs).toBe(`--require ${path.join(REPO, "build", "cache.js")}`);
            expect(fs.existsSync(path.join(REPO, "build", "cache.js"))).toBe(true);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
