// Secret keys: secretEnv and the secrets it names. Values are never read, only presence and storage.
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/schema";
import { DECLARED, problemsOf, staging } from "./configFixture";

describe("secretEnv", () => {
    it("rejects a secret stored in plaintext, naming the command that encrypts it", () => {
        expect(problemsOf(staging({ DATABASE_URL: "postgres://u:p@db/app" }, []))).toEqual([
            "env-progression:DATABASE_URL is stored in plaintext in Pulumi.staging.yaml, but it is a secret (listed in secretEnv). Fix: pulumi config set --secret DATABASE_URL <value> -s staging (this encrypts it), and rotate the value: it was readable in the file",
        ]);
    });

    it("judges storage only where it was seen: the engine's values alone say nothing", () => {
        const raw = staging({ DATABASE_URL: "<secret>" });
        expect(problemsOf({ values: raw.values, declaredSecrets: DECLARED })).toEqual([]);
        expect(problemsOf({ values: raw.values, declaredSecrets: DECLARED, secretKeys: new Set(), plainKeys: new Set(["image"]) })).toEqual([]);
    });

    it("reports a missing secret with the command that sets it", () => {
        expect(problemsOf(staging({ DATABASE_URL: undefined }, []))).toEqual([
            "env-progression:DATABASE_URL is a secret the app needs (listed in secretEnv) but is not set for stack 'staging'. Fix: pulumi config set --secret DATABASE_URL <value> -s staging",
        ]);
    });

    it("requires every name to be declared secret in Pulumi.yaml, where the engine enforces it", () => {
        const raw = staging({ secretEnv: ["DATABASE_URL", "STRIPE_KEY"], STRIPE_KEY: "<secret>" }, ["DATABASE_URL", "STRIPE_KEY"]);
        expect(problemsOf(raw)).toEqual([
            'env-progression:secretEnv: STRIPE_KEY is not declared in Pulumi.yaml with secret: true, so nothing stops its value being stored in plaintext. Fix: add to Pulumi.yaml under config: "STRIPE_KEY: { type: string, secret: true }"',
        ]);
    });

    it("rejects a secret that a plain env var also sets", () => {
        expect(problemsOf(staging({ env: { DATABASE_URL: "x" } }))).toEqual([
            "env-progression:secretEnv: DATABASE_URL is also a plain env var or flag, so the Secret would silently replace it. Fix: pulumi config rm --path 'env.DATABASE_URL' -s staging, or rename one of them",
        ]);
    });

    it("lets a stack leave a declared secret unmounted", () => {
        expect(validateConfig(staging({ API_TOKEN: "<secret>" }, ["DATABASE_URL", "API_TOKEN"]), "staging").app.secretEnv).toEqual(["DATABASE_URL"]);
    });

    it("rejects an undeclared secret-looking key", () => {
        expect(problemsOf(staging({ dbPassword: "hunter2" }))).toEqual([
            'env-progression:dbPassword: looks like a secret, but no secretEnv lists it, so the app never sees it, and Pulumi.yaml does not declare it secret: true, so nothing keeps it encrypted. Fix: add dbPassword to secretEnv, declare it in Pulumi.yaml as "dbPassword: { type: string, secret: true }" and pulumi config set --secret dbPassword <value> -s staging; or pulumi config rm dbPassword -s staging',
        ]);
    });
});

describe("settings stored as secrets", () => {
    it("says plainly that a setting cannot be kept secret", () => {
        expect(problemsOf(staging({}, ["DATABASE_URL", "smokeBaseUrl"]))).toEqual([
            'env-progression:smokeBaseUrl is stored as a secret, but it is a setting: its value appears in plain text in manifests, stack outputs and reports, so it cannot be kept secret. Allowed: a plain value (credentials go in secretEnv, or in a check header as {"secret": "NAME"}). Fix: pulumi config set smokeBaseUrl <value> -s staging (without --secret)',
        ]);
    });

    it("validates a setting's real value, never the placeholder of a secret", () => {
        expect(problemsOf(staging({ smokeBaseUrl: "https://staging.web.example.com" }, ["DATABASE_URL"]))).toEqual([]);
    });
});
