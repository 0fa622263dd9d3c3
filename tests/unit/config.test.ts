import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { ConfigError, imageProblems, KNOWN_KEYS, parseDurationMs, parseImage, RawConfig, validateConfig } from "../../config/schema";
import { PROJECT_DIR, readStackConfig, readStackRaw } from "../../config/stackFile";

const DIGEST = "sha256:" + "ab".repeat(32);

/** A valid staging config; each test breaks one thing. */
function staging(overrides: Record<string, unknown> = {}, secretKeys = ["DATABASE_URL"]): RawConfig {
    const values: Record<string, unknown> = {
        environment: "staging",
        kubeContext: "staging",
        image: `registry.example.com/web:1.2.3@${DIGEST}`,
        replicas: 3,
        secretEnv: ["DATABASE_URL"],
        DATABASE_URL: "<secret>",
        ...overrides,
    };
    for (const [k, v] of Object.entries(values)) if (v === undefined) delete values[k];
    return { values, secretKeys: new Set(secretKeys) };
}

function problemsOf(raw: RawConfig, stack = "staging"): string[] {
    try {
        validateConfig(raw, stack);
    } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return [...(err as ConfigError).problems];
    }
    return [];
}

describe("validateConfig", () => {
    it("accepts a valid config and applies defaults once", () => {
        const cfg = validateConfig(staging(), "staging");
        expect(cfg.environment).toBe("staging");
        expect(cfg.namespace).toBe("web-staging");
        expect(cfg.app).toMatchObject({ name: "web", port: 8080, replicas: 3, serviceType: "ClusterIP", secretEnv: ["DATABASE_URL"], rolloutTimeoutMs: 600_000 });
        expect(cfg.smoke).toMatchObject({ baseUrl: "http://web.web-staging.svc.cluster.local:8080", timeoutMs: 5000, deadlineMs: 120_000, passes: 3 });
        expect(cfg.network).toEqual({ ingressNamespace: "ingress-nginx", egress: [] });
    });

    it("reports every missing required key in one error, each with the command that sets it", () => {
        const problems = problemsOf({ values: {}, secretKeys: new Set() }, "prod");
        expect(problems).toEqual([
            "env-progression:environment is required and missing. Allowed: dev | staging | prod. Fix: pulumi config set environment prod -s prod",
            "env-progression:image is required and missing. Allowed: an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>. Fix: pulumi config set image registry.example.com/app:1.2.3 -s prod",
            "env-progression:replicas is required and missing. Allowed: an integer from 1 to 1000 for dev. Fix: pulumi config set replicas 1 -s prod",
            'env-progression:kubeContext is required and missing. Allowed: the name of a context in your kubeconfig. Fix: pulumi config set kubeContext <dev-context> -s prod',
        ]);
    });

    it("puts all problems in the error message, not just the first", () => {
        expect(() => validateConfig(staging({ replicas: "two", port: 70000 }), "staging")).toThrow(
            /stack 'staging' has 2 configuration problems:\n {2}- env-progression:port: 70000 is not allowed[^\n]*\n {2}- env-progression:replicas: "two" is not allowed/,
        );
    });

    it.each([
        ["replicas not an integer", { replicas: "2.5" }, 'env-progression:replicas: 2.5 is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging'],
        ["replicas below the environment minimum", { replicas: 1 }, "env-progression:replicas: 1 is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging"],
        ["port out of range", { port: 0 }, "env-progression:port: 0 is not allowed. Allowed: an integer from 1 to 65535. Fix: pulumi config set port 8080 -s staging"],
        ["invalid smoke URL", { smokeBaseUrl: "staging.example.com" }, 'env-progression:smokeBaseUrl: "staging.example.com" is not an http(s) URL. Allowed: e.g. https://app.staging.example.com. Fix: pulumi config set smokeBaseUrl https://<host> -s staging'],
        ["namespace not RFC 1123", { namespace: "Web_Staging" }, 'env-progression:namespace: "Web_Staging" is not a valid namespace name. Allowed: an RFC 1123 label (lower-case letters, digits and \'-\', at most 63 characters, starting and ending alphanumeric). Fix: pulumi config set namespace web-staging -s staging'],
        ["a system namespace", { namespace: "kube-system" }, 'env-progression:namespace: "kube-system" is a system namespace; an environment needs a namespace of its own. Fix: pulumi config set namespace web-staging -s staging'],
        ["a malformed rollout timeout", { rolloutTimeout: "ten minutes" }, 'env-progression:rolloutTimeout: "ten minutes" is not a duration. Allowed: a positive number with ms, s or m (e.g. 5s). Fix: pulumi config set rolloutTimeout 10m -s staging'],
        ["a malformed duration", { smokeTimeout: "5 seconds" }, 'env-progression:smokeTimeout: "5 seconds" is not a duration. Allowed: a positive number with ms, s or m (e.g. 5s). Fix: pulumi config set smokeTimeout 5s -s staging'],
        ["a timeout longer than the deadline", { smokeTimeout: "30s", smokeDeadline: "10s" }, "env-progression:smokeTimeout: 30000ms is longer than smokeDeadline (10000ms); a request could outlive the whole check. Allowed: a timeout shorter than the deadline. Fix: pulumi config set smokeTimeout 5s -s staging"],
        ["a bad egress rule", { egress: ["10.0.0.0/33:5432"] }, 'env-progression:egress: "10.0.0.0/33:5432" is not an egress rule. Allowed: "CIDR", "CIDR:PORT" or "CIDR:PORT/UDP", e.g. "10.20.0.0/16:5432". Fix: pulumi config set --path \'egress[0]\' 10.20.0.0/16:5432 -s staging'],
        ["a non-boolean feature flag", { featureFlags: { newCheckout: "yes" } }, "env-progression:featureFlags.newCheckout: \"yes\" is not a boolean. Allowed: true or false. Fix: pulumi config set --path 'featureFlags.newCheckout' true -s staging"],
        ["a bad service type", { serviceType: "Ingress" }, 'env-progression:serviceType: "Ingress" is not allowed. Allowed: ClusterIP, NodePort, LoadBalancer. Fix: pulumi config set serviceType ClusterIP -s staging'],
        ["a misspelt key", { replica: 3 }, "env-progression:replica is not a key this program reads (a typo is silently ignored otherwise). Allowed: environment, allowStackMismatch, namespace, kubeContext, kubeServer, kubeconfig, appName, image, port, replicas, cpuRequest, cpuLimit, memoryRequest, memoryLimit, env, featureFlags, secretEnv, serviceType, rolloutTimeout, ingressNamespace, egress, smokeBaseUrl, smokeTimeout, smokeDeadline, smokeInterval, smokePasses, smokeChecksFile, smokeCommand, smokeEveryUp, or a secret named in secretEnv. Fix: pulumi config rm replica -s staging (did you mean replicas?)"],
    ])("rejects %s with a clear message", (_case, overrides, message) => {
        expect(problemsOf(staging(overrides))).toEqual([message]);
    });

    describe("environment identity (FAULTS 3)", () => {
        it.each(["prd", "Prod", "qa"])("rejects the unknown environment %j", (env) => {
            const [first] = problemsOf(staging({ environment: env }));
            expect(first).toMatch(new RegExp(`^env-progression:environment: "${env}" is not an environment\\. Allowed: dev, staging, prod \\(lower case\\)\\. Fix: pulumi config set environment \\w+ -s staging$`));
        });

        it("suggests the environment the user probably meant", () => {
            expect(problemsOf(staging({ environment: "Prod" }))[0]).toContain("Fix: pulumi config set environment prod -s staging");
            expect(problemsOf(staging({ environment: "prd" }))[0]).toContain("Fix: pulumi config set environment prod -s staging");
        });

        it("rejects a stack whose name and environment disagree", () => {
            expect(problemsOf(staging(), "prod")).toContain(
                'env-progression:environment: "staging" does not match the stack name "prod". A stack deploys the environment it is named after. Fix: select the stack named "staging", or if this stack is deliberately named otherwise (e.g. a preview stack), pulumi config set allowStackMismatch true -s prod',
            );
        });

        it("allows the mismatch only when explicitly overridden", () => {
            expect(validateConfig(staging({ allowStackMismatch: true }), "staging-pr-42").environment).toBe("staging");
            expect(validateConfig(staging({ allowStackMismatch: "true" }), "staging-pr-42").environment).toBe("staging");
        });
    });

    describe("secrets (FAULTS 6)", () => {
        it("rejects a secret given in plaintext, naming the command that encrypts it", () => {
            expect(problemsOf(staging({ DATABASE_URL: "postgres://u:p@db/app" }, []))).toEqual([
                "env-progression:DATABASE_URL is stored in plaintext in Pulumi.staging.yaml, but it is a secret (listed in secretEnv). Fix: pulumi config set --secret DATABASE_URL <value> -s staging (this encrypts it), and rotate the value: it was readable in the file",
            ]);
        });

        it("reports a missing secret with the command that sets it", () => {
            expect(problemsOf(staging({ DATABASE_URL: undefined }, []))).toEqual([
                "env-progression:DATABASE_URL is a secret the app needs (listed in secretEnv) but is not set for stack 'staging'. Fix: pulumi config set --secret DATABASE_URL <value> -s staging",
            ]);
        });

        it("rejects a secret-looking plain env var", () => {
            expect(problemsOf(staging({ env: { API_TOKEN: "abc" } }))[0]).toMatch(
                /^env-progression:env\.API_TOKEN: looks like a secret but is plain config .* Fix: pulumi config rm --path 'env\.API_TOKEN' -s staging && pulumi config set --secret API_TOKEN <value> -s staging, and add API_TOKEN to secretEnv$/,
            );
        });

        it("rejects an undeclared secret-looking key stored in plaintext", () => {
            expect(problemsOf(staging({ dbPassword: "hunter2" }))).toEqual([
                "env-progression:dbPassword: looks like a secret but is stored in plaintext. Fix: pulumi config set --secret dbPassword <value> -s staging and add it to secretEnv",
            ]);
        });
    });
});

describe("images (FAULTS 13)", () => {
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
    const project = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as { name: string; config: Record<string, { default?: unknown }> };

    it("declares exactly the keys the program reads", () => {
        expect(project.name).toBe("env-progression");
        expect(Object.keys(project.config).sort()).toEqual([...KNOWN_KEYS].sort());
    });

    it("declares the defaults the validator applies", () => {
        const defaults = Object.fromEntries(Object.entries(project.config).filter(([, d]) => d.default !== undefined && d.default !== "").map(([k, d]) => [k, d.default]));
        const cfg = validateConfig(staging(), "staging");
        expect(defaults).toMatchObject({
            appName: cfg.app.name,
            port: cfg.app.port,
            cpuRequest: cfg.app.resources.requests.cpu,
            cpuLimit: cfg.app.resources.limits.cpu,
            memoryRequest: cfg.app.resources.requests.memory,
            memoryLimit: cfg.app.resources.limits.memory,
            serviceType: cfg.app.serviceType,
            ingressNamespace: cfg.network.ingressNamespace,
            smokePasses: cfg.smoke.passes,
            smokeEveryUp: cfg.smoke.runOnEveryUp,
        });
        expect(parseDurationMs(String(defaults["smokeTimeout"]))).toBe(cfg.smoke.timeoutMs);
        expect(parseDurationMs(String(defaults["smokeDeadline"]))).toBe(cfg.smoke.deadlineMs);
        expect(parseDurationMs(String(defaults["smokeInterval"]))).toBe(cfg.smoke.intervalMs);
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

    it("commit no secret values: every secret is left to the environment's operators", () => {
        for (const stack of ENVIRONMENTS) {
            const raw = readStackRaw(stack);
            expect(raw.secretKeys.size).toBe(0);
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

    it("prod runs exactly the image staging runs", () => {
        expect(readStackConfig("prod").app.image).toBe(readStackConfig("staging").app.image);
    });
});
