// App keys: image, port, replicas, serviceType, rolloutTimeout.
import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/schema";
import { problemsOf, staging } from "./configFixture";

describe("image, port, replicas, serviceType, rolloutTimeout", () => {
    it.each([
        ["replicas not an integer", { replicas: "2.5" }, "env-progression:replicas: 2.5 is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging"],
        ["replicas below the environment minimum", { replicas: "1" }, "env-progression:replicas: 1 is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging"],
        ["replicas in hexadecimal", { replicas: "0x10" }, 'env-progression:replicas: "0x10" is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging'],
        ["replicas in exponent form", { replicas: "1e1" }, 'env-progression:replicas: "1e1" is not allowed. Allowed: an integer from 2 to 1000 (staging runs at least 2). Fix: pulumi config set replicas 2 -s staging'],
        ["port out of range", { port: "0" }, "env-progression:port: 0 is not allowed. Allowed: an integer from 1 to 65535. Fix: pulumi config set port 8080 -s staging"],
        ["a bad service type", { serviceType: "Ingress" }, 'env-progression:serviceType: "Ingress" is not allowed. Allowed: ClusterIP, NodePort, LoadBalancer. Fix: pulumi config set serviceType ClusterIP -s staging'],
        ["a malformed rollout timeout", { rolloutTimeout: "ten minutes" }, 'env-progression:rolloutTimeout: "ten minutes" is not a duration. Allowed: a positive number with ms, s or m (e.g. 10m). Fix: pulumi config set rolloutTimeout 10m -s staging'],
        ["a rollout timeout no pod can meet", { rolloutTimeout: "2s" }, 'env-progression:rolloutTimeout: "2s" is not allowed. Allowed: a duration from 10s to 60m. Fix: pulumi config set rolloutTimeout 10m -s staging'],
        ["a rollout timeout past an hour", { rolloutTimeout: "90m" }, 'env-progression:rolloutTimeout: "90m" is not allowed. Allowed: a duration from 10s to 60m. Fix: pulumi config set rolloutTimeout 10m -s staging'],
    ])("rejects %s", (_case, overrides, message) => {
        expect(problemsOf(staging(overrides))).toEqual([message]);
    });

    it("reads the rollout timeout in the config's duration syntax, 10 minutes when unset", () => {
        expect(validateConfig(staging({ rolloutTimeout: "90s" }), "staging").app.rolloutTimeoutMs).toBe(90_000);
        expect(validateConfig(staging(), "staging").app.rolloutTimeoutMs).toBe(600_000);
    });

    it("reads integers as the decimal text the engine passes", () => {
        expect(validateConfig(staging({ replicas: "12", port: "9090" }), "staging").app).toMatchObject({ replicas: 12, port: 9090 });
    });

    it("reports a missing image and replicas with the environment's own example", () => {
        expect(problemsOf(staging({ image: undefined, replicas: undefined }), "staging")).toEqual([
            "env-progression:image is required and missing. Allowed: an image reference such as registry/app:1.2.3 or registry/app@sha256:<digest>. Fix: pulumi config set image registry.example.com/app:1.2.3 -s staging",
            "env-progression:replicas is required and missing. Allowed: an integer from 2 to 1000 for staging. Fix: pulumi config set replicas 2 -s staging",
        ]);
    });

    it("names prod's digest rule in the image fix", () => {
        const raw = staging({ environment: "prod", kubeContext: "prod", image: "registry.example.com/web:1.2.3" });
        expect(problemsOf(raw, "prod")).toEqual([
            'env-progression:image: "registry.example.com/web:1.2.3" has no digest; prod runs exactly the bytes staging verified. Allowed: name:tag@sha256:<64 hex>. Fix: pulumi config set image registry.example.com/app:1.2.3@sha256:<digest> -s prod',
        ]);
    });
});
