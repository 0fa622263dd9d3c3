// The mock monitor's requests, seen as the program sends them. Pulumi's mocks hand newResource a
// digest of a registration (no dependencies, no plugin version, no secret outputs); a test that
// asserts on those reads the request itself.
import type * as pulumiModule from "@pulumi/pulumi";

type Callback = (err: unknown, resp: any) => void;
type Method = "registerResource" | "readResource";

/**
 * Calls `tap` with each `method` request before the mock monitor answers it, and the function
 * `tap` returns, if any, with the answer. Installed on the monitor of the current mocks.
 */
export function tapMonitor(pulumi: typeof pulumiModule, method: Method, tap: (req: any) => ((resp: any) => void) | void): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<Method, (req: any, cb: Callback) => void>;
    const answer = monitor[method].bind(monitor);
    monitor[method] = (req, cb) => {
        const onResponse = tap(req);
        answer(req, (err, resp) => {
            if (resp && onResponse) onResponse(resp);
            cb(err, resp);
        });
    };
}
