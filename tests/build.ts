// Every test project runs against the program as `pulumi up` runs it: compiled into dist/ by
// build/compile.js, which the components' provider bundles point at. Built once per run, and only
// when a source changed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBuilt } = require("../build/compile") as { ensureBuilt: () => string | undefined };

export default function setup(): void {
    ensureBuilt();
}
