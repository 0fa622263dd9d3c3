// Identity keys: environment, allowStackMismatch, appName, namespace.
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

describe("environment", () => {
    it.each(["prd", "Prod", "qa"])("rejects the unknown environment %j", (env) => {
        const [first] = problemsOf(staging({ environment: env }));
        expect(first).toMatch(new RegExp(`^env-progression:environment: "${env}" is not an environment\\. Allowed: dev, staging, prod \\(lower case\\)\\. Fix: pulumi config set environment \\w+ -s staging$`));
    });

    it("suggests the environment the user probably meant", () => {
        expect(problemsOf(staging({ environment: "Prod" }))[0]).toContain("Fix: pulumi config set environment prod -s staging");
        expect(problemsOf(staging({ environment: "prd" }))[0]).toContain("Fix: pulumi config set environment prod -s staging");
        expect(problemsOf(staging({ environment: "qa" }))[0]).toContain("Fix: pulumi config set environment staging -s staging");
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

    it("judges a stack without an environment by the environment its name says, not by dev's rules", () => {
        const problems = problemsOf(staging({ environment: undefined, replicas: "1" }), "prod");
        expect(problems[0]).toBe("env-progression:environment is required and missing. Allowed: dev | staging | prod. Fix: pulumi config set environment prod -s prod");
        expect(problems).toContain("env-progression:replicas: 1 is not allowed. Allowed: an integer from 3 to 1000 (prod runs at least 3). Fix: pulumi config set replicas 3 -s prod");
    });
});

describe("appName and namespace", () => {
    it("defaults the namespace to <appName>-<environment>", () => {
        expect(validateConfig(staging({ appName: "shop" }), "staging").namespace).toBe("shop-staging");
    });

    it.each([
        ["namespace not RFC 1123", { namespace: "Web_Staging" }, 'env-progression:namespace: "Web_Staging" is not a valid namespace name. Allowed: an RFC 1123 label (lower-case letters, digits and \'-\', at most 63 characters, starting and ending alphanumeric). Fix: pulumi config set namespace web-staging -s staging'],
        ["a system namespace", { namespace: "kube-system" }, 'env-progression:namespace: "kube-system" is a system namespace; an environment needs a namespace of its own. Fix: pulumi config set namespace web-staging -s staging'],
        ["an app name with capitals", { appName: "Web" }, "env-progression:appName: \"Web\" is not allowed. Allowed: lower-case letters, digits and '-', at most 40 characters, starting and ending alphanumeric. Fix: pulumi config set appName web -s staging"],
    ])("rejects %s", (_case, overrides, message) => {
        expect(problemsOf(staging(overrides))[0]).toBe(message);
    });
});
