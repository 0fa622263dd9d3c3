// Preloaded into the program's Node process (Pulumi.yaml: nodeargs --require), before the SDK's
// runner loads the SDK: V8's compile cache then covers the SDK, gRPC and protobuf as well as the
// program, and an `up` skips compiling them again (about 0.05 s of a no-change `up`). The cache
// is dist/compile-cache, the project's own folder, never a shared temporary one: a cache another
// user could write would be code this run executes. Entries are keyed by the file's path and
// content hash. build/program.js requires this file too, for a language host that does not pass
// nodeargs; a module runs once per process.
"use strict";
require("node:module").enableCompileCache(require("node:path").join(__dirname, "..", "dist", "compile-cache"));
