// A prod update that may not read staging's outputs (a Pulumi Deployments deployment token is
// scoped to its own stack) is refused with the role it needs, not with the backend's bare error.
import { describe, expect, it } from "vitest";
import { upstreamReadProblem } from "../../components/promotion";

describe("an upstream the update may not read", () => {
    it("names the permission and where to grant it, on a 403", () => {
        const problem = upstreamReadProblem("[403] Forbidden: insufficient permissions to read stack", "staging");
        expect(problem).toBe(
            "it cannot be read: the credentials of this update may not read staging. Fix: give them stack read on staging: " +
                "in GitHub Actions the environment's team gets it from delivery/deployments (TeamStackPermission); " +
                "in Pulumi Deployments choose a Pulumi Cloud role with stack:read on staging for this stack's deployments (Settings, Deploy, Advanced: Pulumi Cloud role; docs/delivery.md)",
        );
    });

    it("says a 404 may be either a missing stack or missing access, as Pulumi Cloud hides stacks a token cannot read", () => {
        const problem = upstreamReadProblem("[404] Not Found: stack 'acme/env-progression/staging' not found", "staging");
        expect(problem).toMatch(
            /^it was not found: either it does not exist \(create it first: pulumi stack init staging\) or the credentials of this update may not read staging\./,
        );
    });

    it("keeps a file backend's unknown stack as a missing stack, and leaves other failures to the StackReference", () => {
        expect(upstreamReadProblem('unknown stack "organization/env-progression/staging"', "staging")).toBe(
            "it does not exist in this backend (create it first: pulumi stack init staging, and set its config)",
        );
        expect(upstreamReadProblem("connection reset by peer", "staging")).toBeUndefined();
    });
});
