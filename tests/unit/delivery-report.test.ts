// What a delivery job reports (delivery/report.ts): its summary names what ran where and the
// promotion record the stack exports; a failure becomes an annotation, a summary section and a
// webhook message.
import { describe, expect, it } from "vitest";
import { factsFromEnv, failureNotice, jobSummary, parseRecord } from "../../delivery/report";

const SHA = "9f2c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c";
const env = {
    GITHUB_WORKFLOW: "deliver",
    GITHUB_JOB: "up-prod",
    GITHUB_SHA: SHA,
    GITHUB_ACTOR: "alice",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: "acme/env-progression",
    GITHUB_RUN_ID: "4242",
    RUNNER_OS: "Linux",
    STACK: "prod",
    PULUMI_ORGANIZATION: "acme",
    PULUMI_VERSION: "3.276.0",
    DEPLOY_ENVIRONMENT: "prod",
    PACK_VERSION: "0.1.0",
    PACK_DIGEST: `sha256:${"e".repeat(64)}`,
    JOB_STATUS: "success",
};
const record = {
    environment: "prod",
    image: "ghcr.io/env-progression/web:1.4.2@sha256:3b1f",
    ranDigest: "sha256:3b1f",
    passedAt: "2026-12-02T10:00:00.000Z",
    commit: SHA,
    actor: "alice",
    runUrl: "https://github.com/acme/env-progression/actions/runs/4242",
};

describe("the job summary", () => {
    it("says what ran where, and the promotion record: digest, when the checks passed, commit and actor", () => {
        const text = jobSummary(factsFromEnv(env), parseRecord(JSON.stringify(record)));
        for (const line of [
            "### up-prod: prod (success)",
            "| stack | `acme/prod` |",
            "| GitHub environment | `prod` |",
            "| Pulumi CLI | `3.276.0` |",
            `| policy pack | \`0.1.0\` \`sha256:${"e".repeat(64)}\` |`,
            `| commit | \`${SHA}\` |`,
            "| actor | `alice` |",
            "| run | https://github.com/acme/env-progression/actions/runs/4242 |",
            "| digest the pods ran | `sha256:3b1f` |",
            "| checks passed at | `2026-12-02T10:00:00.000Z` |",
        ])
            expect(text).toContain(line);
        expect(text).not.toContain("is of commit");
    });

    it("says when the record is an earlier run's, and when there is none", () => {
        const older = jobSummary(factsFromEnv({ ...env, JOB_STATUS: "failure" }), { ...record, commit: "1".repeat(40) });
        expect(older).toContain(`this run's checks did not pass, so the record is the last verified one`);
        expect(jobSummary(factsFromEnv({ ...env, DEPLOY_ENVIRONMENT: "" }), parseRecord(""))).toContain("none (read-only credentials)");
        expect(parseRecord("not json")).toBeUndefined();
    });

    it("takes the commit the program records: the promoted one under a dispatch, never the dispatched ref's head", () => {
        const dispatched = { ...env, GITHUB_EVENT_NAME: "workflow_dispatch", PROGRESSION_PROMOTED_COMMIT: "a".repeat(40) };
        expect(factsFromEnv(dispatched).commit).toBe("a".repeat(40));
        expect(factsFromEnv({ ...env, GITHUB_EVENT_NAME: "workflow_dispatch", GITHUB_SHA: SHA }, () => undefined).commit).toBe("?");
    });
});

describe("a failure notice", () => {
    it("is an error annotation, a summary section and a webhook message naming the job, stack, commit, actor and run", () => {
        const n = failureNotice(factsFromEnv({ ...env, JOB_STATUS: "failure" }));
        expect(n.annotation).toBe(
            `::error title=up-prod failure::deliver / up-prod: prod failed at ${SHA} (actor alice): https://github.com/acme/env-progression/actions/runs/4242`,
        );
        expect(n.summary).toContain("#### Failed");
        expect(n.payload).toMatchObject({
            stack: "acme/prod",
            status: "failure",
            commit: SHA,
            actor: "alice",
            run: "https://github.com/acme/env-progression/actions/runs/4242",
        });
        expect(failureNotice(factsFromEnv({ ...env, JOB_STATUS: "cancelled" })).payload["text"]).toContain("prod was cancelled at");
    });

    it("escapes what would end the annotation early", () => {
        const n = failureNotice(factsFromEnv({ ...env, GITHUB_JOB: "up:prod,x", JOB_STATUS: "failure", STACK: "prod\n::warning::x" }));
        expect(n.annotation.split("\n")).toHaveLength(1);
        expect(n.annotation).toMatch(/^::error title=up prod x failure::/);
    });
});
