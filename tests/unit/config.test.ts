// The one config report: every group's problems together, the committed stack files, and
// Pulumi.yaml in step with what the validator reads. Each group's own rules: config-<group>.test.ts.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES, type EnvironmentName } from "../../config/environments";
import { ROLLOUT_TIMEOUT } from "../../config/groups/app";
import { REVISION_CHARS } from "../../kube/labels";
import { checkConfig, type ConfigError, imageProblems, KNOWN_KEYS, parseDurationMs, parseImage, validateConfig } from "../../config/schema";
import { MIGRATION_DEFAULTS } from "../../config/groups/migration";
import { SMOKE_DEFAULTS } from "../../config/groups/smoke";
import { resolveSmokeOptions } from "../../smoke/checks";
import { formatDuration, SMOKE_DEFAULTS as ENGINE_SMOKE_DEFAULTS } from "../../smoke/limits";
import { PROJECT_DIR, readProject, readStackConfig, readStackRaw } from "../../config/stackFile";
import { DECLARED, DIGEST, problemsOf, staging } from "./configFixture";
import { DEFAULT_MAX_AGE, parseAgeMs } from "../../config/groups/promotion";

describe("validateConfig", () => {
    it("accepts a valid config and applies defaults once", () => {
        const cfg = validateConfig(staging(), "staging");
        expect(cfg.environment).toBe("staging");
        expect(cfg.namespace).toBe("web-staging");
        expect(cfg.app).toMatchObject({ name: "web", port: 8080, replicas: 3, serviceType: "ClusterIP", secretEnv: ["DATABASE_URL"], rolloutTimeoutMs: 600_000 });
        expect(cfg.smoke).toMatchObject({ baseUrl: "https://staging.web.example.com", timeoutMs: 5000, deadlineMs: 120_000, passes: 3 });
        expect(cfg.network).toEqual({ ingressNamespace: "ingress-nginx", egress: [] });
    });

    it("reports every missing required key in one error, each with the command that sets it for this stack's environment", () => {
        const problems = problemsOf({ values: {}, declaredSecrets: DECLARED }, "prod");
        expect(problems).toEqual([
            "env-progression:environment is required and missing. Allowed: dev | staging | prod. Fix: pulumi config set environment prod -s prod",
            "env-progression:image is required and missing. Allowed: an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>. Fix: pulumi config set image registry.example.com/app:1.2.3@sha256:<digest> -s prod",
            "env-progression:replicas is required and missing. Allowed: an integer from 3 to 1000 for prod. Fix: pulumi config set replicas 3 -s prod",
            "env-progression:kubeContext is required and missing. Allowed: the name of a context in your kubeconfig. Fix: pulumi config set kubeContext <prod-context> -s prod",
            "env-progression:smokeBaseUrl is required and missing: the checks run where `pulumi up` runs (a laptop, CI, Pulumi Deployments), which cannot resolve the Service's in-cluster name web.web-prod.svc.cluster.local. Allowed: an http(s) URL that reaches the app from there, e.g. its ingress URL. Fix: pulumi config set smokeBaseUrl https://<prod host> -s prod",
            "env-progression:smokePreviewUrl is required and missing: the checks run against the candidate there, before any live traffic moves to it (the preview Service is web-preview.web-prod.svc.cluster.local). Allowed: an http(s) URL that reaches the preview Service, which selects only the candidate revision. Fix: pulumi config set smokePreviewUrl https://<prod preview host> -s prod",
        ]);
    });

    it("treats the empty default Pulumi.yaml gives a required key as missing", () => {
        expect(problemsOf(staging({ image: "" }))[0]).toMatch(/^env-progression:image is required and missing/);
    });

    it("puts all problems in the error message, not just the first", () => {
        expect(() => validateConfig(staging({ replicas: "two", port: "70000" }), "staging")).toThrow(
            /stack 'staging' has 2 configuration problems:\n {2}- env-progression:port: 70000 is not allowed[^\n]*\n {2}- env-progression:replicas: "two" is not allowed/,
        );
    });

    it("reports problems of every group together", () => {
        const problems = problemsOf(staging({ environment: "qa", cpuRequest: "2", featureFlags: { a: "x" }, egress: [":::/8"], smokeDeadline: "120m", kubeServer: "x" }));
        expect(problems.map((p) => p.split(/[: ]/, 2).join(":"))).toEqual([
            "env-progression:environment",
            "env-progression:cpuRequest",
            "env-progression:featureFlags.a",
            "env-progression:kubeServer",
            "env-progression:egress",
            "env-progression:smokeDeadline",
        ]);
    });

    it("rejects a misspelt key, naming the one meant", () => {
        expect(problemsOf(staging({ replica: "3" }))).toEqual([
            `env-progression:replica is not a key this program reads (a typo is silently ignored otherwise). Allowed: ${KNOWN_KEYS.join(", ")}, or a secret named in secretEnv. Fix: pulumi config rm replica -s staging (did you mean replicas?)`,
        ]);
    });

    it("reads exactly KNOWN_KEYS, so a new group's keys cannot be forgotten there", () => {
        const read = [...checkConfig(staging(), "staging").keysRead].filter((k) => !DECLARED.has(k));
        expect(read.sort()).toEqual([...KNOWN_KEYS].sort());
    });
});

describe("images", () => {
    it("splits name, tag and digest, not mistaking a registry port for a tag", () => {
        expect(parseImage("localhost:5000/web")).toEqual({ name: "localhost:5000/web", tag: undefined, digest: undefined });
        expect(parseImage(`r.io/web:1.2@${DIGEST}`)).toEqual({ name: "r.io/web", tag: "1.2", digest: DIGEST });
    });

    it("lets dev run latest, but not staging or prod", () => {
        expect(imageProblems("web:latest", "dev")).toEqual([]);
        expect(imageProblems("web:latest", "staging")).toEqual(['"web:latest" is tagged latest; staging must run an exact version. Allowed: an explicit version tag or a digest.']);
        expect(imageProblems("web", "staging")).toEqual(['"web" is untagged (which means latest); staging must run an exact version. Allowed: an explicit version tag or a digest.']);
    });

    it("requires a digest in prod", () => {
        expect(imageProblems("web:1.2.3", "prod")).toEqual(['"web:1.2.3" has no digest; prod runs exactly the bytes staging verified. Allowed: name:tag@sha256:<64 hex>.']);
        expect(imageProblems(`web:1.2.3@${DIGEST}`, "prod")).toEqual([]);
        expect(imageProblems("web:1.2.3@sha256:abc", "prod")[0]).toContain("malformed digest");
    });
});

describe("Pulumi.yaml", () => {
    type Decl = { default?: unknown; type?: string; secret?: boolean };
    const project = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, Decl> };
    const settings = Object.entries(project.config).filter(([, d]) => d.secret !== true);
    const secrets = Object.entries(project.config).filter(([, d]) => d.secret === true);

    it("declares exactly the keys the program reads, and the app's secrets", () => {
        expect(project.name).toBe("env-progression");
        expect(settings.map(([k]) => k).sort()).toEqual([...KNOWN_KEYS].sort());
        // The app's secrets, and the project-wide key that signs verified records.
        expect(new Set(secrets.map(([k]) => k))).toEqual(new Set([...DECLARED, "promotionKey"]));
    });

    it("gives every setting a default and no type, so the engine never preempts the one report", () => {
        for (const [key, decl] of settings) {
            expect(decl.default, key).toBeDefined();
            expect(decl.type, key).toBeUndefined();
        }
    });

    it("declares each secret typed and without a default: the engine refuses it in plaintext", () => {
        for (const [key, decl] of secrets) expect(decl, key).toMatchObject({ type: "string" });
        for (const [key, decl] of secrets) expect(decl.default, key).toBeUndefined();
    });

    it("declares the defaults the validator applies", () => {
        const defaults = Object.fromEntries(settings.filter(([, d]) => d.default !== "").map(([k, d]) => [k, d.default]));
        const cfg = validateConfig(staging(), "staging");
        expect(defaults).toEqual({
            allowStackMismatch: false,
            appName: cfg.app.name,
            port: cfg.app.port,
            cpuRequest: cfg.app.resources.requests.cpu,
            cpuLimit: cfg.app.resources.limits.cpu,
            memoryRequest: cfg.app.resources.requests.memory,
            memoryLimit: cfg.app.resources.limits.memory,
            env: cfg.app.env,
            featureFlags: cfg.app.featureFlags,
            secretEnv: [],
            serviceType: cfg.app.serviceType,
            rolloutTimeout: "10m",
            ingressNamespace: cfg.network.ingressNamespace,
            egress: cfg.network.egress,
            smokeTimeout: SMOKE_DEFAULTS.smokeTimeout,
            smokeDeadline: SMOKE_DEFAULTS.smokeDeadline,
            smokeInterval: SMOKE_DEFAULTS.smokeInterval,
            smokePasses: cfg.smoke.passes,
            smokeFailureLimit: cfg.smoke.failureLimit,
            smokeEveryUp: cfg.smoke.runOnEveryUp,
            // Applied when a stack runs migrations (the committed ones do not).
            migrationDeadline: MIGRATION_DEFAULTS.deadline,
            migrationBackoffLimit: MIGRATION_DEFAULTS.backoffLimit,
            migrationSecretEnv: MIGRATION_DEFAULTS.secretEnv,
            migrationJobCommand: [],
            migrationEgress: [],
            promotionMaxAge: DEFAULT_MAX_AGE,
        });
        expect(parseAgeMs(DEFAULT_MAX_AGE)).toBe(cfg.promotion.maxAgeMs);
        expect(parseDurationMs(String(defaults["smokeTimeout"]))).toBe(cfg.smoke.timeoutMs);
        expect(parseDurationMs(String(defaults["smokeDeadline"]))).toBe(cfg.smoke.deadlineMs);
        expect(parseDurationMs(String(defaults["smokeInterval"]))).toBe(cfg.smoke.intervalMs);
    });

    it("states the smoke defaults of the one table the engine, the SmokeTest component and the CLI use", () => {
        const engine = resolveSmokeOptions({});
        const declared = (key: string) => project.config[key]!.default;
        expect({
            timeoutMs: parseDurationMs(String(declared("smokeTimeout"))),
            deadlineMs: parseDurationMs(String(declared("smokeDeadline"))),
            intervalMs: parseDurationMs(String(declared("smokeInterval"))),
            consecutivePasses: declared("smokePasses"),
            failureLimit: declared("smokeFailureLimit"),
        }).toEqual(ENGINE_SMOKE_DEFAULTS);
        expect(engine).toMatchObject(ENGINE_SMOKE_DEFAULTS);
    });

    it("states in its descriptions the numbers of the tables the program judges by", () => {
        const description = (key: string) => String((project.config[key] as { description?: unknown }).description);
        const perEnvironment = (f: (env: EnvironmentName) => string) => ENVIRONMENTS.map((env) => `${env} ${f(env)}`).join(", ");
        const seconds = (ms: number) => `${ms / 1000}s`;
        expect(description("replicas")).toContain(`at least ${ENVIRONMENTS.map((env) => `${ENVIRONMENT_RULES[env].minReplicas} in ${env}`).join(", ")}`);
        expect(description("rolloutTimeout")).toContain(`(${formatDuration(ROLLOUT_TIMEOUT.minMs)} to ${formatDuration(ROLLOUT_TIMEOUT.maxMs)})`);
        expect(description("migrationLockTimeout")).toContain(`(${perEnvironment((env) => seconds(ENVIRONMENT_RULES[env].lockTimeoutMs))})`);
        expect(description("migrationStatementTimeout")).toContain(`(${perEnvironment((env) => seconds(ENVIRONMENT_RULES[env].statementTimeoutMs))})`);
        expect(description("rollbackTo")).toContain(`a ${REVISION_CHARS}-character id`);
    });

    it("its defaults, as the engine passes them (text), validate", () => {
        const values = Object.fromEntries(settings.map(([k, d]) => [k, typeof d.default === "string" ? d.default : JSON.stringify(d.default)]));
        const raw = staging(Object.fromEntries(Object.entries(values).filter(([, v]) => v !== "")));
        expect(problemsOf(raw)).toEqual([]);
    });
});

describe("the committed stack files", () => {
    it.each(ENVIRONMENTS)("Pulumi.%s.yaml validates and meets its environment's rules", (stack) => {
        const cfg = readStackConfig(stack);
        expect(cfg.environment).toBe(stack);
        expect(cfg.app.replicas).toBeGreaterThanOrEqual(ENVIRONMENT_RULES[stack].minReplicas);
        expect(imageProblems(cfg.app.image, stack)).toEqual([]);
    });

    it("run 1, 3 and 50 replicas", () => {
        expect(ENVIRONMENTS.map((s) => readStackConfig(s).app.replicas)).toEqual([1, 3, 50]);
    });

    it("each name a smoke URL that is not the in-cluster Service", () => {
        for (const stack of ENVIRONMENTS) expect(readStackConfig(stack).smoke.baseUrl).toMatch(/^https:\/\/[a-z.]+\.example\.com$/);
    });

    it("commit no secret values: every secret is left to the environment's operators", () => {
        for (const stack of ENVIRONMENTS) {
            const raw = readStackRaw(stack);
            expect(raw.secretKeys?.size).toBe(0);
            const problems = (() => {
                try {
                    readStackConfig(stack, { assumeSecretsSet: false });
                    return [];
                } catch (err) {
                    return [...(err as ConfigError).problems];
                }
            })();
            expect(problems).toEqual([
                `env-progression:DATABASE_URL is a secret the app needs (listed in secretEnv) but is not set for stack '${stack}'. Fix: pulumi config set --secret DATABASE_URL <value> -s ${stack}`,
                `env-progression:API_TOKEN is a secret the app needs (listed in secretEnv) but is not set for stack '${stack}'. Fix: pulumi config set --secret API_TOKEN <value> -s ${stack}`,
            ]);
        }
    });

    it("read as the text written: replicas 0x10 is not 16", () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "stack-file-")), "Pulumi.dev.yaml");
        try {
            fs.writeFileSync(file, fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8").replace("env-progression:replicas: 1", "env-progression:replicas: 0x10"));
            expect(readStackRaw("dev", file).values["replicas"]).toBe("0x10");
            expect(() => readStackConfig("dev", { file })).toThrow(/env-progression:replicas: "0x10" is not allowed/);
        } finally {
            fs.rmSync(path.dirname(file), { recursive: true, force: true });
        }
    });

    it("read again after Pulumi.yaml changes: its parse is kept by text, not by path", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "project-file-"));
        try {
            const project = fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8");
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), project);
            expect(readProject(dir).declaredSecrets).toContain("DATABASE_URL");
            expect(readProject(dir).stackConfigDir).toBe(dir);
            fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `${project}stackConfigDir: stacks\n`.replace(/^( {2}DATABASE_URL:\n {4}type: string\n) {4}secret: true\n/m, "$1"));
            expect(readProject(dir).declaredSecrets).not.toContain("DATABASE_URL");
            expect(readProject(dir).stackConfigDir).toBe(path.join(dir, "stacks"));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("prod runs exactly the image staging runs", () => {
        expect(readStackConfig("prod").app.image).toBe(readStackConfig("staging").app.image);
    });
});
