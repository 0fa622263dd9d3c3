// Promotion on plain data: the signed verified record, the digests the smoke trigger is made
// of, the decision (which record vouches for what a stack is about to run, and why not), the
// promotion config keys and the provenance. The clock is injected; records are signed with a
// test key, and forged ones are refused before anything else is compared.
import { describe, expect, it } from "vitest";
import { environmentManifests, type KubernetesObject } from "../../components/manifests";
import { instantOf, parseAgeMs, promotionSource, validatePromotion } from "../../config/groups/promotion";
import { promotionKeyProblem } from "../../config/load";
import { ConfigReader } from "../../config/reader";
import type { EnvironmentConfig } from "../../config/schema";
import { readStackConfig } from "../../config/stackFile";
import { type Candidate, decidePromotion, MAX_OVERRIDE_MS, type Override, promotionOutput, type PromotionInput, type RecordSource } from "../../promotion/compare";
import { actorOf, commitOf, provenanceOf, runUrlOf } from "../../promotion/commit";
import { canonicalJson, keyedDigest, manifestDigest, smokeTrigger } from "../../promotion/digest";
import { parseVerifiedRecord, signRecord, type VerifiedRecord, verifiedRecord, type VerifiedSubject } from "../../promotion/record";
import { DEFAULT_RULES, parseRules } from "../../promotion/rules";
import { checksDefinition, NO_PROVENANCE, verificationOf, verifiedSubject } from "../../components/verifiedSubject";
import { defaultChecks } from "../../smoke/checks";
import { OTHER_KEY, seededRecord, TEST_KEY } from "../records";

const KEY = "5a".repeat(32);
const DIGEST_A = "sha256:" + "a".repeat(64);
const DIGEST_B = "sha256:" + "b".repeat(64);
const IMAGE_B = `registry.example.com/web:1.2.4@${DIGEST_B}`;
const NOW = new Date("2026-12-07T12:00:00.000Z");
const DAY = 24 * 3600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

const stagingConfig = readStackConfig("staging");
const prodConfig = readStackConfig("prod");
const devConfig = readStackConfig("dev");
const VERIFIED = prodConfig.app.image; // the committed staging and prod pin the same image
const RAN = VERIFIED.slice(VERIFIED.indexOf("@") + 1);
const TAG = VERIFIED.slice(0, VERIFIED.indexOf("@"));
const STAGING = "organization/env-progression/staging";

/** What staging's committed config exports once its checks passed a day ago, signed with the project's key. */
const stagingRecord = (changes: Partial<VerifiedRecord> = {}, key = TEST_KEY) => seededRecord(stagingConfig, key, { passedAt: ago(DAY), ...changes });
const candidate = (changes: Partial<Candidate> = {}): Candidate => ({ stack: "prod", ...verifiedSubject(prodConfig, NO_PROVENANCE), ...changes });
const upstream = (verified: unknown = stagingRecord(), history?: unknown): RecordSource => ({ source: STAGING, stack: "staging", verified, ...(history ? { history } : {}) });
const rules = parseRules(JSON.stringify({ keys: {} }), "parity-rules.json");
const input = (changes: Partial<PromotionInput> = {}): PromotionInput => ({
    candidate: candidate(),
    upstreamEnvironment: "staging",
    upstream: upstream(),
    rules,
    key: TEST_KEY,
    maxAgeMs: 30 * DAY,
    now: NOW,
    ...changes,
});
const decide = (changes: Partial<PromotionInput> = {}) => decidePromotion(input(changes));
const HEAD = "prod refuses to deploy what staging has not verified (promotion from organization/env-progression/staging); nothing was created:\n";
const OVERRIDE_HINT =
    "In an emergency only, for one image digest: pulumi config set --path promotionOverride.reason '<why, and who approved>' -s prod && " +
    "pulumi config set --path promotionOverride.digest <sha256:...> -s prod && pulumi config set --path promotionOverride.expires <ISO time within 7 days> -s prod " +
    "(warned, exported and reported by the policy pack).";

describe("the verified record", () => {
    it("has the exact shape promotion reads: what ran, how it was verified, when, and who", () => {
        const r = stagingRecord();
        expect(r).toEqual({
            format: 2,
            environment: "staging",
            project: "env-progression",
            image: VERIFIED,
            imageDigest: RAN,
            ranDigest: RAN,
            manifestDigest: manifestDigest(environmentManifests(stagingConfig)),
            featureFlags: { newCheckout: true, searchV2: false },
            env: { LOG_LEVEL: "info" },
            migrationImage: null,
            migrationCommand: null,
            migrationJobCommand: null,
            verification: { mode: "http", checksDigest: verificationOf(stagingConfig).checksDigest, passes: 3 },
            checks: ["healthz", "version", "db-status", "test-action"],
            passedAt: ago(DAY),
            trigger: "staging-trigger",
            revision: "staging-revision",
            commit: "c".repeat(40),
            actor: "seed",
            runUrl: null,
            signature: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
        });
        const tag = verifiedRecord({ subject: verifiedSubject(devConfig, NO_PROVENANCE), passedAt: "x", trigger: "y", checks: [], ranDigest: null, revision: "r" });
        expect(tag.imageDigest).toBeNull();
        expect(tag).not.toHaveProperty("migrationVersion");
    });

    it("reads back what it signed, under the same key only", () => {
        const r = stagingRecord();
        expect(parseVerifiedRecord(JSON.parse(JSON.stringify(r)), TEST_KEY)).toEqual({ record: r });
        expect(parseVerifiedRecord(r, OTHER_KEY).problem).toContain("signature does not match its content under this stack's promotionKey");
        // Signing again replaces the signature; it never signs its own signature.
        expect(signRecord(r, TEST_KEY)).toEqual(r);
        expect(() => signRecord(r, "short")).toThrow(/at least 32 characters/);
    });

    it("turns anything else into a problem, never a pass, and checks the signature before any field", () => {
        expect(parseVerifiedRecord(undefined, TEST_KEY)).toEqual({ problem: "it has no verified record" });
        expect(parseVerifiedRecord("sha", TEST_KEY)).toEqual({ problem: "its verified output is not a record (string)" });
        // A format-1 record (unsigned) or any hand-made object: unsigned.
        expect(parseVerifiedRecord({ format: 1, image: VERIFIED }, TEST_KEY)).toEqual({
            problem: "its verified record is not signed (it was written by an older version of this program, or by hand)",
        });
        // A malformed record that is signed (a bug, never an attacker without the key) is still refused.
        const { signature: _s, ...unsigned } = stagingRecord();
        const malformed = signRecord({ ...unsigned, image: "", featureFlags: { a: "yes" }, environment: "qa", ranDigest: "sha256:short" } as unknown as VerifiedRecord, TEST_KEY);
        expect(parseVerifiedRecord(malformed, TEST_KEY)).toEqual({ problem: "its verified record is malformed (image, environment, featureFlags, ranDigest)" });
        expect(parseVerifiedRecord(signRecord({ ...unsigned, format: 3 } as unknown as VerifiedRecord, TEST_KEY), TEST_KEY)).toEqual({
            problem: "its verified record has format 3, and this program reads format 2",
        });
    });

    it("never fails on a subject from an older program: the record is refused as malformed, naming how to run the checks again", () => {
        const old = { environment: "staging", image: VERIFIED, manifestDigest: "m".repeat(64), featureFlags: {}, commit: null } as unknown as VerifiedSubject;
        const r = signRecord(verifiedRecord({ subject: old, passedAt: ago(DAY), trigger: "t", checks: ["healthz"], ranDigest: RAN, revision: "r" }), TEST_KEY);
        expect(parseVerifiedRecord(r, TEST_KEY)).toEqual({ problem: "its verified record is malformed (project, verification)" });
        expect(decide({ upstream: upstream(r) }).differences[0]!.message).toContain(
            "Fix: run staging's checks again with this program, so they record what it compares: pulumi config set smokeEveryUp true -s staging && pulumi up -s staging",
        );
    });

});

describe("the subject and how it is verified", () => {
    it("the subject of an environment: everything that decides what runs, and the checks' definition", () => {
        const provenance = { commit: "d".repeat(40), actor: "alice", runUrl: "https://github.com/o/r/actions/runs/1" };
        expect(verifiedSubject(prodConfig, provenance)).toEqual({
            environment: "prod",
            project: "env-progression",
            image: VERIFIED,
            manifestDigest: manifestDigest(environmentManifests(prodConfig)),
            featureFlags: { newCheckout: true, searchV2: false },
            env: { LOG_LEVEL: "info" },
            migrationImage: null,
            migrationCommand: null,
            migrationJobCommand: null,
            verification: { mode: "http", checksDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), passes: 3 },
            ...provenance,
        });
    });

    it("digests the checks' definition: the defaults unless a file replaces them, credential values redacted, the command in command mode", () => {
        const defaults = verificationOf(prodConfig);
        expect(verificationOf(prodConfig, defaultChecks)).toEqual(defaults);
        const fewer = verificationOf(prodConfig, defaultChecks.slice(0, 3));
        expect(fewer.checksDigest).not.toBe(defaults.checksDigest);
        // The same committed file resolves to each stack's own secret: the definition is the same.
        const withToken = (token: string) => [...defaultChecks, { name: "admin", path: "/admin", headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } }];
        expect(verificationOf(prodConfig, withToken("prod-secret")).checksDigest).toBe(verificationOf(stagingConfig, withToken("staging-secret")).checksDigest);
        expect(JSON.stringify(checksDefinition(withToken("prod-secret")))).not.toContain("prod-secret");
        const command = { ...devConfig, smoke: { ...devConfig.smoke, command: "true" } };
        expect(verificationOf(command)).toEqual({ mode: "command", checksDigest: "sha256:b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b", passes: 1 });
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

describe("decidePromotion: what vouches for a candidate", () => {
    it("passes what staging verified and its pods ran, says nothing, and names the record", () => {
        const d = decide();
        expect(d).toMatchObject({ status: "verified", differences: [], message: "", against: { origin: "staging" } });
        expect(promotionOutput(upstream(), d, undefined)).toEqual({
            source: STAGING,
            status: "verified",
            override: null,
            overridden: [],
            checkedAgainst: {
                origin: "staging",
                environment: "staging",
                passedAt: ago(DAY),
                trigger: "staging-trigger",
                image: VERIFIED,
                ranDigest: RAN,
                revision: "staging-revision",
                commit: "c".repeat(40),
                actor: "seed",
                runUrl: null,
            },
        });
    });

    it("refuses when upstream has no record, saying what to run first", () => {
        const d = decide({ upstream: { source: STAGING, stack: "staging", problem: "it has no verified record" } });
        expect(d.status).toBe("refused");
        expect(d.message).toBe(
            HEAD +
                "  - prod promotes from staging (organization/env-progression/staging), and it has no verified record: nothing proves that what prod is about to run works. " +
                "Fix: pulumi up -s staging first; prod then deploys what staging's smoke checks verified\n" +
                OVERRIDE_HINT,
        );
    });
});

describe("decidePromotion: the upstream is the environment table's", () => {
    it("refuses dev's record where prod must promote from staging (promoteFrom dev), naming the upstream", () => {
        const devRecord = seededRecord({ ...prodConfig, environment: "dev" }, TEST_KEY, { passedAt: ago(DAY) });
        const d = decide({ upstream: { source: "organization/env-progression/dev", stack: "dev", verified: devRecord } });
        expect(d.differences).toEqual([
            {
                field: "source",
                message:
                    "prod may deploy only what staging of project env-progression verified (the environment table's upstream), but the record at organization/env-progression/dev was verified by dev. " +
                    "Fix: pulumi config rm promoteFrom -s prod (promotes from staging of this project), or point promoteFrom at staging's stack; then pulumi up -s staging first",
            },
        ]);
    });

    it("refuses another project's staging, signed with the same key", () => {
        const foreign = stagingRecord({ project: "billing" });
        const d = decide({ upstream: { source: "organization/billing/staging", stack: "organization/billing/staging", verified: foreign } });
        expect(d.differences[0]!.message).toContain("but the record at organization/billing/staging was verified by project billing's staging.");
    });

    it("accepts staging's record from another stack or organization (a move), as long as it is staging's", () => {
        const moved = { source: "acme/env-progression/staging-eu", stack: "acme/env-progression/staging-eu", verified: stagingRecord() };
        expect(decide({ upstream: moved }).status).toBe("verified");
    });
});

describe("decidePromotion: a forged or stale record", () => {
    const refusedFor = (verified: unknown) => decide({ upstream: upstream(verified) });
    const SIGNED_FIX =
        "Fix: make sure every stack of the project holds the same promotionKey (pulumi config set --secret promotionKey \"<the project's key>\" -s staging), " +
        "then pulumi up -s staging so it exports a record signed with it; never edit a record by hand";

    it("refuses a record with one field flipped after signing (an edit in exported state), before comparing anything", () => {
        const d = refusedFor({ ...stagingRecord(), image: `${TAG}@${DIGEST_A}`, ranDigest: DIGEST_A });
        expect(d.differences).toEqual([
            {
                field: "record",
                message:
                    "prod promotes from staging (organization/env-progression/staging), and its verified record's signature does not match its content under this stack's promotionKey " +
                    "(the record was edited after it was signed, e.g. in exported state, or it was signed with another key): nothing proves that what prod is about to run works. " +
                    SIGNED_FIX,
            },
        ]);
        // Nothing but the signature is reported: the forged fields are never compared.
        expect(d.message).not.toContain(DIGEST_A);
    });

    it("refuses a record re-signed with another key, and one stripped of its signature", () => {
        const forged = signRecord({ ...stagingRecord(), verification: { mode: "http", checksDigest: verificationOf(prodConfig).checksDigest, passes: 3 } }, OTHER_KEY);
        expect(refusedFor(forged).differences[0]!.message).toContain("its verified record's signature does not match its content");
        const { signature: _s, ...stripped } = stagingRecord();
        expect(refusedFor(stripped).differences[0]!.message).toContain(`its verified record is not signed (it was written by an older version of this program, or by hand): nothing proves`);
        expect(refusedFor({ ...stagingRecord(), signature: "hmac-sha256:" + "0".repeat(64) }).status).toBe("refused");
    });

    it("refuses a genuine record replayed past promotionMaxAge, naming its age and how to refresh it", () => {
        const d = refusedFor(stagingRecord({ passedAt: ago(31 * DAY) }));
        expect(d.differences).toEqual([
            {
                field: "age",
                message:
                    `staging's record is 31d old (checks passed ${ago(31 * DAY)}), older than promotionMaxAge 30d: what it verified may no longer hold. ` +
                    "Fix: run staging's checks again, so it exports a fresh record: pulumi config set smokeEveryUp true -s staging && pulumi up -s staging",
            },
        ]);
        expect(decide({ upstream: upstream(stagingRecord({ passedAt: ago(2 * DAY) })), maxAgeMs: DAY }).differences[0]!.field).toBe("age");
    });

    it("refuses a record from the future, beyond clock skew", () => {
        const future = new Date(NOW.getTime() + 3600_000).toISOString();
        expect(refusedFor(stagingRecord({ passedAt: future })).differences[0]!.message).toBe(
            `staging's record says its checks passed ${future}, which is in the future (now ${NOW.toISOString()}). ` +
                "Fix: run staging's checks again, so it exports a fresh record: pulumi config set smokeEveryUp true -s staging && pulumi up -s staging",
        );
        expect(refusedFor(stagingRecord({ passedAt: new Date(NOW.getTime() + 60_000).toISOString() })).status).toBe("verified");
    });
});

describe("decidePromotion: the digest that ran", () => {
    it("refuses a digest no pod ran where staging verified a tag, and names the one that ran", () => {
        const tagged = stagingRecord({ image: TAG, ranDigest: RAN });
        const d = decide({ upstream: upstream(tagged), candidate: candidate({ image: `${TAG}@${DIGEST_A}` }) });
        expect(d.differences.map((x) => x.message)).toEqual([
            `image: prod would run ${TAG}@${DIGEST_A}, but staging's pods ran ${TAG}@${RAN} (it verified ${TAG}, checks passed ${ago(DAY)} at commit ${"c".repeat(40)}); ` +
                `only the digest staging's pods ran is verified. Fix: deploy what staging ran: pulumi config set image ${TAG}@${RAN} -s prod; ` +
                `or verify it in staging first: pulumi config set image ${TAG}@${DIGEST_A} -s staging && pulumi up -s staging`,
        ]);
        // The digest staging's pods ran is verified, whatever reference staging used.
        expect(decide({ upstream: upstream(tagged), candidate: candidate({ image: `${TAG}@${RAN}` }) }).status).toBe("verified");
    });

    it("refuses a record that names no digest that ran, where prod requires one", () => {
        const d = decide({ upstream: upstream(stagingRecord({ ranDigest: null })) });
        expect(d.differences.map((x) => x.field)).toEqual(["image"]);
        expect(d.differences[0]!.message).toContain("image: prod requires a digest, and staging's record names no digest its pods ran (ranDigest null;");
    });

    it("refuses the same digest under another repository name", () => {
        const d = decide({ candidate: candidate({ image: `mirror.example.com/web:1.4.2@${RAN}` }) });
        expect(d.differences[0]!.message).toContain(`from mirror.example.com/web, but staging verified ${VERIFIED} from ghcr.io/env-progression/web`);
    });

    it("staging after dev: a pinned digest must be what dev's pods ran, where dev's record names it; the same tag passes", () => {
        const devRecord = seededRecord(devConfig, TEST_KEY, { passedAt: ago(DAY), ranDigest: RAN });
        const fromDev = (image: string, r = devRecord) =>
            decidePromotion(input({ candidate: { stack: "staging", ...verifiedSubject({ ...stagingConfig, app: { ...stagingConfig.app, image } }, NO_PROVENANCE) }, upstreamEnvironment: "dev", upstream: { source: "organization/env-progression/dev", stack: "dev", verified: r }, rules: DEFAULT_RULES }));
        expect(fromDev(`${TAG}@${RAN}`).status).toBe("verified");
        expect(fromDev(TAG).status).toBe("verified");
        expect(fromDev(`${TAG}@${DIGEST_A}`).differences[0]!.message).toContain(`image: staging pins ${TAG}@${DIGEST_A}, but dev verified the tag ${TAG}, and its pods ran ${TAG}@${RAN}`);
        // dev's record names no digest that ran: staging (which requires none) may pin one of the same tag, and verifies it itself.
        const unknown = seededRecord(devConfig, TEST_KEY, { passedAt: ago(DAY), ranDigest: null });
        expect(fromDev(`${TAG}@${RAN}`, unknown).status).toBe("verified");
        expect(fromDev(`ghcr.io/env-progression/web:1.4.3@${RAN}`, unknown).status).toBe("refused");
        expect(fromDev("ghcr.io/env-progression/web:1.4.3").differences[0]!.message).toContain(`image: staging would run ghcr.io/env-progression/web:1.4.3, but dev verified ${TAG}`);
    });
});

describe("decidePromotion: how the upstream was verified", () => {
    it("refuses an upstream verified by a command alone (smokeCommand), naming the fix", () => {
        const command = stagingRecord({ verification: { mode: "command", checksDigest: `sha256:${"1".repeat(64)}`, passes: 1 }, checks: ["command: true"] });
        expect(decide({ upstream: upstream(command) }).differences).toEqual([
            {
                field: "verification",
                message:
                    'verification: staging was verified by a command alone (smokeCommand; checks ["command: true"]), whose exit status says nothing about what it tested; ' +
                    "prod needs staging to have passed the project's standard HTTP checks. Fix: pulumi config rm smokeCommand -s staging && pulumi up -s staging",
            },
        ]);
    });

    it("refuses fewer checks, or a replaced checks file, than the ones prod runs", () => {
        const fewer = stagingRecord({ verification: verificationOf(stagingConfig, defaultChecks.slice(0, 1)), checks: ["healthz"] });
        const d = decide({ upstream: upstream(fewer) });
        expect(d.differences.map((x) => x.field)).toEqual(["verification"]);
        expect(d.differences[0]!.message).toContain(`verification: staging ran other checks (${verificationOf(stagingConfig, defaultChecks.slice(0, 1)).checksDigest}: ["healthz"]) than the project's standard checks prod runs (`);
        // No parity rule relaxes it: the checks of a mandatory upstream are not a preference.
        const relaxed = parseRules(JSON.stringify({ keys: { smokeChecks: { class: "free", reason: "we tried to relax the checks" } } }), "parity-rules.json");
        expect(decide({ upstream: upstream(fewer), rules: relaxed }).status).toBe("refused");
        // prod with the same replaced file as staging: the same definition, verified.
        expect(decide({ upstream: upstream(fewer), candidate: candidate({ verification: verificationOf(prodConfig, defaultChecks.slice(0, 1)) }) }).status).toBe("verified");
    });

    it("refuses an upstream whose checks required no passing round", () => {
        const none = stagingRecord({ verification: { ...verificationOf(stagingConfig), passes: 0 } });
        expect(decide({ upstream: upstream(none) }).differences[0]!.message).toContain("verification: staging's checks required 0 passing rounds; at least 1 is needed.");
    });

    it("lets dev (advisory) be verified by a command: staging judges it by the parity rules, and dev is outside them", () => {
        const dev = seededRecord({ ...stagingConfig, environment: "dev", smoke: { ...stagingConfig.smoke, command: "true" } }, TEST_KEY, { passedAt: ago(DAY) });
        const d = decidePromotion(input({ candidate: { stack: "staging", ...verifiedSubject(stagingConfig, NO_PROVENANCE) }, upstreamEnvironment: "dev", upstream: { source: "organization/env-progression/dev", stack: "dev", verified: dev }, rules: DEFAULT_RULES }));
        expect(d.status).toBe("verified");
    });
});

describe("decidePromotion: everything that decides what runs, by the parity rules", () => {
    it("refuses a flag upstream verified on and prod has off, or a flag prod adds, with the parity rules' message", () => {
        const d = decide({ candidate: candidate({ featureFlags: { newCheckout: false, searchV2: false, darkMode: true } }) });
        expect(d.differences.map((x) => x.message)).toEqual([
            "featureFlags.darkMode must match in staging and prod, but staging (verified) has (unset), prod has true. " +
                `Fix: pulumi config rm --path 'featureFlags.darkMode' -s prod, or allow the difference in parity-rules.json ("featureFlags.darkMode": {"class": "free", "reason": "..."})`,
            "featureFlags.newCheckout must match in staging and prod, but staging (verified) has true, prod has false. " +
                `Fix: pulumi config set --path 'featureFlags.newCheckout' true -s prod, or allow the difference in parity-rules.json ("featureFlags.newCheckout": {"class": "free", "reason": "..."})`,
        ]);
    });

    it("refuses an env var staging ran with and prod does not (FAIL=db), per key; a rule with a reason frees one", () => {
        const d = decide({ upstream: upstream(stagingRecord({ env: { LOG_LEVEL: "info", FAIL: "db" } })) });
        expect(d.differences.map((x) => x.message)).toEqual([
            "env.FAIL must match in staging and prod, but staging (verified) has db, prod has (unset). " +
                `Fix: pulumi config set --path 'env.FAIL' db -s prod, or allow the difference in parity-rules.json ("env.FAIL": {"class": "free", "reason": "..."})`,
        ]);
        const free = parseRules(JSON.stringify({ keys: { "env.LOG_LEVEL": { class: "free", reason: "verbosity only changes what is logged" } } }), "parity-rules.json");
        expect(decide({ rules: free, upstream: upstream(stagingRecord({ env: { LOG_LEVEL: "debug" } })) }).status).toBe("verified");
        expect(decide({ upstream: upstream(stagingRecord({ env: { LOG_LEVEL: "debug" } })) }).status).toBe("refused");
    });

    it("refuses another migration version, image, command or Job command", () => {
        const d = decide({
            upstream: upstream(stagingRecord({ migrationVersion: "sha256:" + "4".repeat(64), migrationImage: "registry.example.com/migrate:1", migrationCommand: "./migrate.sh", migrationJobCommand: '["migrate","up"]' })),
            candidate: candidate({ migrationVersion: "sha256:" + "5".repeat(64), migrationImage: "registry.example.com/migrate:2", migrationCommand: "./other.sh", migrationJobCommand: null }),
        });
        expect(d.differences.map((x) => x.field)).toEqual(["migrationVersion", "migrationImage", "migrationCommand", "migrationJobCommand"]);
        expect(d.differences[1]!.message).toContain("migrationImage must match in staging and prod, but staging (verified) has registry.example.com/migrate:1, prod has registry.example.com/migrate:2");
    });

    it("compares flags only where the rule applies: staging after dev runs its own flags", () => {
        const dev = seededRecord({ ...stagingConfig, environment: "dev", app: { ...stagingConfig.app, featureFlags: { newCheckout: true, searchV2: true } } }, TEST_KEY, { passedAt: ago(DAY) });
        const d = decidePromotion(input({ candidate: { stack: "staging", ...verifiedSubject(stagingConfig, NO_PROVENANCE) }, upstreamEnvironment: "dev", upstream: { source: "organization/env-progression/dev", stack: "dev", verified: dev }, rules: DEFAULT_RULES }));
        expect(d).toMatchObject({ status: "verified", differences: [] });
    });
});

describe("decidePromotion: earlier verified records (rollback)", () => {
    const older = (changes: Partial<VerifiedRecord> = {}) => stagingRecord({ image: IMAGE_B.replace("registry.example.com/web", "ghcr.io/env-progression/web"), ranDigest: DIGEST_B, passedAt: ago(5 * DAY), ...changes });
    const rollback = candidate({ image: `ghcr.io/env-progression/web:1.2.4@${DIGEST_B}` });

    it("accepts a record in staging's verifiedHistory", () => {
        const d = decide({ candidate: rollback, upstream: upstream(stagingRecord(), [stagingRecord(), older()]) });
        expect(d).toMatchObject({ status: "verified", against: { origin: "staging's verifiedHistory[1]" } });
    });

    it("accepts a record in prod's own verifiedHistory, which must be prod's", () => {
        const ownRecord = seededRecord({ ...prodConfig, app: { ...prodConfig.app, image: rollback.image } }, TEST_KEY, { passedAt: ago(10 * DAY) });
        const own: RecordSource = { source: "organization/env-progression/prod", stack: "prod", history: [ownRecord] };
        expect(decide({ candidate: rollback, own })).toMatchObject({ status: "verified", against: { origin: "prod's own verifiedHistory[0]" } });
        // staging's record in prod's own history does not count as prod's.
        expect(decide({ candidate: rollback, own: { ...own, history: [older()] } }).status).toBe("refused");
    });

    it("ignores earlier records that are too old, forged or not the upstream's, and says none matched", () => {
        const tooOld = older({ passedAt: ago(40 * DAY) });
        const forged = { ...older(), passedAt: ago(DAY) };
        const devs = seededRecord({ ...prodConfig, environment: "dev", app: { ...prodConfig.app, image: rollback.image } }, TEST_KEY, { passedAt: ago(DAY) });
        const d = decide({ candidate: rollback, upstream: upstream(stagingRecord(), [tooOld, forged, devs]) });
        expect(d.status).toBe("refused");
        expect(d.differences.map((x) => x.field)).toEqual(["image"]);
        expect(d.message).toContain("\n  (checked as well: 3 earlier verified records of staging's and prod's verifiedHistory; none matches)\n");
    });
});

describe("decidePromotion: the override", () => {
    const unverified = `ghcr.io/env-progression/web:1.4.3@${DIGEST_A}`;
    const override = (changes: Partial<Override> = {}): Override => ({
        reason: "INC-4711: checkout outage hotfix, approved by alice",
        digest: DIGEST_A,
        expires: new Date(NOW.getTime() + DAY).toISOString(),
        ...changes,
    });

    it("lets exactly its digest through until it expires, warned, and exported as the output", () => {
        const o = override();
        const d = decide({ candidate: candidate({ image: unverified }), override: o });
        expect(d.status).toBe("overridden");
        expect(d.message).toMatch(
            /^PROMOTION OVERRIDDEN for prod \("INC-4711: checkout outage hotfix, approved by alice", digest sha256:a{64}, until 2026-12-08T12:00:00.000Z\): deploying what staging did not verify:\n {2}- image: prod would run /,
        );
        expect(d.message).toMatch(/Once staging has verified what prod runs: pulumi config rm promotionOverride -s prod$/);
        expect(promotionOutput(upstream(), d, o)).toMatchObject({ source: STAGING, status: "overridden", override: o, overridden: [d.differences[0]!.message] });
    });

    it("refuses a second digest, naming the one it covers", () => {
        const d = decide({ candidate: candidate({ image: IMAGE_B.replace("registry.example.com/web", "ghcr.io/env-progression/web") }), override: override() });
        expect(d.status).toBe("refused");
        expect(d.message).toContain(`The override does not apply: promotionOverride names ${DIGEST_A}, but prod would run ${DIGEST_B}; an override lets through exactly one digest.`);
    });

    it("refuses after its expiry, and one set to expire too far ahead", () => {
        const expired = decide({ candidate: candidate({ image: unverified }), override: override({ expires: ago(60_000) }) });
        expect(expired.status).toBe("refused");
        expect(expired.message).toContain(`The override does not apply: promotionOverride expired at ${ago(60_000)} (now ${NOW.toISOString()}). Fix: verify the image upstream and pulumi config rm promotionOverride -s prod;`);
        const far = decide({ candidate: candidate({ image: unverified }), override: override({ expires: new Date(NOW.getTime() + MAX_OVERRIDE_MS + 60_000).toISOString() }) });
        expect(far.message).toContain("more than 7d ahead");
    });

    it("lets nothing but the image through: a flag, a weaker upstream or a forged record is still refused", () => {
        const flag = decide({ candidate: candidate({ image: unverified, featureFlags: { newCheckout: false, searchV2: false } }), override: override() });
        expect(flag.status).toBe("refused");
        expect(flag.message).toContain("The override does not apply: promotionOverride lets through the image alone, and 1 other difference remains (featureFlags.newCheckout); fix those.");
        const command = stagingRecord({ verification: { mode: "command", checksDigest: `sha256:${"1".repeat(64)}`, passes: 1 } });
        expect(decide({ candidate: candidate({ image: unverified }), upstream: upstream(command), override: override() }).status).toBe("refused");
        expect(decide({ candidate: candidate({ image: unverified }), upstream: upstream({ ...stagingRecord(), ranDigest: DIGEST_A }), override: override() }).status).toBe("refused");
        expect(decide({ candidate: candidate({ image: unverified }), upstream: upstream(stagingRecord({ passedAt: ago(40 * DAY) })), override: override() }).status).toBe("refused");
    });

    it("an override with nothing to override asks to be removed, so none is left in place unnoticed", () => {
        const d = decide({ override: override() });
        expect(d.status).toBe("verified");
        expect(d.message).toBe(
            'promotionOverride is set ("INC-4711: checkout outage hotfix, approved by alice") but prod runs what was verified: nothing to override. Fix: pulumi config rm promotionOverride -s prod',
        );
    });
});

describe("the promotion config keys", () => {
    const check = (values: Record<string, unknown>, environment: "dev" | "staging" | "prod" = "prod") => {
        const read = new ConfigReader({ values }, environment);
        const promotion = validatePromotion(read, { stack: environment, environment, environmentKnown: true, appName: "web", namespace: `web-${environment}` });
        return { promotion, problems: read.problems };
    };
    const OVERRIDE = { reason: "INC-4711: hotfix approved by alice", digest: DIGEST_A, expires: "2026-12-09T18:00:00Z" };

    it("accepts a stack name or <org>/<project>/<stack>, a structured override (map or JSON text), and a max age", () => {
        expect(check({ promoteFrom: "acme/env-progression/staging-eu", promotionOverride: OVERRIDE, promotionMaxAge: "7d" })).toEqual({
            promotion: { from: "acme/env-progression/staging-eu", override: OVERRIDE, maxAgeMs: 7 * DAY },
            problems: [],
        });
        expect(check({ promotionOverride: JSON.stringify(OVERRIDE) }).promotion.override).toEqual(OVERRIDE);
        // An unquoted timestamp in a stack file reaches the program in Go's format: the same instant.
        expect(check({ promotionOverride: { ...OVERRIDE, expires: "2026-12-09 18:00:23.658 +0000 UTC" } }).promotion.override?.expires).toBe("2026-12-09T18:00:23.658Z");
        expect(instantOf("2026-12-09 20:00:00 +0200 CEST")).toBe("2026-12-09T18:00:00.000Z");
        expect(instantOf("2026-12-09")).toBeUndefined();
        expect(check({ promoteFrom: "", promotionOverride: "" })).toEqual({ promotion: { from: undefined, override: undefined, maxAgeMs: 30 * DAY }, problems: [] });
        expect(parseAgeMs("12h")).toBe(12 * 3600_000);
    });

    it.each([
        [{ promotionOverride: "INC-4711: hotfix approved by alice" }, 'env-progression:promotionOverride: "INC-4711: hotfix approved by alice" is not an override.'],
        [{ promotionOverride: { ...OVERRIDE, reason: "yes" } }, 'env-progression:promotionOverride.reason: "yes" is not a reason.'],
        [
            { promotionOverride: { ...OVERRIDE, reason: "hotfix" } },
            "Allowed: a sentence of at least 12 characters. Fix: pulumi config set --path 'promotionOverride.reason' 'INC-4711: hotfix for the checkout outage, approved by alice' -s prod",
        ],
        [{ promotionOverride: { ...OVERRIDE, digest: "sha256:abc" } }, 'env-progression:promotionOverride.digest: "sha256:abc" is not an image digest.'],
        [{ promotionOverride: { ...OVERRIDE, expires: "2026-12-09" } }, 'env-progression:promotionOverride.expires: "2026-12-09" is not a time.'],
        [{ promotionOverride: { ...OVERRIDE, scope: "all" } }, "env-progression:promotionOverride.scope: not a field of an override."],
        [{ promotionMaxAge: "1y" }, 'env-progression:promotionMaxAge: "1y" is not allowed. Allowed: a duration from 1h to 90d'],
        [{ promotionMaxAge: "120d" }, 'env-progression:promotionMaxAge: "120d" is not allowed.'],
        [{ promoteFrom: "env-progression/staging" }, 'env-progression:promoteFrom: "env-progression/staging" is not a stack name.'],
        [{ promoteFrom: "prod" }, 'env-progression:promoteFrom: "prod" is this stack itself'],
        [{ promoteFrom: "organization/env-progression/prod" }, "is this stack itself; a stack cannot verify its own promotion"],
        [{ promoteFrom: "organization/billing/staging" }, 'env-progression:promoteFrom: "organization/billing/staging" is a stack of project billing; its records vouch for another app.'],
    ])("refuses %j", (values, message) => {
        const { problems } = check(values);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(message);
    });

    it("refuses an override or promoteFrom where nothing is promoted", () => {
        expect(check({ promotionOverride: OVERRIDE, promoteFrom: "staging" }, "dev").problems).toEqual([
            'env-progression:promoteFrom: "staging" is set, but dev is the first environment and promotes from no stack. Fix: pulumi config rm promoteFrom -s dev',
            "env-progression:promotionOverride is set, but dev promotes from no stack, so there is nothing to override. Fix: pulumi config rm promotionOverride -s dev",
        ]);
    });

    it("refuses smokeCommand where enforcement is mandatory, and lets dev use it", () => {
        expect(check({ smokeCommand: "true" }, "staging").problems).toEqual([
            'env-progression:smokeCommand: "true" replaces the HTTP smoke checks, and staging is verified by the project\'s standard HTTP checks only: ' +
                "its record is what the next environment deploys (and what staging itself may roll back to), and a command's exit status says nothing about what it tested. " +
                "Allowed: smokeCommand in dev only; in staging the default checks or a committed smokeChecksFile. Fix: pulumi config rm smokeCommand -s staging",
        ]);
        expect(check({ smokeCommand: "true" }, "prod").problems).toHaveLength(1);
        expect(check({ smokeCommand: "true" }, "dev").problems).toEqual([]);
    });

    it("resolves the upstream: the table's, in this organization and project, or promoteFrom, and the environment it must be", () => {
        const cfg = (environment: "dev" | "staging" | "prod", from?: string) => ({ environment, promotion: { from } });
        expect(promotionSource(cfg("dev"), "organization", "env-progression")).toBeUndefined();
        expect(promotionSource(cfg("staging"), "organization", "env-progression")).toEqual({ name: "organization/env-progression/dev", stack: "dev", environment: "dev" });
        expect(promotionSource(cfg("prod"), "acme", "env-progression")).toEqual({ name: "acme/env-progression/staging", stack: "staging", environment: "staging" });
        expect(promotionSource(cfg("prod", "staging-eu"), "acme", "env-progression")).toEqual({ name: "acme/env-progression/staging-eu", stack: "staging-eu", environment: "staging" });
        expect(promotionSource(cfg("prod", "acme/env-progression/staging-eu"), "acme", "env-progression")).toEqual({
            name: "acme/env-progression/staging-eu",
            stack: "staging-eu",
            environment: "staging",
        });
        expect(promotionSource(cfg("prod", "dev"), "acme", "env-progression")).toEqual({ name: "acme/env-progression/dev", stack: "dev", environment: "staging" });
    });
});

describe("the promotionKey", () => {
    const FIX =
        'Fix: generate one key for the project and set the same value on every stack (dev, staging, prod): pulumi config set --secret promotionKey "$(openssl rand -base64 32)" -s prod, ' +
        "or in Pulumi Cloud import it from an ESC environment the stacks share";

    it("is required, and long enough to resist guessing; its value is never shown", () => {
        expect(promotionKeyProblem(undefined, "prod")).toBe(
            `env-progression:promotionKey is required and missing: every stack signs its verified record with it, and checks its upstream's signature with it. ${FIX}`,
        );
        expect(promotionKeyProblem("  ", "prod")).toContain("is required and missing");
        const short = promotionKeyProblem("hunter2-hunter2", "prod")!;
        expect(short).toBe(
            `env-progression:promotionKey is 15 characters (its value is not shown); a short key can be guessed, and then records forged. Allowed: at least 32 characters of random data. ${FIX}`,
        );
        expect(short).not.toContain("hunter2");
        expect(promotionKeyProblem(TEST_KEY, "prod")).toBeUndefined();
    });
});

describe("provenance", () => {
    const SHA = "0123456789abcdef0123456789abcdef01234567";
    const OTHER = "89abcdef0123456789abcdef0123456789abcdef";
    const git =
        (head: string | undefined, status = "") =>
        (args: readonly string[]) =>
            args[0] === "rev-parse" ? head : status;

    it("the commit: the promoted one under workflow_dispatch, GITHUB_SHA on push, the checkout's HEAD otherwise, marked dirty; null when unknown", () => {
        expect(commitOf({ PROGRESSION_PROMOTED_COMMIT: SHA, GITHUB_SHA: OTHER, GITHUB_EVENT_NAME: "workflow_dispatch" }, git(OTHER))).toBe(SHA);
        // A dispatch without the variable: GITHUB_SHA is the dispatched ref's head, not what was checked out.
        expect(commitOf({ GITHUB_SHA: OTHER, GITHUB_EVENT_NAME: "workflow_dispatch" }, git(`${SHA}\n`))).toBe(SHA);
        expect(commitOf({ GITHUB_SHA: SHA.toUpperCase(), GITHUB_EVENT_NAME: "push" }, git(undefined))).toBe(SHA);
        expect(commitOf({}, git(`${SHA}\n`))).toBe(SHA);
        expect(commitOf({}, git(`${SHA}\n`, " M index.ts\n"))).toBe(`${SHA}-dirty`);
        expect(commitOf({ GITHUB_SHA: "not-a-sha", PROGRESSION_PROMOTED_COMMIT: "main" }, git(undefined))).toBeNull();
        expect(commitOf({}, git("fatal: not a git repository"))).toBeNull();
    });

    it("the actor and the run's URL", () => {
        expect(actorOf({ GITHUB_ACTOR: "alice" }, "runner")).toBe("alice");
        expect(actorOf({}, "bob")).toBe("bob");
        expect(actorOf({}, undefined)).toBeNull();
        const actions = { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/env-progression", GITHUB_RUN_ID: "4242" };
        expect(runUrlOf(actions)).toBe("https://github.com/acme/env-progression/actions/runs/4242");
        expect(runUrlOf({ ...actions, GITHUB_RUN_ID: undefined })).toBeNull();
        expect(provenanceOf({ ...actions, GITHUB_ACTOR: "alice", GITHUB_SHA: SHA, GITHUB_EVENT_NAME: "push" }, git(undefined), "runner")).toEqual({
            commit: SHA,
            actor: "alice",
            runUrl: "https://github.com/acme/env-progression/actions/runs/4242",
        });
    });
});
