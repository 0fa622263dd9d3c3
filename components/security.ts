// The security contexts of every pod the program runs: Pod Security `restricted`, a fixed
// non-root user, and a read-only root filesystem. The app and the migration Job share them, so a
// migration never runs with more than the app may. Functions, so each manifest gets its own copy.

/** Pod level: non-root with a fixed uid and gid, the runtime's default seccomp profile. */
export function restrictedPodSecurityContext() {
    return { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } };
}

/** Container level: no privilege, no escalation, every capability dropped, the root read-only. */
export function restrictedContainerSecurityContext() {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}
