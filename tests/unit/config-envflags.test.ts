// Env and flag keys: env, featureFlags. Both land in the app's ConfigMap.
import { describe, expect, it } from "vitest";
import { configData } from "../../components/app";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

describe("env", () => {
    it("keeps scalars as text", () => {
        expect(validateConfig(staging({ env: { LOG_LEVEL: "info", WORKERS: 4, DEBUG: false } }), "staging").app.env).toEqual({ LOG_LEVEL: "info", WORKERS: "4", DEBUG: "false" });
    });

    it("reads the JSON text the engine passes for a map", () => {
        expect(validateConfig(staging({ env: '{"LOG_LEVEL":"info"}' }), "staging").app.env).toEqual({ LOG_LEVEL: "info" });
    });

    it("rejects a secret-looking plain env var", () => {
        expect(problemsOf(staging({ env: { API_TOKEN: "abc" } }))[0]).toMatch(
            /^env-progression:env\.API_TOKEN: looks like a secret but is plain config .* Fix: pulumi config rm --path 'env\.API_TOKEN' -s staging && pulumi config set --secret API_TOKEN <value> -s staging, and add API_TOKEN to secretEnv$/,
        );
    });

    it("rejects a name that is not an env var, and a value that is not a scalar", () => {
        expect(problemsOf(staging({ env: { "1X": "a", NESTED: { a: 1 } } }))).toEqual([
            "env-progression:env.1X: \"1X\" is not an environment variable name. Allowed: letters, digits and '_', not starting with a digit. Fix: rename it in Pulumi.staging.yaml",
            "env-progression:env.NESTED: {\"a\":1} is not a scalar. Allowed: a string, number or boolean. Fix: pulumi config set --path 'env.NESTED' <value> -s staging",
        ]);
    });
});

describe("featureFlags", () => {
    it("rejects a flag that is not a boolean", () => {
        expect(problemsOf(staging({ featureFlags: { newCheckout: "yes" } }))).toEqual([
            "env-progression:featureFlags.newCheckout: \"yes\" is not a boolean. Allowed: true or false. Fix: pulumi config set --path 'featureFlags.newCheckout' true -s staging",
        ]);
    });

    it("rejects two flags that the ConfigMap would store under one name", () => {
        expect(problemsOf(staging({ featureFlags: { newCheckout: true, new_checkout: false } }))).toEqual([
            "env-progression:featureFlags.new_checkout: \"new_checkout\" and \"newCheckout\" are both stored as FLAG_NEW_CHECKOUT, so one would silently replace the other. Allowed: flag names that differ once written as FLAG_<NAME>. Fix: pulumi config rm --path 'featureFlags.new_checkout' -s staging, or rename one of them",
        ]);
    });

    it("rejects a flag that an env var of the same stored name would replace", () => {
        expect(problemsOf(staging({ env: { FLAG_SEARCH: "x" }, featureFlags: { search: true } }))).toEqual([
            "env-progression:featureFlags.search: is stored as FLAG_SEARCH, which env.FLAG_SEARCH also sets, so one would silently replace the other. Fix: pulumi config rm --path 'env.FLAG_SEARCH' -s staging, or rename the flag",
        ]);
    });

    it("stores each accepted flag under the name the validator checked", () => {
        const cfg = validateConfig(staging({ featureFlags: { newCheckout: true, searchV2: "false" } }), "staging");
        expect(configData(cfg.app)).toEqual({ FLAG_NEW_CHECKOUT: "true", FLAG_SEARCH_V2: "false" });
    });
});
