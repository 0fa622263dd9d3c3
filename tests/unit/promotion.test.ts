// Promotion on plain data: the verified record, the digests the smoke trigger is made of, the
// comparison with what upstream verified, the promotion config keys and the commit.
import { describe, expect, it } from "vitest";
import { verifiedSubject } from "../../components/environment";
import { environmentManifests, type KubernetesObject } from "../../components/manifests";
import { promotionSource, validatePromotion } from "../../config/groups/promotion";
import { ConfigReader } from "../../config/reader";
import type { EnvironmentConfig } from "../../config/schema";
import { readStackConfig } from "../../config/stackFile";
import { type Candidate, decidePromotion, promotionOutput, sameImage, type Upstream } from "../../promotion/compare";
import { commitOf } from "../../promotion/commit";
import { canonicalJson, keyedDigest, manifestDigest, smokeTrigger } from "../../promotion/digest";
import { parseVerifiedRecord, type VerifiedRecord, verifiedRecord } from "../../promotion/record";
import { DEFAULT_RULES, parseRules } from "../../promotion/rules";

const KEY = "5a".repeat(32);
const DIGEST_A = "sha256:" + "a".repeat(64);
const DIGEST_B = "sha256:" + "b".repeat(64);
const IMAGE_A = `registry.example.com/web:1.2.3@${DIGEST_A}`;
const IMAGE_B = `registry.example.com/web:1.2.4@${DIGEST_B}`;

function record(overrides: Partial<VerifiedRecord> = {}): VerifiedRecord {
    return {
        ...verifiedRecord({
            subject: {
                environment: "staging",
                image: IMAGE_A,
                manifestDigest: "m".repeat(64),
                featureFlags: { newCheckout: true, searchV2: false },
                commit: "c".repeat(40),
            },
            passedAt: "2026-12-01T10:00:00.000Z",
            trigger: "t".repeat(64),
            checks: ["healthz", "version", "db-status", "test-action"],
        }),
        ...overrides,
    };
}
const upstream = (r: VerifiedRecord = record()): Upstream => ({ source: "organization/env-progression/staging", stack: "staging", record: r });
const candidate = (overrides: Partial<Candidate> = {}): Candidate => ({
    stack: "prod",
    environment: "prod",
    image: IMAGE_A,
    featureFlags: { newCheckout: true, searchV2: false },
    ...overrides,
});
const rules = parseRules(JSON.stringify({ keys: {} }), "parity-rules.json");

describe("the verified record", () => {
    it("has the exact shape promotion reads: format, what ran, digests, flags, checks, when, trigger, commit", () => {
        expect(record()).toEqual({
            format: 1,
            environment: "staging",
            image: IMAGE_A,
            imageDigest: DIGEST_A,
            manifestDigest: "m".repeat(64),
            featureFlags: { newCheckout: true, searchV2: false },
            checks: ["healthz", "version", "db-status", "test-action"],
            passedAt: "2026-12-01T10:00:00.000Z",
            trigger: "t".repeat(64),
            commit: "c".repeat(40),
        });
        expect(record().imageDigest).toBe(DIGEST_A);
        expect(
            verifiedRecord({ subject: { ...record(), image: "registry.example.com/web:1.2.3" }, passedAt: "x", trigger: "y", checks: [] }).imageDigest,
        ).toBeNull();
    });

    it("keeps the migration version field absent until a migration gate sets it, and carries it when set", () => {
        expect(record()).not.toHaveProperty("migrationVersion");
        const withMigration = verifiedRecord({ subject: { ...record(), migrationVersion: "0042_add_orders_index" }, passedAt: "x", trigger: "y", checks: [] });
        expect(withMigration.migrationVersion).toBe("0042_add_orders_index");
    });

    it("reads back what it wrote, and turns anything else into a problem, never a pass", () => {
        expect(parseVerifiedRecord(JSON.parse(JSON.stringify(record())))).toEqual({ record: record() });
        expect(parseVerifiedRecord(undefined)).toEqual({ problem: "it has no verified record" });
        expect(parseVerifiedRecord("sha")).toEqual({ problem: "its verified output is not a record (string)" });
        expect(parseVerifiedRecord({ ...record(), format: 2 })).toEqual({ problem: "its verified record has format 2, and this program reads format 1" });
        expect(parseVerifiedRecord({ ...record(), image: "", featureFlags: { a: "yes" }, environment: "qa" })).toEqual({
            problem: "its verified record is malformed (image, featureFlags, environment)",
        });
    });

    it("the subject of an environment digests everything rendered for it", () => {
        const config = readStackConfig("prod");
        const subject = verifiedSubject(config, null);
        expect(subject).toEqual({
            environment: "prod",
            image: config.app.image,
            manifestDigest: manifestDigest(environmentManifests(config)),
            featureFlags: config.app.featureFlags,
            commit: null,
        });
    });
});

describe("the smoke trigger's digests", () => {
    const base = readStackConfig("staging");
    const withConfig = (change: (c: EnvironmentConfig) => EnvironmentConfig) => manifestDigest(environmentManifests(change(structuredClone(base))));
    const original = manifestDigest(environmentManifests(base));

    it.each<[string, (c: EnvironmentConfig) => EnvironmentConfig]>([
        ["the port", (c) => ({ ...c, app: { ...c.app, port: 9090 } })],
        ["the resources", (c) => ({ ...c, app: { ...c.app, resources: { ...c.app.resources, limits: { ...c.app.resources.limits, memory: "1Gi" } } } })],
        ["the egress", (c) => ({ ...c, network: { ...c.network, egress: [{ cidr: "10.20.0.0/16", port: 5432, protocol: "TCP" }] } })],
        ["the ingress namespace", (c) => ({ ...c, network: { ...c.network, ingressNamespace: "traefik" } })],
        ["the image", (c) => ({ ...c, app: { ...c.app, image: IMAGE_B } })],
        ["a feature flag", (c) => ({ ...c, app: { ...c.app, featureFlags: { ...c.app.featureFlags, searchV2: true } } })],
        ["the replicas", (c) => ({ ...c, app: { ...c.app, replicas: 4 } })],
        ["a secret's name", (c) => ({ ...c, app: { ...c.app, secretEnv: [...c.app.secretEnv, "SMTP_PASSWORD"] } })],
    ])("change with %s", (_what, change) => {
        expect(withConfig(change)).not.toBe(original);
    });

    it("change with the probes: any rendered field, not only config", () => {
        const objects = environmentManifests(base);
        const deployment = objects.find((o) => o.kind === "Deployment") as KubernetesObject & { spec: any };
        const probed = structuredClone(objects);
        const container = (probed.find((o) => o.kind === "Deployment") as any).spec.template.spec.containers[0];
        container.readinessProbe = { ...container.readinessProbe, periodSeconds: 30 };
        expect(deployment.spec.template.spec.containers[0].readinessProbe.periodSeconds).toBe(5);
        expect(manifestDigest(probed)).not.toBe(manifestDigest(objects));
    });

    it("stay the same for the same config, whatever the key order", () => {
        expect(withConfig((c) => c)).toBe(original);
        expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}');
    });

    it("cover the secret values only through a keyed digest: another key, another digest; no plain hash", () => {
        const values = { API_TOKEN: "changeme" };
        const d = keyedDigest(KEY, values);
        expect(d).toMatch(/^[0-9a-f]{64}$/);
        expect(keyedDigest(KEY, { API_TOKEN: "changeme" })).toBe(d);
        expect(keyedDigest("6b".repeat(32), values)).not.toBe(d);
        expect(keyedDigest(KEY, { API_TOKEN: "rotated" })).not.toBe(d);
        // The unkeyed digest an attacker could compute from a guess is not what is published.
        expect(d).not.toBe(manifestDigest([values]));
        expect(() => keyedDigest("short", values)).toThrow(/at least 32 characters/);
        const trigger = smokeTrigger({ manifestDigest: original, secretDigest: d });
        expect(smokeTrigger({ manifestDigest: original, secretDigest: keyedDigest(KEY, { API_TOKEN: "rotated" }) })).not.toBe(trigger);
        expect(smokeTrigger({ manifestDigest: original, secretDigest: d, migrationVersion: "0042" })).not.toBe(trigger);
    });
});

describe("sameImage", () => {
    it.each([
        [IMAGE_A, IMAGE_A, true],
        [IMAGE_A, `mirror.example.com/web:1.2.3@${DIGEST_A}`, true], // the same bytes under another name
        [IMAGE_A, IMAGE_B, false],
        [IMAGE_A, "registry.example.com/web:1.2.3", false], // staging verified by digest; a tag can move
        ["registry.example.com/web:1.2.3", IMAGE_A, true], // dev verified a tag; staging pins it
        ["registry.example.com/web:1.2.3", "registry.example.com/web:1.2.4", false],
        ["registry.example.com/web", "registry.example.com/web:latest", true],
    ])("verified %s, candidate %s -> %s", (verified, cand, same) => {
        expect(sameImage(verified, cand)).toBe(same);
    });
});

describe("decidePromotion", () => {
    it("passes what upstream verified, and says nothing", () => {
        expect(decidePromotion(candidate(), upstream(), rules, undefined)).toEqual({ status: "verified", differences: [], message: "" });
    });

    it("refuses an image upstream did not verify, naming both images, when it passed, and both fixes", () => {
        const d = decidePromotion(candidate({ image: IMAGE_B }), upstream(), rules, undefined);
        expect(d.status).toBe("refused");
        expect(d.differences.map((x) => x.field)).toEqual(["image"]);
        expect(d.message).toBe(
            "prod refuses to deploy what staging has not verified (promotion from organization/env-progression/staging); nothing was created:\n" +
                `  - image: prod would run ${IMAGE_B}, but staging verified ${IMAGE_A} (checks passed 2026-12-01T10:00:00.000Z at commit ${"c".repeat(40)}). ` +
                `Fix: verify it in staging first: pulumi config set image ${IMAGE_B} -s staging && pulumi up -s staging; or deploy what staging verified: pulumi config set image ${IMAGE_A} -s prod\n` +
                "In an emergency only: pulumi config set promotionOverride '<why, and who approved>' -s prod (warned, exported and reported by the policy pack).",
        );
    });

    it("refuses a flag upstream verified on and prod has off, or a flag prod adds, with the parity rules' message", () => {
        const d = decidePromotion(candidate({ featureFlags: { newCheckout: false, searchV2: false, darkMode: true } }), upstream(), rules, undefined);
        expect(d.differences.map((x) => x.message)).toEqual([
            "featureFlags.darkMode must match in staging and prod, but staging (verified) has (unset), prod has true. " +
                `Fix: pulumi config rm --path 'featureFlags.darkMode' -s prod, or allow the difference in parity-rules.json ("featureFlags.darkMode": {"class": "free", "reason": "..."})`,
            "featureFlags.newCheckout must match in staging and prod, but staging (verified) has true, prod has false. " +
                `Fix: pulumi config set --path 'featureFlags.newCheckout' true -s prod, or allow the difference in parity-rules.json ("featureFlags.newCheckout": {"class": "free", "reason": "..."})`,
        ]);
    });

    it("lets a flag differ when the rules file says it may", () => {
        const relaxed = parseRules(
            JSON.stringify({ keys: { "featureFlags.newCheckout": { class: "free", reason: "rolled out in prod first, on purpose" } } }),
            "parity-rules.json",
        );
        expect(decidePromotion(candidate({ featureFlags: { newCheckout: false, searchV2: false } }), upstream(), relaxed, undefined).status).toBe("verified");
    });

    it("compares flags only where the rule applies: staging after dev runs its own flags", () => {
        const fromDev = upstream(record({ environment: "dev", image: "registry.example.com/web:1.2.3", featureFlags: { newCheckout: true, searchV2: true } }));
        const d = decidePromotion(
            candidate({ stack: "staging", environment: "staging", featureFlags: { newCheckout: true, searchV2: false } }),
            fromDev,
            DEFAULT_RULES,
            undefined,
        );
        expect(d).toMatchObject({ status: "verified", differences: [] });
    });

    it("compares the migration version once either side has one", () => {
        const d = decidePromotion(candidate({ migrationVersion: "0043" }), upstream(record({ migrationVersion: "0042" })), rules, undefined);
        expect(d.differences.map((x) => x.field)).toEqual(["migrationVersion"]);
        expect(d.differences[0]!.message).toContain("migrationVersion must match in staging and prod, but staging (verified) has 0042, prod has 0043");
    });

    it("refuses when upstream has no record, saying what to run first", () => {
        const d = decidePromotion(
            candidate(),
            { source: "organization/env-progression/staging", stack: "staging", problem: "it has no verified record" },
            rules,
            undefined,
        );
        expect(d.status).toBe("refused");
        expect(d.differences).toEqual([
            {
                field: "record",
                message:
                    "prod promotes from staging (organization/env-progression/staging), and it has no verified record: nothing proves that what prod is about to run works. " +
                    "Fix: pulumi up -s staging first; prod then deploys what staging's smoke checks verified",
            },
        ]);
    });

    it("lets an override through with a warning naming the reason and everything it let through, exported as the output", () => {
        const reason = "INC-4711: checkout outage hotfix, approved by alice";
        const d = decidePromotion(candidate({ image: IMAGE_B }), upstream(), rules, reason);
        expect(d.status).toBe("overridden");
        expect(d.message).toMatch(
            /^PROMOTION OVERRIDDEN for prod \("INC-4711: checkout outage hotfix, approved by alice"\): deploying what staging did not verify:\n {2}- image: prod would run /,
        );
        expect(d.message).toMatch(/Once staging has verified what prod runs: pulumi config rm promotionOverride -s prod$/);
        expect(promotionOutput(upstream(), d, reason)).toEqual({
            source: "organization/env-progression/staging",
            status: "overridden",
            override: reason,
            overridden: [d.differences[0]!.message],
            checkedAgainst: { passedAt: "2026-12-01T10:00:00.000Z", trigger: "t".repeat(64), image: IMAGE_A },
        });
    });

    it("an override with nothing to override asks to be removed, so none is left in place unnoticed", () => {
        const d = decidePromotion(candidate(), upstream(), rules, "INC-4711: checkout outage hotfix");
        expect(d.status).toBe("verified");
        expect(d.message).toBe(
            'promotionOverride is set ("INC-4711: checkout outage hotfix") but prod runs what staging verified: nothing to override. Fix: pulumi config rm promotionOverride -s prod',
        );
        expect(promotionOutput(upstream(), d, "INC-4711: checkout outage hotfix")).toMatchObject({
            status: "verified",
            override: "INC-4711: checkout outage hotfix",
            overridden: [],
        });
    });
});

describe("the promotion config keys", () => {
    const check = (values: Record<string, unknown>, environment: "dev" | "staging" | "prod" = "prod") => {
        const read = new ConfigReader({ values }, environment);
        const promotion = validatePromotion(read, { stack: environment, environment, environmentKnown: true, appName: "web", namespace: `web-${environment}` });
        return { promotion, problems: read.problems };
    };

    it("accepts a stack name or <org>/<project>/<stack>, and a reason", () => {
        expect(check({ promoteFrom: "acme/env-progression/staging-eu", promotionOverride: "INC-4711: hotfix approved by alice" })).toEqual({
            promotion: { from: "acme/env-progression/staging-eu", override: "INC-4711: hotfix approved by alice" },
            problems: [],
        });
        expect(check({ promoteFrom: "", promotionOverride: "" })).toEqual({ promotion: { from: undefined, override: undefined }, problems: [] });
    });

    it.each([
        [{ promotionOverride: "yes" }, 'env-progression:promotionOverride: "yes" is not a reason.'],
        [{ promotionOverride: "true" }, 'env-progression:promotionOverride: "true" is not a reason.'],
        [
            { promotionOverride: "hotfix" },
            "Allowed: a sentence of at least 12 characters. Fix: pulumi config set promotionOverride 'INC-4711: hotfix for the checkout outage, approved by alice' -s prod",
        ],
        [{ promoteFrom: "env-progression/staging" }, 'env-progression:promoteFrom: "env-progression/staging" is not a stack name.'],
        [{ promoteFrom: "prod" }, 'env-progression:promoteFrom: "prod" is this stack itself'],
        [{ promoteFrom: "organization/env-progression/prod" }, "is this stack itself; a stack cannot verify its own promotion"],
    ])("refuses %j", (values, message) => {
        const { problems } = check(values);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(message);
    });

    it("refuses an override where nothing is promoted", () => {
        expect(check({ promotionOverride: "INC-4711: hotfix approved by alice" }, "dev").problems).toEqual([
            "env-progression:promotionOverride is set, but dev promotes from no stack, so there is nothing to override. Fix: pulumi config rm promotionOverride -s dev",
        ]);
    });

    it("resolves the upstream: the table's, in this organization and project, or promoteFrom", () => {
        const cfg = (environment: "dev" | "staging" | "prod", from?: string) => ({ environment, promotion: { from, override: undefined } });
        expect(promotionSource(cfg("dev"), "organization", "env-progression")).toBeUndefined();
        expect(promotionSource(cfg("staging"), "organization", "env-progression")).toEqual({ name: "organization/env-progression/dev", stack: "dev" });
        expect(promotionSource(cfg("prod"), "acme", "env-progression")).toEqual({ name: "acme/env-progression/staging", stack: "staging" });
        expect(promotionSource(cfg("prod", "staging-eu"), "acme", "env-progression")).toEqual({ name: "acme/env-progression/staging-eu", stack: "staging-eu" });
        expect(promotionSource(cfg("prod", "acme/env-progression/staging-eu"), "acme", "env-progression")).toEqual({
            name: "acme/env-progression/staging-eu",
            stack: "staging-eu",
        });
        expect(promotionSource(cfg("prod", "other/web/staging"), "acme", "env-progression")).toEqual({ name: "other/web/staging", stack: "other/web/staging" });
    });
});

describe("commitOf", () => {
    const SHA = "0123456789abcdef0123456789abcdef01234567";
    const git =
        (head: string | undefined, status = "") =>
        (args: readonly string[]) =>
            args[0] === "rev-parse" ? head : status;

    it("takes GITHUB_SHA, then the checkout's HEAD, marks uncommitted changes, and is null otherwise", () => {
        expect(commitOf({ GITHUB_SHA: SHA.toUpperCase() }, git(undefined))).toBe(SHA);
        expect(commitOf({}, git(`${SHA}\n`))).toBe(SHA);
        expect(commitOf({}, git(`${SHA}\n`, " M index.ts\n"))).toBe(`${SHA}-dirty`);
        expect(commitOf({ GITHUB_SHA: "not-a-sha" }, git(undefined))).toBeNull();
        expect(commitOf({}, git("fatal: not a git repository"))).toBeNull();
    });
});
