// The whole program under Pulumi mocks, once per committed stack file: what it registers, with
// which inputs, through which provider, depending on what. Calls nobody mocked fail the test.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENT_RULES, ENVIRONMENTS } from "../../config/environments";
import { REVISION_LABEL } from "../../kube/labels";
import { checksum, configData, CONFIG_CHECKSUM, SECRET_CHECKSUM } from "../../components/app";
import { environmentManifests } from "../../components/manifests";
import { readStackConfig } from "../../config/stackFile";
import { keyedDigest, manifestDigest, smokeTrigger } from "../../promotion/digest";
import { parseVerifiedRecord, type SignedVerifiedRecord } from "../../promotion/record";
import { OWN_READ } from "../../components/promotion";
import { OTHER_KEY, seededRecord, stackConfigWith, TEST_KEY } from "../records";
import {
    committedRecord,
    committedUpstreams,
    DIGEST_KEY,
    isSecret,
    KEY_TYPE,
    of,
    one,
    type Recorded,
    REF_TYPE,
    ROOT,
    runProgram,
    RAN_DIGEST,
    SMOKE_TYPE,
    SWITCH_TYPE,
    unwrap,
    useKubeconfig,
} from "./helpers/program";

const scratch = useKubeconfig();

/**
 * Whether `r` waits for `on`: the engine creates a resource after everything its registration
 * names, and after what its parent components name.
 */
function waitsFor(recorded: Recorded[], r: Recorded, on: Recorded): boolean {
    for (let cur: Recorded | undefined = r; cur; cur = recorded.find((x) => x.urn === cur.parent)) {
        if (cur.dependencies.includes(on.urn!)) return true;
    }
    return false;
}

describe.each(ENVIRONMENTS)("the program on Pulumi.%s.yaml", (stack) => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram(stack);
    }, 60_000);

    it("exports the namespace, service and its in-cluster URL", () => {
        expect(run.outputs).toMatchObject({
            namespace: `web-${stack}`,
            serviceName: "web",
            serviceUrl: `http://web.web-${stack}.svc.cluster.local:8080`,
        });
    });

    it("pins one Kubernetes provider to the stack's own context, with a secret kubeconfig of that context alone", () => {
        const provider = one(run.recorded, "pulumi:providers:kubernetes");
        expect(provider.inputs["context"]).toBe(stack);
        expect(isSecret(provider.inputs["kubeconfig"]), "kubeconfig is a secret in state").toBe(true);
        const kubeconfig = parse(unwrap(provider.inputs["kubeconfig"]));
        expect(kubeconfig.contexts.map((c: { name: string }) => c.name)).toEqual([stack]);
        expect(kubeconfig.clusters).toEqual([{ name: `${stack}-cluster`, cluster: { server: `https://${stack}.k8s.example.com:6443` } }]);
        expect(kubeconfig.users).toEqual([{ name: `${stack}-user`, user: { token: `${stack}-kube-token-3f9a` } }]);
        for (const other of ENVIRONMENTS.filter((e) => e !== stack)) expect(unwrap(provider.inputs["kubeconfig"])).not.toContain(`${other}-kube-token`);
        const k8sObjects = run.recorded.filter((r) => r.type.startsWith("kubernetes:"));
        expect(k8sObjects.length).toBeGreaterThan(0);
        for (const r of k8sObjects) expect(r.provider, `${r.type} ${r.name}`).toMatch(new RegExp(`::${stack}-k8s::`));
    });

    it("labels the namespace with its environment and Pod Security level", () => {
        const labels = one(run.recorded, "kubernetes:core/v1:Namespace").inputs["metadata"].labels;
        expect(labels.environment).toBe(stack);
        expect(labels["pod-security.kubernetes.io/enforce"]).toBe(stack === "dev" ? "baseline" : "restricted");
    });

    it("creates the policies after the namespace, the app after every policy, and the smoke test after the app", () => {
        const namespace = one(run.recorded, "kubernetes:core/v1:Namespace");
        const policies = of(run.recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        const deployment = one(run.recorded, "kubernetes:apps/v1:Deployment");
        const smoke = one(run.recorded, SMOKE_TYPE);
        expect(policies.length).toBeGreaterThan(0);
        for (const p of policies) expect(waitsFor(run.recorded, p, namespace), `${p.name} waits for the namespace`).toBe(true);
        for (const p of policies) expect(waitsFor(run.recorded, deployment, p), `the Deployment waits for ${p.name}`).toBe(true);
        for (const dep of ["kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Secret"]) expect(waitsFor(run.recorded, deployment, one(run.recorded, dep)), dep).toBe(true);
        expect(waitsFor(run.recorded, smoke, deployment), "the smoke run waits for the Deployment").toBe(true);
        // And never the other way round.
        expect(waitsFor(run.recorded, namespace, policies[0]!)).toBe(false);
        expect(waitsFor(run.recorded, policies[0]!, deployment)).toBe(false);
    });

    it("deploys the configured replicas, a checksum of its config, and a PDB only when replicated", () => {
        const cfg = readStackConfig(stack);
        const deployment = one(run.recorded, "kubernetes:apps/v1:Deployment").inputs;
        expect(deployment.spec.replicas).toBe({ dev: 1, staging: 3, prod: 50 }[stack]);
        expect(deployment.spec.template.metadata.annotations[CONFIG_CHECKSUM]).toBe(checksum(configData(cfg.app)));
        expect(of(run.recorded, "kubernetes:policy/v1:PodDisruptionBudget")).toHaveLength(stack === "dev" ? 0 : 1);
    });

    it("stores feature flags in the ConfigMap and secrets only in the Secret", () => {
        const cm = one(run.recorded, "kubernetes:core/v1:ConfigMap").inputs;
        expect(cm.data).toEqual(configData(readStackConfig(stack).app));
        expect(JSON.stringify(cm)).not.toContain(`${stack}-token`);
        const secret = one(run.recorded, "kubernetes:core/v1:Secret").inputs;
        expect(isSecret(secret.stringData), "stringData is a secret in state").toBe(true);
        expect(secret.stringData.value).toEqual({ DATABASE_URL: `postgres://app:${stack}-pw@db.${stack}:5432/app`, API_TOKEN: `${stack}-token` });
    });

    it("rolls the pods on a secret change with a keyed digest that reveals nothing without the stack's key", () => {
        const values = { DATABASE_URL: `postgres://app:${stack}-pw@db.${stack}:5432/app`, API_TOKEN: `${stack}-token` };
        const annotation = one(run.recorded, "kubernetes:apps/v1:Deployment").inputs.spec.template.metadata.annotations[SECRET_CHECKSUM];
        expect(annotation).toBe(keyedDigest(DIGEST_KEY, values));
        const sorted = Object.fromEntries(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
        expect(annotation).toBe(crypto.createHmac("sha256", DIGEST_KEY).update(JSON.stringify(sorted)).digest("hex"));
        expect(annotation).not.toBe(checksum(values));
        const key = one(run.recorded, KEY_TYPE);
        expect(key.inputs).toEqual(expect.objectContaining({ __provider: expect.any(String) }));
        // The serialized provider captures nothing of the program: no path, no secret.
        expect(key.inputs["__provider"]).not.toContain(ROOT);
        expect(key.inputs["__provider"]).not.toContain(`${stack}-token`);
    });

    it("hands the smoke run the stack's secret values to redact, kept secret in state", () => {
        const redact = one(run.recorded, SMOKE_TYPE).inputs["redact"];
        expect(isSecret(redact), "redact is a secret in state").toBe(true);
        expect(redact.value).toHaveLength(2);
        expect(redact.value).toEqual(expect.arrayContaining([`${stack}-token`, `postgres://app:${stack}-pw@db.${stack}:5432/app`]));
    });

    it("registers the isolation policies in the environment's namespace", () => {
        const policies = of(run.recorded, "kubernetes:networking.k8s.io/v1:NetworkPolicy");
        expect(policies.map((p) => p.inputs["metadata"].name).sort()).toEqual(["allow-dns", "allow-ingress-controller", "allow-same-environment", "default-deny"]);
        for (const p of policies) expect(p.inputs["metadata"].namespace).toBe(`web-${stack}`);
    });

    it("checks the candidate on its preview route, never on the live one", () => {
        const smoke = one(run.recorded, SMOKE_TYPE);
        const cfg = readStackConfig(stack);
        expect(smoke.inputs["baseUrl"]).toBe(cfg.smoke.previewUrl);
        expect(smoke.inputs["baseUrl"]).not.toBe(cfg.smoke.baseUrl);
        expect(typeof smoke.inputs["trigger"]).toBe("string");
    });

    it("orders candidate, checks, live switch: live traffic moves only after the checks", () => {
        const deployment = one(run.recorded, "kubernetes:apps/v1:Deployment");
        const smoke = one(run.recorded, SMOKE_TYPE);
        const live = one(run.recorded, SWITCH_TYPE);
        const revision = deployment.inputs.metadata.labels[REVISION_LABEL] as string;
        expect(waitsFor(run.recorded, smoke, deployment), "the checks wait for the candidate").toBe(true);
        expect(waitsFor(run.recorded, live, smoke), "the switch waits for the checks").toBe(true);
        expect(waitsFor(run.recorded, smoke, live), "the checks never wait for the switch").toBe(false);
        expect(live.inputs["revision"]).toBe(revision);
        // The switch scales the revision it replaces down to the environment's warm count.
        expect(live.inputs["warmReplicas"]).toBe(ENVIRONMENT_RULES[stack].warmReplicas);
        expect(unwrap(live.inputs["check"]).baseUrl).toBe(readStackConfig(stack).smoke.baseUrl);
    });

    it("runs the candidate as a revision of its own beside the live one, selected only by the preview Service", () => {
        const deployment = one(run.recorded, "kubernetes:apps/v1:Deployment");
        const revision = deployment.inputs.metadata.labels[REVISION_LABEL] as string;
        expect(deployment.inputs.metadata.name).toBe(`web-${revision}`);
        expect(deployment.inputs.spec.selector.matchLabels[REVISION_LABEL]).toBe(revision);
        // Kept when the next candidate replaces it: the switch decides when it goes.
        expect(deployment.retainOnDelete).toBe(true);
        const services = of(run.recorded, "kubernetes:core/v1:Service");
        const preview = services.find((s) => s.inputs.metadata.name === "web-preview")!;
        const live = services.find((s) => s.inputs.metadata.name === "web")!;
        expect(preview.inputs.spec.selector[REVISION_LABEL]).toBe(revision);
        expect(live.inputs.spec.selector, "the live switch owns the live Service's selector").toBeUndefined();
    });

    it("records as verified only what went live, with the digest its pods ran", () => {
        expect(run.outputs.release).toMatchObject({ live: one(run.recorded, SWITCH_TYPE).inputs["revision"], ranDigest: RAN_DIGEST });
    });

    it("applies exactly the objects the render produced, secret values aside", () => {
        const cfg = readStackConfig(stack);
        const sc = one(run.recorded, "kubernetes:apps/v1:Deployment").inputs.spec.template.metadata.annotations[SECRET_CHECKSUM] as string;
        const rendered = environmentManifests(cfg, sc);
        const applied = run.recorded.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:providers") && r.type !== "pulumi:providers:kubernetes");
        expect(applied.length).toBe(rendered.length);
        for (const r of applied) {
            const [, group, kind] = /^kubernetes:([^:]*):(.*)$/.exec(r.type)!;
            const match = rendered.find((o) => o.kind === kind && o.metadata.name === r.inputs.metadata.name && `${o.apiVersion.includes("/") ? o.apiVersion : `core/${o.apiVersion}`}` === group);
            expect(match, `${r.type} ${String(r.inputs.metadata.name)} was rendered`).toBeDefined();
            const inputs = { ...r.inputs, ...(kind === "Secret" ? { stringData: match!["stringData"] } : {}) };
            expect(inputs, `${kind} ${String(r.inputs.metadata.name)} is applied as rendered`).toEqual(JSON.parse(JSON.stringify(match)));
        }
    });
});

describe("a new stack's first preview", () => {
    // What the engine sends for a value not known yet at preview.
    const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

    it("knows every app field that does not depend on the revision, so the policy pack can judge it", async () => {
        const recorded: Recorded[] = [];
        await runProgram("prod", {}, recorded, { preview: true }).catch(() => undefined);
        const deployment = one(recorded, "kubernetes:apps/v1:Deployment").inputs;
        const container = deployment.spec.template.spec.containers[0];
        expect(container.image).toBe(readStackConfig("prod").app.image);
        expect(deployment.spec.replicas).toBe(50);
        expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(container.readinessProbe.httpGet.path).toBe("/healthz");
        // The revision needs the stack's key, which a first preview does not have yet.
        expect(deployment.metadata.name).toBe(UNKNOWN);
        const live = of(recorded, "kubernetes:core/v1:Service").find((s) => s.inputs.metadata.name === "web")!;
        expect(live.inputs.spec).toEqual({ type: "ClusterIP", ports: [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }] });
        expect(one(recorded, "kubernetes:policy/v1:PodDisruptionBudget").inputs.spec.maxUnavailable).toBe("10%");
    }, 60_000);
});

describe("the secret checksum", () => {
    const annotationOf = (r: Awaited<ReturnType<typeof runProgram>>) => one(r.recorded, "kubernetes:apps/v1:Deployment").inputs.spec.template.metadata.annotations[SECRET_CHECKSUM];

    it("changes with a secret, and is stable for the same secrets and key", async () => {
        const a = await runProgram("dev");
        const b = await runProgram("dev", { API_TOKEN: "rotated" });
        const again = await runProgram("dev");
        expect(annotationOf(b)).not.toBe(annotationOf(a));
        expect(annotationOf(again)).toBe(annotationOf(a));
    }, 60_000);

    it("differs between stacks' keys for the same values", async () => {
        const a = await runProgram("dev", {}, [], { digestKey: "01".repeat(32) });
        const b = await runProgram("dev", {}, [], { digestKey: "02".repeat(32) });
        expect(annotationOf(a)).not.toBe(annotationOf(b));
    }, 60_000);
});

describe("the smoke trigger", () => {
    it("changes when a feature flag changes, so the checks run again", async () => {
        const a = await runProgram("staging");
        const b = await runProgram("staging", { featureFlags: { newCheckout: true, searchV2: true } });
        const trigger = (r: typeof a) => one(r.recorded, SMOKE_TYPE).inputs["trigger"];
        expect(trigger(b)).not.toBe(trigger(a));
        const again = await runProgram("staging");
        expect(trigger(again)).toBe(trigger(a));
    }, 60_000);
});

describe("check headers", () => {
    it("resolve a {secret: NAME} reference from the stack's secrets and stay secret in state", async () => {
        const file = path.join(scratch(), "checks.json");
        fs.writeFileSync(file, JSON.stringify([{ name: "me", path: "/api/me", headers: { Authorization: { secret: "API_TOKEN" }, Accept: "application/json" } }]));
        const run = await runProgram("dev", { smokeChecksFile: file });
        const checks = one(run.recorded, SMOKE_TYPE).inputs["checks"];
        expect(isSecret(checks), "checks with headers are a secret in state").toBe(true);
        expect(JSON.parse(unwrap(checks))).toEqual([{ name: "me", method: "GET", path: "/api/me", headers: { Authorization: "dev-token", Accept: "application/json" } }]);
    }, 60_000);

    it("keep checks without headers readable, so their diff stays visible", async () => {
        const file = path.join(scratch(), "plain-checks.json");
        fs.writeFileSync(file, JSON.stringify([{ name: "h", path: "/healthz" }]));
        const run = await runProgram("dev", { smokeChecksFile: file });
        expect(isSecret(one(run.recorded, SMOKE_TYPE).inputs["checks"])).toBe(false);
    }, 60_000);
});

describe("the program's edge", () => {
    it("refuses to register anything when the config is wrong, reporting all problems at once", async () => {
        await expect(runProgram("prod", { replicas: 1, image: "ghcr.io/env-progression/web:latest" })).rejects.toThrow(
            /stack 'prod' has 2 configuration problems:\n {2}- env-progression:image: "ghcr.io\/env-progression\/web:latest" is tagged latest[^\n]*\n {2}- env-progression:replicas: 1 is not allowed/,
        );
    });

    it("registers nothing at all when the config is wrong", async () => {
        const recorded: Recorded[] = [];
        await expect(runProgram("staging", { replicas: 0 }, recorded)).rejects.toThrow(/replicas: 0 is not allowed/);
        expect(recorded).toEqual([]);
    });

    it("puts a checks file's problems in the same report", async () => {
        const file = path.join(scratch(), "leaky-checks.json");
        fs.writeFileSync(file, JSON.stringify([{ name: "me", path: "/api/me", headers: { Authorization: "Bearer hunter2" } }]));
        const recorded: Recorded[] = [];
        const err = await runProgram("staging", { replicas: 0, smokeChecksFile: file }, recorded).then(
            () => "accepted",
            (e: Error) => e.message,
        );
        expect(err).toMatch(/has 2 configuration problems:\n {2}- env-progression:replicas: 0 is not allowed[^\n]*\n {2}- env-progression:smokeChecksFile: .*headers\.Authorization: a credential written into/);
        expect(err).not.toContain("hunter2");
        expect(recorded).toEqual([]);
    });

    it("refuses a prod stack pointed at the dev context before creating anything", async () => {
        const recorded: Recorded[] = [];
        await expect(runProgram("prod", { kubeContext: "dev", kubeServer: "" }, recorded)).rejects.toThrow(
            /pointed at context "dev" \(cluster "dev-cluster"\), which is named for dev\. Refusing before creating anything/,
        );
        expect(recorded).toEqual([]);
    });

    describe("with the engine's project directory", () => {
        const project = (stackText: string) => {
            const dir = fs.mkdtempSync(path.join(scratch(), "project-"));
            fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
            fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stackText);
            return dir;
        };

        it("validates a setting as the stack file writes it: replicas 0x10 is not 16", async () => {
            const root = project(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8").replace("env-progression:replicas: 1", "env-progression:replicas: 0x10"));
            // The engine reads YAML first and passes "16".
            await expect(runProgram("dev", { replicas: "16" }, [], { root })).rejects.toThrow(/env-progression:replicas: "0x10" is not allowed/);
        });

        it("says plainly that a setting stored as a secret cannot stay secret", async () => {
            const root = project(`${fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")}  env-progression:smokeCommand:\n    secure: v1:abc\n`);
            await expect(runProgram("dev", { smokeCommand: "./smoke.sh" }, [], { root })).rejects.toThrow(/env-progression:smokeCommand is stored as a secret, but it is a setting/);
        });

        it("accepts the committed stack file as it is", async () => {
            const root = project(fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
            await expect(runProgram("dev", {}, [], { root })).resolves.toBeDefined();
        });
    });
});

describe("promotion, checked before anything is registered", () => {
    const STAGING = "organization/env-progression/staging";
    const prodImage = readStackConfig("prod").app.image;
    const unverified = "ghcr.io/env-progression/web:1.4.3@sha256:" + "9".repeat(64);
    const registeredBesidesTheReference = (recorded: Recorded[]) => recorded.filter((r) => r.type !== REF_TYPE).map((r) => `${r.type} ${r.name}`);

    it("exports the signed verified record from the smoke run's outputs, its history, and the record it was let through by", async () => {
        const run = await runProgram("prod");
        const config = readStackConfig("prod");
        const smoke = one(run.recorded, SMOKE_TYPE).inputs;
        const staging = committedUpstreams()[STAGING]!["verified"] as SignedVerifiedRecord;
        expect(run.outputs.verified).toEqual({
            format: 2,
            environment: "prod",
            project: "env-progression",
            image: prodImage,
            imageDigest: prodImage.slice(prodImage.indexOf("@") + 1),
            ranDigest: RAN_DIGEST,
            // The digest of what was applied: the render under the stack's own secret checksum.
            manifestDigest: manifestDigest(
                environmentManifests(config, one(run.recorded, "kubernetes:apps/v1:Deployment").inputs.spec.template.metadata.annotations[SECRET_CHECKSUM]),
            ),
            featureFlags: { newCheckout: true, searchV2: false },
            env: { LOG_LEVEL: "info" },
            migrationImage: null,
            migrationCommand: null,
            migrationJobCommand: null,
            verification: { mode: "http", checksDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), passes: 3 },
            checks: ["healthz"],
            passedAt: "2026-01-01T00:00:00Z",
            trigger: smoke["trigger"],
            // The revision that went live: the candidate the switch was handed.
            revision: one(run.recorded, SWITCH_TYPE).inputs["revision"],
            commit: expect.stringMatching(/^[0-9a-f]{40}(-dirty)?$/),
            actor: expect.any(String),
            runUrl: null,
            signature: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
        });
        // Signed with the project's key: it reads back as a record, and as nothing under another key.
        expect(parseVerifiedRecord(run.outputs.verified, TEST_KEY)).toEqual({ record: run.outputs.verified });
        expect(parseVerifiedRecord(run.outputs.verified, OTHER_KEY).problem).toMatch(/signature does not match/);
        expect(run.outputs.verified).not.toHaveProperty("migrationVersion");
        expect(run.outputs.verifiedHistory).toEqual([run.outputs.verified]);
        expect(run.outputs.promotion).toEqual({
            source: STAGING,
            status: "verified",
            override: null,
            overridden: [],
            checkedAgainst: {
                origin: "staging",
                environment: "staging",
                passedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
                trigger: staging.trigger,
                image: prodImage,
                ranDigest: prodImage.slice(prodImage.indexOf("@") + 1),
                revision: "staging-revision",
                commit: "c".repeat(40),
                actor: "seed",
                runUrl: null,
            },
        });
    }, 30_000);

    it("the trigger is the rendered manifests' digest and a keyed digest of the secret values, the same digest the record carries", async () => {
        const run = await runProgram("staging");
        const trigger = one(run.recorded, SMOKE_TYPE).inputs["trigger"];
        const secrets = { DATABASE_URL: "postgres://app:staging-pw@db.staging:5432/app", API_TOKEN: "staging-token" };
        expect(trigger).toBe(smokeTrigger({ manifestDigest: run.outputs.verified.manifestDigest, secretDigest: keyedDigest(DIGEST_KEY, secrets) }));
        // The key comes from the stack's DigestKey, a secret in state, so the trigger is no plain hash of the secrets.
        expect(one(run.recorded, KEY_TYPE).name).toBe("staging-digest-key");
        const changedSecret = await runProgram("staging", { API_TOKEN: "rotated-token" });
        expect(one(changedSecret.recorded, SMOKE_TYPE).inputs["trigger"]).not.toBe(trigger);
        const changedEgress = await runProgram("staging", { egress: ["10.20.0.0/16:5432"] });
        expect(one(changedEgress.recorded, SMOKE_TYPE).inputs["trigger"]).not.toBe(trigger);
    }, 60_000);

    it("refuses an image staging never verified, naming both and the fixes, and registers nothing but the reference", async () => {
        const recorded: Recorded[] = [];
        const err = await runProgram("prod", { image: unverified }, recorded).then(() => undefined, (e: unknown) => e as Error);
        expect(err?.message).toContain(`prod refuses to deploy what staging has not verified (promotion from ${STAGING}); nothing was created:`);
        expect(err?.message).toContain(`image: prod would run ${unverified}, but staging's pods ran ${prodImage} (it verified ${prodImage}, checks passed `);
        expect(err?.message).toContain(`Fix: deploy what staging ran: pulumi config set image ${prodImage} -s prod; or verify it in staging first: pulumi config set image ${unverified} -s staging && pulumi up -s staging`);
        expect(registeredBesidesTheReference(recorded)).toEqual([]);
        // The upstream's outputs through a StackReference; its own through the engine's read, which a torn checkpoint cannot fail.
        expect(recorded.filter((r) => r.type === REF_TYPE).map((r) => r.inputs["name"])).toEqual([STAGING]);
    });

    it("goes back to an image of prod's own verifiedHistory though its first reads meet its checkpoint half written; says so when every read does", async () => {
        const own = "organization/env-progression/prod";
        const earlier = seededRecord(stackConfigWith("prod", { image: unverified }), TEST_KEY, {
            passedAt: new Date(Date.now() - 3600_000).toISOString(),
            ranDigest: unverified.slice(unverified.indexOf("@") + 1),
        });
        const upstreams = { ...committedUpstreams(), [own]: { verified: committedRecord("prod"), verifiedHistory: [committedRecord("prod"), earlier] } };
        const run = await runProgram("prod", { image: unverified }, [], { upstreams, tornOwnReads: OWN_READ.attempts - 1 });
        expect(run.outputs.promotion).toMatchObject({ status: "verified", checkedAgainst: { origin: "prod's own verifiedHistory[1]", environment: "prod" } });
        const recorded: Recorded[] = [];
        const err = await runProgram("prod", { image: unverified }, recorded, { upstreams, tornOwnReads: OWN_READ.attempts }).then(() => undefined, (e: unknown) => e as Error);
        expect(err?.message).toContain(`prod refuses to deploy what staging has not verified`);
        expect(err?.message).toContain(`(prod's own verifiedHistory was not checked: it cannot be read (`);
        expect(err?.message).toContain(`failed to load checkpoint: EOF`);
        expect(registeredBesidesTheReference(recorded)).toEqual([]);
    }, 30_000);

    it("refuses a flag that is on in what staging verified and off in prod, by the parity rules", async () => {
        const recorded: Recorded[] = [];
        await expect(runProgram("prod", { featureFlags: { newCheckout: false, searchV2: false } }, recorded)).rejects.toThrow(
            "featureFlags.newCheckout must match in staging and prod, but staging (verified) has true, prod has false (staging rehearses prod: a flag on in staging and off in prod ships a path nobody tested). " +
                "Fix: pulumi config set --path 'featureFlags.newCheckout' true -s prod, or allow the difference in parity-rules.json",
        );
        expect(registeredBesidesTheReference(recorded)).toEqual([]);
    });

    it("lets staging run flags dev does not: dev is outside the must-match rule", async () => {
        const run = await runProgram("staging");
        expect(run.outputs.promotion).toMatchObject({ source: "organization/env-progression/dev", status: "verified" });
    }, 30_000);

    it("refuses when upstream has no verified record, or does not exist, saying what to run first", async () => {
        await expect(runProgram("prod", {}, [], { upstreams: { [STAGING]: { namespace: "web-staging" } } })).rejects.toThrow(
            `prod promotes from staging (${STAGING}), and it has no verified record: nothing proves that what prod is about to run works. Fix: pulumi up -s staging first`,
        );
        const recorded: Recorded[] = [];
        await expect(runProgram("prod", {}, recorded, { upstreams: {} })).rejects.toThrow(
            `prod promotes from staging (${STAGING}), and it does not exist in this backend (create it first: pulumi stack init staging, and set its config): ` +
                "nothing proves that what prod is about to run works. Fix: pulumi up -s staging first",
        );
        // Not even the reference: its failed read would fail the update with the engine's bare error.
        expect(recorded).toEqual([]);
        await expect(runProgram("prod", {}, [], { upstreams: { [STAGING]: { verified: { format: 0, image: prodImage } } } })).rejects.toThrow(
            "its verified record is not signed (it was written by an older version of this program, or by hand)",
        );
    });

    it("lets an override through for its one digest, warned and exported with its reason and what it let through", async () => {
        const override = {
            reason: "INC-4711: checkout outage hotfix, approved by alice",
            digest: unverified.slice(unverified.indexOf("@") + 1),
            expires: new Date(Date.now() + 24 * 3600_000).toISOString(),
        };
        const run = await runProgram("prod", { image: unverified, promotionOverride: override });
        expect(run.outputs.promotion).toMatchObject({ source: STAGING, status: "overridden", override });
        expect(run.outputs.promotion.overridden).toEqual([expect.stringContaining(`image: prod would run ${unverified}, but staging's pods ran ${prodImage}`)]);
        expect(one(run.recorded, "kubernetes:apps/v1:Deployment").inputs.spec.template.spec.containers[0].image).toBe(unverified);
    }, 30_000);

    it("reads the stack promoteFrom names instead of the table's", async () => {
        const other = "acme/env-progression/staging-eu";
        const recorded: Recorded[] = [];
        const run = await runProgram("prod", { promoteFrom: other }, recorded, { upstreams: { [other]: { verified: committedRecord("staging") } } });
        expect(recorded.filter((r) => r.type === REF_TYPE).map((r) => r.inputs["name"])).toEqual([other]);
        expect(run.outputs.promotion).toMatchObject({ source: other, status: "verified" });
    }, 30_000);

    it("dev promotes from nothing: no reference is read", async () => {
        const run = await runProgram("dev");
        // Its own last outputs are read through the engine's builtin, not a StackReference.
        expect(of(run.recorded, REF_TYPE)).toEqual([]);
        expect(run.outputs.promotion).toEqual({ source: null, status: "not-applicable", override: null, overridden: [], checkedAgainst: null });
    }, 30_000);
});
