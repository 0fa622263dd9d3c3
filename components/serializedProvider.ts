// The program's dynamic providers (SmokeRun, MigrationRun, LiveSwitch) are serialized into state
// and run by a separate Node process, `pulumi-resource-pulumi-nodejs`, with no TypeScript loader.
// They share these rules, and this module is how each is built:
//   1. create, update and diff only; never `read` or `delete`. create, update and diff run the
//      text of the program being deployed, but refresh (`read`) and destroy or removal (`delete`)
//      run the text saved in state by an earlier program, with that program's absolute paths: a
//      moved checkout, a CI runner or a colleague's machine would load a file that is not there.
//      Without them, refresh keeps the state as it is and delete just forgets the resource; what
//      such a resource leaves in the cluster lives in the environment's namespace, which the
//      stack deletes.
//   2. Capture a path, not code: the text holds the absolute path of the logic's compiled bundle
//      (dist/provider-<name>.js, built with the program by build/compile.js) and requires it inside
//      each method, so undici, the Kubernetes client, the engine and any secret stay out of state,
//      and the provider process loads plain JavaScript: no TypeScript loader.
//   3. The bundle must exist when a resource is registered: build/program.js builds dist/ before
//      the program runs. A component refuses to register a resource when its bundle is missing
//      (providerLogicProblem), instead of failing later in the provider process.
// tests/smoke/provider-serialized.test.ts runs the serialized text the way the engine does.
import * as fs from "node:fs";
import * as path from "node:path";
import type * as pulumi from "@pulumi/pulumi";

/** What a logic file exports as `logic`: the provider's methods on plain objects. */
export interface ProviderLogic<I, O> {
    create(inputs: I): Promise<{ id: string; outs: O }>;
    update(id: string, olds: O, news: I): Promise<{ outs: O }>;
    diff(id: string, olds: O, news: I): { changes: boolean; replaces: string[] };
}

/**
 * The compiled bundle of a provider's logic. The same path from a source file and from the program's
 * bundle: both sit one folder below the project root.
 */
export const providerBundle = (name: "smoke" | "migrate" | "switch"): string => path.join(__dirname, "..", "dist", `provider-${name}.js`);

/** The serialized provider for the logic bundled in `bundle`: thin delegates that load it when called. */
export function serializedProvider<I, O>(bundle: string): pulumi.dynamic.ResourceProvider<I, O> {
    const load = (): ProviderLogic<I, O> => {
        // Stack traces of the logic name its TypeScript source: the bundle links its source map.
        process.setSourceMapsEnabled(true);
        // `require`, not `import`: the closure serializer leaves `require` free, so it resolves in
        // the provider process at call time.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return (require(bundle) as { logic: ProviderLogic<I, O> }).logic;
    };
    return {
        async create(inputs) {
            return load().create(inputs);
        },
        async update(id, olds, news) {
            return load().update(id, olds, news);
        },
        diff(id, olds, news) {
            return Promise.resolve(load().diff(id, olds, news));
        },
    };
}

/** Rule 3: the logic's bundle must exist where the serialized text will look. Returns the problem, or undefined. */
export function providerLogicProblem(bundle: string): string | undefined {
    if (fs.existsSync(bundle)) return undefined;
    return (
        `the provider's compiled logic ${bundle} does not exist, so the serialized provider could not load it. ` +
        "build/program.js (package.json main) builds it before the program runs. Fix: run the program through it " +
        "(leave Pulumi.yaml without `main`), or build once with `node -e 'require(\"./build/compile\").ensureBuilt()'`"
    );
}
