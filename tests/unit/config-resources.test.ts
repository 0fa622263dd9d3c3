// Resource keys: cpuRequest, cpuLimit, memoryRequest, memoryLimit, as Kubernetes quantities.
import { describe, expect, it } from "vitest";
import { parseQuantity } from "../../config/quantity";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

describe("Kubernetes quantities", () => {
    it.each([
        ["128k", 128_000],
        ["1.5Gi", 1.5 * 2 ** 30],
        [".5", 0.5],
        ["500m", 0.5],
        ["2", 2],
        ["1e3", 1000],
        ["1E3", 1000],
        ["2E", 2e18],
        ["64Mi", 64 * 2 ** 20],
        ["1.", 1],
    ])("%s is %d", (text, value) => {
        expect(parseQuantity(text)).toBeCloseTo(value);
    });

    it.each(["128K", "1.5 Gi", "0x10", "Mi", "", "1.2.3", "12mi", "e3", "1e"])("%j is not a quantity", (text) => {
        expect(parseQuantity(text)).toBeUndefined();
    });
});

describe("requests and limits", () => {
    it("accepts what Kubernetes accepts", () => {
        const cfg = validateConfig(staging({ cpuRequest: ".5", cpuLimit: "1", memoryRequest: "128k", memoryLimit: "1.5Gi" }), "staging");
        expect(cfg.app.resources).toEqual({ requests: { cpu: ".5", memory: "128k" }, limits: { cpu: "1", memory: "1.5Gi" } });
    });

    it("rejects 128K, naming the quantity forms", () => {
        expect(problemsOf(staging({ memoryRequest: "128K" }))).toEqual([
            'env-progression:memoryRequest: "128K" is not a quantity. Allowed: a Kubernetes quantity of bytes, e.g. 128Mi, 1.5Gi, 128k or 1G (suffixes are case-sensitive). Fix: pulumi config set memoryRequest 128Mi -s staging',
        ]);
    });

    it("rejects memory in millibytes, suggesting the Mi that was meant", () => {
        expect(problemsOf(staging({ memoryLimit: "512m" }))).toEqual([
            "env-progression:memoryLimit: \"512m\" is 0.512 bytes, not a whole number of bytes ('m' means milli). Allowed: a Kubernetes quantity of bytes, e.g. 128Mi, 1.5Gi, 128k or 1G (suffixes are case-sensitive). Fix: pulumi config set memoryLimit 512Mi -s staging",
        ]);
    });

    it("rejects a zero or negative quantity", () => {
        expect(problemsOf(staging({ cpuRequest: "0" }))).toEqual(['env-progression:cpuRequest: 0 is not allowed. Allowed: more than 0. Fix: pulumi config set cpuRequest 100m -s staging']);
        expect(problemsOf(staging({ cpuLimit: "-1" }))[0]).toContain("env-progression:cpuLimit: -1 is not allowed. Allowed: more than 0.");
    });

    it("rejects a CPU request above the default limit, with fixes that each resolve it", () => {
        const problems = problemsOf(staging({ cpuRequest: "2" }));
        expect(problems).toEqual([
            'env-progression:cpuRequest: 2 is more than cpuLimit "500m" (the default); the API server refuses a container whose request exceeds its limit. Allowed: a request at most its limit. Fix: pulumi config set cpuLimit 2 -s staging, or pulumi config set cpuRequest 500m -s staging',
        ]);
        expect(problemsOf(staging({ cpuRequest: "2", cpuLimit: "2" }))).toEqual([]);
        expect(problemsOf(staging({ cpuRequest: "500m" }))).toEqual([]);
    });

    it("rejects a memory limit below the default request, naming the key the stack set", () => {
        expect(problemsOf(staging({ memoryLimit: "64Mi" }))).toEqual([
            'env-progression:memoryLimit: "64Mi" is less than memoryRequest "128Mi" (the default); the API server refuses a container whose request exceeds its limit. Allowed: a request at most its limit. Fix: pulumi config set memoryRequest 64Mi -s staging, or pulumi config set memoryLimit 128Mi -s staging',
        ]);
        expect(problemsOf(staging({ memoryLimit: "64Mi", memoryRequest: "64Mi" }))).toEqual([]);
    });

    it("compares across suffixes: 1Gi is more than 1000Mi, 1G is less than 1Gi", () => {
        expect(problemsOf(staging({ memoryRequest: "1Gi", memoryLimit: "1000Mi" }))[0]).toMatch(/^env-progression:memoryRequest: "1Gi" is more than memoryLimit "1000Mi";/);
        expect(problemsOf(staging({ memoryRequest: "1G", memoryLimit: "1Gi" }))).toEqual([]);
        expect(problemsOf(staging({ cpuRequest: "0.5", cpuLimit: "500m" }))).toEqual([]);
    });
});
