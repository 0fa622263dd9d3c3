// The group-validator shape: each group reads only its own keys through a ConfigReader and returns
// its slice, recording problems rather than throwing, so each is testable alone and a new group
// plugs in as one line in config/schema.ts's GROUPS.
import { describe, expect, it } from "vitest";
import { validateApp } from "../../config/groups/app";
import { validateCluster } from "../../config/groups/cluster";
import { validateIdentity } from "../../config/groups/identity";
import { validateNetwork } from "../../config/groups/network";
import { validateSmoke } from "../../config/groups/smoke";
import { ConfigReader } from "../../config/reader";
import type { GroupValidator } from "../../config/schema";
import { staging } from "./configFixture";

/** Every key with a broken value: each group must report its own and no other. */
const broken = staging({
    environment: "prd",
    image: "web latest",
    cpuRequest: "128K",
    featureFlags: { a: "x" },
    kubeServer: "nope",
    egress: [":::/8"],
    smokeDeadline: "120m",
});

function run<T>(group: GroupValidator<T>) {
    const read = new ConfigReader(broken, "staging");
    const id = validateIdentity(new ConfigReader(staging(), "staging"));
    const slice = group(read, id);
    return { slice, keys: read.problems.map((p) => p.split(/[: ]/, 2)[1]) };
}

describe("group validators", () => {
    it("identity reports its keys and decides the environment the others are judged by", () => {
        const read = new ConfigReader(broken, "staging");
        expect(validateIdentity(read)).toEqual({ stack: "staging", environment: "prod", environmentKnown: false, appName: "web", namespace: "web-prod" });
        expect(read.problems.map((p) => p.split(/[: ]/, 2)[1])).toEqual(["environment"]);
    });

    it.each([
        ["app", validateApp, ["image", "cpuRequest", "featureFlags.a"]],
        ["cluster", validateCluster, ["kubeServer"]],
        ["network", validateNetwork, ["egress"]],
        ["smoke", validateSmoke, ["smokeDeadline"]],
    ] as const)("%s reports only its own keys and never throws", (_name, group, keys) => {
        expect(run(group as GroupValidator<unknown>).keys).toEqual(keys);
    });

    it("returns a usable slice even when its keys are wrong, falling back to the defaults", () => {
        expect(run(validateSmoke).slice).toMatchObject({ deadlineMs: 120_000, timeoutMs: 5000 });
        expect(run(validateApp).slice.resources.requests.cpu).toBe("100m");
    });
});
