// npm run github-environments: the requests that make the GitHub environments what the
// environment table says, checked without sending any.
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { environmentRequests, ghCommand, githubEnvironments, parseReviewers } from "../../delivery/githubEnvironments";

const table = { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES };
const reviewers = [{ type: "Team" as const, id: 42 }];

describe("the GitHub environments from the table", () => {
    const requests = environmentRequests(table, "acme/env-progression", reviewers);
    const put = (env: string) => requests.find((r) => r.method === "PUT" && r.path === `repos/acme/env-progression/environments/${env}`)!;

    it("has one per environment, and the policy pack's", () => {
        expect(githubEnvironments(table)).toEqual([
            { name: "dev", approval: false },
            { name: "staging", approval: false },
            { name: "prod", approval: true },
            { name: "policy-pack", approval: false },
        ]);
    });

    it("makes prod wait for its reviewers, who may not approve their own run, with no admin bypass", () => {
        expect(put("prod").body).toEqual({
            deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
            can_admins_bypass: false,
            reviewers: [{ type: "Team", id: 42 }],
            prevent_self_review: true,
        });
        for (const env of ["dev", "staging", "policy-pack"]) expect(put(env).body).toMatchObject({ reviewers: [], can_admins_bypass: false });
    });

    it("lets every environment deploy from main only, so no branch's job receives its OIDC subject", () => {
        for (const env of [...ENVIRONMENTS, "policy-pack"]) {
            expect(put(env).body!["deployment_branch_policy"]).toEqual({ protected_branches: false, custom_branch_policies: true });
            expect(requests).toContainEqual({
                method: "POST",
                path: `repos/acme/env-progression/environments/${env}/deployment-branch-policies`,
                body: { name: "main", type: "branch" },
            });
        }
        // A rerun does not add the branch policy twice.
        const again = environmentRequests(table, "acme/env-progression", reviewers, {
            dev: ["main"],
            staging: ["main"],
            prod: ["main"],
            "policy-pack": ["main"],
        });
        expect(again.filter((r) => r.method === "POST")).toEqual([]);
    });

    it("refuses to leave prod without a reviewer, naming the fix", () => {
        expect(() => environmentRequests(table, "acme/env-progression", [])).toThrow(
            "prod requires approval, and no reviewer was given. Fix: --reviewers team:<slug>",
        );
        expect(() =>
            environmentRequests(
                table,
                "acme/env-progression",
                Array.from({ length: 7 }, (_, i) => ({ type: "User" as const, id: i })),
            ),
        ).toThrow("7 reviewers were given; GitHub allows at most 6");
    });

    it("sends each request with gh api, the body on stdin", () => {
        expect(ghCommand(put("prod"))).toEqual(["api", "-X", "PUT", "repos/acme/env-progression/environments/prod", "--input", "-"]);
        expect(parseReviewers("team:platform, user:alice")).toEqual([
            { kind: "team", name: "platform" },
            { kind: "user", name: "alice" },
        ]);
        expect(() => parseReviewers("platform")).toThrow('reviewer "platform" is not team:<slug> or user:<login>');
    });
});
